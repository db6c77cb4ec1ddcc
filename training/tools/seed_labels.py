"""Write seeds/labels.jsonl: the project's own labels for every body sentence of the seed articles.

First-pass labels (LABELS below) were assigned by hand against docs/codebook.md (decisions in
training/ANNOTATION.md); the disagreements with a blind second pass were adjudicated, and those
decisions (training/annotation/seed_adjudications.jsonl) are applied on top. Texts, indices and
contexts come from stance's own segmenter, so they match what `stance score` produces. Re-run
after a segmenter change; it refuses to write if the sentence count moved.

    python training/tools/seed_labels.py                       # seeds/labels.jsonl (adjudicated)
    python training/tools/seed_labels.py --first-pass -o FILE  # the first pass, for comparison
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from stance.corpus import LabelledSentence, apply_adjudications, write_labelled
from stance.document import prepare
from stance.readers import Article

C, B, U = "confirmed", "believed", "unclear"
N, A, O = "named", "anonymous", "none"

LABELS: dict[str, list[tuple[str, str]]] = {
    "000_6a4537974038aad6": [
        (C, N), (C, A), (B, A), (C, N), (U, A), (C, O), (C, O), (C, A), (C, N), (C, O), (C, O),
        (C, N), (C, O),
    ],
    "001_b466b2da8fae8e1c": [
        (B, A), (C, A), (U, A), (C, O), (B, A), (C, A), (C, A), (B, A), (C, N), (C, N), (U, O),
        (C, A), (U, O), (C, N), (C, O), (C, A), (B, A), (B, A), (C, A), (C, N), (C, N), (C, N),
        (C, O), (C, N),
    ],
    "002_325aec625226946b": [
        (U, O), (C, A), (U, N), (C, N), (C, N), (C, N), (C, N), (C, N), (C, O), (C, N), (C, N),
        (B, N), (C, O), (U, O), (C, N), (C, N), (C, N), (C, N), (C, O), (C, O), (U, N), (C, N),
        (C, N), (U, N),
    ],
    "003_6f19afad46f3fd0b": [
        (C, O), (U, A), (C, A), (U, A), (C, N), (C, N), (B, O), (C, A), (B, A), (B, A), (C, A),
        (C, O), (C, N), (C, N), (U, N), (C, A), (B, N), (C, A), (U, A),
    ],
    "004_a039f286250d0bdd": [
        (U, O), (C, A), (U, N), (C, N), (C, N), (C, N), (C, O), (B, N), (U, O), (C, O), (C, O),
        (C, O), (U, A),
    ],
}


def main(first_pass: bool, out: Path | None) -> None:
    root = Path(__file__).resolve().parents[2]
    seeds = root / "seeds"
    manifest = {r["file"]: r for r in csv.DictReader((seeds / "manifest.csv").open(encoding="utf-8"))}
    rows: list[LabelledSentence] = []
    for stem, labels in LABELS.items():
        meta = manifest[stem + ".txt"]
        art = Article(id=stem, text=(seeds / f"{stem}.txt").read_text(encoding="utf-8"),
                      outlet=meta["outlet"], title=meta["title"] or None, story=meta["story"])
        doc = prepare(art)
        body = [(s, ctx) for s, ctx in zip(doc.sentences, doc.contexts, strict=True) if not s.is_headline]
        if len(body) != len(labels):
            raise SystemExit(f"{stem}: {len(body)} body sentences but {len(labels)} labels")
        for (s, ctx), (cert, attr) in zip(body, labels, strict=True):
            rows.append(LabelledSentence(article_id=stem, sentence_index=s.index, text=s.text,
                                         certainty=cert, attribution=attr, context=ctx,
                                         outlet=meta["outlet"], topic="diplomacy",
                                         outlet_style="", story_id=meta["story"]))
    if not first_pass:
        changed = apply_adjudications(rows, root / "training/annotation/seed_adjudications.jsonl")
        print(f"adjudications changed {changed} labels")
    out = out or seeds / "labels.jsonl"
    write_labelled(rows, out)
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="write the seed labels")
    ap.add_argument("--first-pass", action="store_true", help="without the adjudications")
    ap.add_argument("-o", "--output", type=Path, default=None)
    args = ap.parse_args()
    main(args.first_pass, args.output)
