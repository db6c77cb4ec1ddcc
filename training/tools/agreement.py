"""Inter-annotator agreement: the corpus's first-pass labels vs a blind second pass.

Usage: python training/tools/agreement.py SECOND_PASS.jsonl [...] [--first LABELS.jsonl] [--out FILE]
Reads first-pass labels from training/data/raw and its collections (never from the adjudicated
splits), or with --first from a labelled file (e.g. seed labels) or another annotator's pass; prints Cohen's kappa and
raw agreement per axis, and writes every disagreement (default:
training/annotation/disagreements.jsonl) for adjudication.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sklearn.metrics import cohen_kappa_score, confusion_matrix

from stance.corpus import load_labelled, load_raw
from stance.labels import AXES

ROOT = Path(__file__).resolve().parents[2]


def read_pass(paths: list[Path]) -> dict[str, dict[str, str]]:
    """An annotation pass: {"id": "article#index", "certainty", "attribution"} per line."""
    out = {}
    for p in paths:
        for line in Path(p).read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                out[rec["id"]] = rec
    return out


def main(paths: list[Path], first_path: Path | None, out: Path) -> None:
    if first_path is not None and '"id"' in first_path.read_text(encoding="utf-8").split("\n", 1)[0]:
        first = read_pass([first_path])  # another annotator's pass: no texts to show
    else:
        rows = load_labelled(first_path) if first_path else load_raw(ROOT / "training/data/raw")
        first = {f"{r.article_id}#{r.sentence_index}": {"certainty": r.certainty, "attribution": r.attribution,
                                                         "text": r.text, "context": r.context}
                 for r in rows}
    second = read_pass(paths)
    ids = sorted(second)
    missing = [i for i in ids if i not in first]
    if missing:
        raise SystemExit(f"ids not in the corpus: {missing[:5]}")
    print(f"items: {len(ids)} (of {len(first)} corpus sentences, {len(ids) / len(first):.1%})")
    for axis, labels in AXES.items():
        a = [first[i][axis] for i in ids]
        b = [second[i][axis] for i in ids]
        kappa = cohen_kappa_score(a, b, labels=list(labels))
        agree = sum(x == y for x, y in zip(a, b, strict=True)) / len(ids)
        print(f"{axis}: kappa {kappa:.3f}, raw agreement {agree:.3f}")
        print("  confusion (rows first pass, columns second pass):", list(labels))
        for lab, row in zip(labels, confusion_matrix(a, b, labels=list(labels)), strict=True):
            print(f"    {lab:10s} {row.tolist()}")
    with out.open("w", encoding="utf-8") as fh:
        for i in ids:
            r = first[i]
            diff = {ax: (r[ax], second[i][ax]) for ax in AXES if r[ax] != second[i][ax]}
            if diff:
                fh.write(json.dumps({"id": i, "context": r.get("context", ""), "text": r.get("text", ""),
                                     **{f"{ax}_first": v[0] for ax, v in diff.items()},
                                     **{f"{ax}_second": v[1] for ax, v in diff.items()}},
                                    ensure_ascii=False) + "\n")
    print(f"disagreements written to {out}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("second", nargs="+", type=Path)
    ap.add_argument("--first", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "training/annotation/disagreements.jsonl")
    args = ap.parse_args()
    main(args.second, args.first, args.out)
