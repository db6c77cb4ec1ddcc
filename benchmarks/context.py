"""Context ablation: the same training config with and without the preceding sentence.

    python benchmarks/context.py --with models/default --without runs/noctx --write docs/benchmarks.md

Train the second model first (same config and seed, one switch):

    stance train configs/default.toml model.use_context=false -o runs/noctx

Reports macro-F1 on dev, test and the seeds, accuracy on the sentences the context is for
(attributed to someone, named or anonymous, with no attribution cue of their own: quote
continuations, "The official added..." pointing back), and the torch forward speed of each,
since a text pair costs about twice the tokens of a sentence alone.
"""

from __future__ import annotations

import argparse
import datetime
import re
import time

from common import ROOT, replace_section  # benchmarks/common.py (the script's own directory)

from stance.corpus import LabelledSentence, load_labelled
from stance.labels import AXES
from stance.metrics import all_metrics
from stance.predictor import Predictor

# a sentence with one of these words carries its own attribution; without one, an attributed
# sentence can only be read right with the sentence before it
OWN_CUE = re.compile(r"\b(said|says|say|saying|told|tells|according|stated|states|added|adds|noted|"
                     r"reported|reports|claimed|claims|announced|wrote|writes|confirmed|insisted|"
                     r"argued|acknowledged|spokes\w+|sources?|officials?)\b", re.IGNORECASE)

SETS = {"dev": "training/data/dev.jsonl", "test": "training/data/test.jsonl",
        "seeds": "seeds/labels.jsonl"}


def context_dependent(rows: list[LabelledSentence]) -> list[int]:
    return [i for i, r in enumerate(rows) if r.attribution != "none" and not OWN_CUE.search(r.text)]


def run(model: str) -> dict[str, object]:
    pred = Predictor.from_pretrained(model)
    out: dict[str, object] = {"use_context": pred.use_context}
    for name, path in SETS.items():
        rows = load_labelled(ROOT / path)
        t0 = time.perf_counter()
        probs = pred.probabilities([r.text for r in rows], [r.context for r in rows])
        seconds = time.perf_counter() - t0
        labels = {a: [pred.labels[a][k] for k in probs[a].argmax(axis=1)] for a in AXES}
        gold = {a: [r.label(a) for r in rows] for a in AXES}
        metrics = all_metrics(gold, labels)
        sub = context_dependent(rows)
        out[name] = {
            "macro_f1": {a: metrics[a]["macro_f1"] for a in AXES},
            "n": len(rows),
            "dependent_n": len(sub),
            "dependent_acc": {a: sum(labels[a][i] == gold[a][i] for i in sub) / max(1, len(sub))
                              for a in AXES},
            "rate": len(rows) / seconds,
        }
    return out


def render(res: dict[str, dict], args: argparse.Namespace) -> str:
    lines = ["| data | model | certainty macro-F1 | attribution macro-F1 | context-dependent sentences "
             "| their attribution acc | their certainty acc |", "|---|---|---:|---:|---:|---:|---:|"]
    for name in SETS:
        for label, r in res.items():
            m = r[name]
            lines.append(f"| {name} ({m['n']}) | {label} | {m['macro_f1']['certainty']:.3f} | "
                         f"{m['macro_f1']['attribution']:.3f} | {m['dependent_n']} | "
                         f"{m['dependent_acc']['attribution']:.3f} | {m['dependent_acc']['certainty']:.3f} |")
    rates = ", ".join(f"{label} {r['test']['rate']:.0f} sentences/s" for label, r in res.items())
    lines += ["", f"Torch fp32 forward on the test split, batch 64: {rates}.", "",
              f"Produced by `python benchmarks/context.py --with {args.with_} --without {args.without} "
              f"--write docs/benchmarks.md` on {datetime.date.today()}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--with", dest="with_", default="models/default", help="model trained with context")
    ap.add_argument("--without", default="runs/noctx", help="same config, model.use_context=false")
    ap.add_argument("--write", default=None, help="replace the context section of this markdown file")
    args = ap.parse_args()
    res = {"sentence + preceding sentence": run(args.with_), "sentence alone": run(args.without)}
    for label, r in res.items():
        want = label.startswith("sentence +")
        if r["use_context"] != want:
            raise SystemExit(f"{label}: the model's use_context is {r['use_context']}, expected {want}")
    body = render(res, args)
    print(body)
    if args.write:
        replace_section(args.write, "context", body)


if __name__ == "__main__":
    main()
