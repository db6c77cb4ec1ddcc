"""Accuracy of the model against both baselines on held-out data, as a markdown table.

    python benchmarks/accuracy.py --model models/default --write docs/benchmarks.md

Sets: the corpus test split; its part from each collection (the first batches, unchanged since the
first model, and the real-copy batches); its held-out-topic part (sports, culture: never in
train/dev) and in-distribution part; and the real seed articles. Same predictions as
`stance evaluate`. --previous adds an earlier model's rows.
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
from collections.abc import Callable
from pathlib import Path

from common import ROOT, replace_section  # benchmarks/common.py (the script's own directory)

from stance.corpus import HELDOUT_TOPICS, LabelledSentence, load_labelled, write_labelled
from stance.evaluation import evaluate
from stance.labels import AXES
from stance.metrics import paired_bootstrap_macro_f1

SEEDS = "seed articles (real)"
COLLECTION_NAMES = {"": "first collection (batches 01-08)", "realcopy": "real-copy collection (batches 09-14)",
                    "realcopy2": "second real-copy collection (batches 15-20)"}


def _in_collection(name: str) -> Callable[[LabelledSentence], bool]:
    return lambda r: r.collection == name


def _seed_intervals(preds: dict[str, dict[str, list[str]]], model: str, rows: list[LabelledSentence]) -> str:
    """The seed row's uncertainty: 93 sentences, so one sentence moves macro-F1 by 0.01-0.03."""
    out = ["Seed articles, 95% paired bootstrap intervals (2,000 resamples of the sentences): the model's "
           "macro-F1, and its difference to each baseline.", "",
           "| axis | stance model | minus rules | minus tfidf |", "|---|---|---|---|"]
    for axis, labels in AXES.items():
        gold = [r.label(axis) for r in rows]
        vs = {base: paired_bootstrap_macro_f1(gold, preds[model][axis], preds[base][axis], labels)
              for base in ("rules", "tfidf")}
        own = vs["rules"]  # the model's own interval: the same resamples in every comparison
        cells = [f"{own['macro_f1']:.3f} [{own['low']:.3f}, {own['high']:.3f}]"]
        cells += [f"{b['diff']:+.3f} [{b['diff_low']:+.3f}, {b['diff_high']:+.3f}]" for b in vs.values()]
        out.append(f"| {axis} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def _shown(model: str) -> str:
    path = Path(model).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models/default"))
    ap.add_argument("--previous", default=None,
                    help="an earlier model to show beside it (e.g. the one trained on the first collection)")
    ap.add_argument("--train-data", default=str(ROOT / "training/data/train.jsonl"))
    ap.add_argument("--split", choices=["test", "dev"], default="test",
                    help="dev: the same parts of the dev split (model choices; no seed rows)")
    ap.add_argument("--write", default=None, help="replace the accuracy section of this markdown file")
    args = ap.parse_args()
    if args.write and args.split != "test":
        ap.error("--write records the test split only")
    split = ROOT / f"training/data/{args.split}.jsonl"
    test = load_labelled(split)
    tmp_dir = tempfile.TemporaryDirectory()  # removed when the script ends
    tmp = Path(tmp_dir.name)
    subsets = {f"{args.split}: {COLLECTION_NAMES.get(c, c + ' collection')}": _in_collection(c)
               for c in sorted({r.collection for r in test})}
    subsets |= {
        f"{args.split}: held-out topics": lambda r: r.topic in HELDOUT_TOPICS,
        f"{args.split}: in-distribution": lambda r: r.topic not in HELDOUT_TOPICS,
    }
    sets = {f"corpus {args.split} (all)": split}
    for k, (name, keep) in enumerate(subsets.items()):
        rows = [r for r in test if keep(r)]
        if rows:
            write_labelled(rows, tmp / f"{k}.jsonl")
            sets[name] = tmp / f"{k}.jsonl"
    if args.split == "test":
        sets[SEEDS] = ROOT / "seeds/labels.jsonl"
    systems = {args.model: "stance model"}
    if args.previous:
        systems[args.previous] = "previous model"
    systems |= {"rules": "baseline: rules", "tfidf": "baseline: tfidf"}
    lines = ["| data | n | system | certainty acc | certainty macro-F1 | attribution acc | attribution macro-F1 |",
             "|---|---|---|---|---|---|---|"]
    seed_preds: dict[str, dict[str, list[str]]] = {}
    for name, path in sets.items():
        for system, label in systems.items():
            res = evaluate(system, path, train_data=args.train_data)
            m = res.metrics
            if name == SEEDS:
                seed_preds[system] = res.predictions
            c, a = m["certainty"], m["attribution"]
            bold = (lambda x: f"**{x:.3f}**") if system == args.model else (lambda x: f"{x:.3f}")
            lines.append(f"| {name} | {c['n']} | {label} | {c['accuracy']:.3f} | {bold(c['macro_f1'])} | "
                         f"{a['accuracy']:.3f} | {bold(a['macro_f1'])} |")
    if seed_preds:
        lines += ["", _seed_intervals(seed_preds, args.model, load_labelled(sets[SEEDS]))]
    table = "\n".join(lines)
    previous = f" --previous {_shown(args.previous)}" if args.previous else ""
    tail = " --write docs/benchmarks.md" if args.split == "test" else " --split dev"
    section = (f"{table}\n\nProduced by `python benchmarks/accuracy.py --model {_shown(args.model)}{previous}"
               f"{tail}` on {datetime.date.today()}.\n")
    print(section)
    if args.write:
        replace_section(args.write, "accuracy", section)

if __name__ == "__main__":
    main()
