"""Accuracy of the model against both baselines on held-out data, as a markdown table.

    python benchmarks/accuracy.py --model models/default --write docs/benchmarks.md

Sets: the corpus test split, its held-out-topic part (sports, culture: never in train/dev), its
in-distribution part, and the real seed articles. Same predictions as `stance evaluate`.
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
from pathlib import Path

from common import ROOT, replace_section  # benchmarks/common.py (the script's own directory)

from stance.corpus import HELDOUT_TOPICS, load_labelled, write_labelled
from stance.evaluation import evaluate


def _shown(model: str) -> str:
    path = Path(model).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models/default"))
    ap.add_argument("--train-data", default=str(ROOT / "training/data/train.jsonl"))
    ap.add_argument("--write", default=None, help="replace the accuracy section of this markdown file")
    args = ap.parse_args()
    test = load_labelled(ROOT / "training/data/test.jsonl")
    tmp_dir = tempfile.TemporaryDirectory()  # removed when the script ends
    tmp = Path(tmp_dir.name)
    write_labelled([r for r in test if r.topic in HELDOUT_TOPICS], tmp / "heldout.jsonl")
    write_labelled([r for r in test if r.topic not in HELDOUT_TOPICS], tmp / "indist.jsonl")
    sets = {"corpus test (all)": ROOT / "training/data/test.jsonl",
            "test: held-out topics": tmp / "heldout.jsonl",
            "test: in-distribution": tmp / "indist.jsonl",
            "seed articles (real)": ROOT / "seeds/labels.jsonl"}
    lines = ["| data | n | system | certainty acc | certainty macro-F1 | attribution acc | attribution macro-F1 |",
             "|---|---|---|---|---|---|---|"]
    for name, path in sets.items():
        for system in (args.model, "rules", "tfidf"):
            m = evaluate(system, path, train_data=args.train_data).metrics
            label = "stance model" if system == args.model else f"baseline: {system}"
            c, a = m["certainty"], m["attribution"]
            bold = (lambda x: f"**{x:.3f}**") if system == args.model else (lambda x: f"{x:.3f}")
            lines.append(f"| {name} | {c['n']} | {label} | {c['accuracy']:.3f} | {bold(c['macro_f1'])} | "
                         f"{a['accuracy']:.3f} | {bold(a['macro_f1'])} |")
    table = "\n".join(lines)
    section = (f"{table}\n\nProduced by `python benchmarks/accuracy.py --model {_shown(args.model)}"
               f" --write docs/benchmarks.md` on {datetime.date.today()}.\n")
    print(section)
    if args.write:
        replace_section(args.write, "accuracy", section)

if __name__ == "__main__":
    main()
