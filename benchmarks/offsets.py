"""Macro-F1 per split and collection with a model's kept label-mix offsets, and with them taken out.

    python benchmarks/offsets.py --model models/default

A kept offset b is folded into its head, so the calibrated log-probabilities are z/T + b minus a
per-sentence constant; subtracting b again gives the labels the model had before the offset. Used
for the shipping rules, which compare models without offsets fitted on the rows being compared.
"""

from __future__ import annotations

import argparse

import numpy as np
from common import ROOT  # benchmarks/common.py (the script's own directory)
from sklearn.metrics import f1_score

from stance.corpus import load_labelled
from stance.predictor import Predictor


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models/default"))
    args = ap.parse_args()
    p = Predictor(args.model)
    prior = p.meta.get("prior_offsets", {})
    print("| split | collection | n | certainty | (no offset) | attribution | (no offset) | mean | (no offset) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for split in ("dev", "test"):
        rows = load_labelled(ROOT / f"training/data/{split}.jsonl")
        probs = p.probabilities([r.text for r in rows], [r.context for r in rows])
        for coll in sorted({r.collection for r in rows}):
            idx = [i for i, r in enumerate(rows) if r.collection == coll]
            cells, with_, without = [], [], []
            for axis, labels in p.labels.items():
                gold = [labels.index(rows[i].label(axis)) for i in idx]
                logp = np.log(probs[axis][idx] + 1e-12)
                kept = prior.get(axis, {}).get("kept", False)
                offset = np.array(prior[axis]["offset"]) if kept else np.zeros(len(labels))
                f_with = f1_score(gold, logp.argmax(1), average="macro")
                f_without = f1_score(gold, (logp - offset).argmax(1), average="macro")
                cells += [f"{f_with:.4f}", f"{f_without:.4f}"]
                with_.append(f_with)
                without.append(f_without)
            cells += [f"{np.mean(with_):.4f}", f"{np.mean(without):.4f}"]
            print(f"| {split} | {coll or '(first)'} | {len(idx)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
