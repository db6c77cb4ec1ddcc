"""The model card (README.md in a model directory), written from the model's own stance.json."""

from __future__ import annotations

import json
from pathlib import Path

from stance.io import atomic_write_text
from stance.labels import AXES
from stance.modeling import META


def write_model_card(model_dir: str | Path) -> Path:
    d = Path(model_dir)
    meta = json.loads((d / META).read_text(encoding="utf-8"))
    cfg = meta.get("config", {})
    lines = [
        "# stance sentence model",
        "",
        "Labels each news sentence on two axes defined by the stance codebook (docs/codebook.md):",
        "",
    ]
    lines += [f"- **{axis}**: {', '.join(f'`{x}`' for x in labs)}" for axis, labs in meta["labels"].items()]
    lines += [
        "",
        "## Model",
        "",
        f"- encoder: `{meta.get('base_model')}` fine-tuned jointly with one linear head per axis; "
        f"sentence vector = {meta.get('pooling')}",
        "- input: the sentence"
        + (" with its preceding sentence as a second segment" if meta.get("use_context") else " alone")
        + f", at most {meta.get('max_length')} tokens"
        + (" (context cut first)" if meta.get("use_context") else ""),
        f"- weights: `{meta.get('weights_dtype')}` safetensors; loads as float32 with "
        "`stance.Predictor.from_pretrained(path)` (no pickle, no remote code)",
        "- calibrated softmax temperatures (fitted on dev): "
        + ", ".join(f"{k} {v:.3f}" for k, v in meta.get("temperature", {}).items()),
        f"- seed {meta.get('seed')}, best epoch {meta.get('best_epoch')}, training time "
        f"{meta.get('train_seconds')} s, library versions: "
        + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()),
        "",
        "## Data",
        "",
        f"Trained on `{cfg.get('data', {}).get('train')}` ({meta.get('train_examples')} sentences"
        + (f"; collections left out of train and dev: {cfg['data']['exclude_collections']}"
           if cfg.get("data", {}).get("exclude_collections") else "")
        + "): "
        "an original corpus of invented news articles written and labelled for this project "
        "(see training/DATASHEET.md). The seed articles are never trained on.",
        "",
        "## Metrics (macro-F1 / accuracy)",
        "",
        "| set | n | certainty F1 | certainty acc | attribution F1 | attribution acc |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in meta.get("metrics", {}).items():
        c, a = m["certainty"], m["attribution"]
        lines.append(f"| {name} | {c['n']} | {c['macro_f1']:.3f} | {c['accuracy']:.3f} | "
                     f"{a['macro_f1']:.3f} | {a['accuracy']:.3f} |")
    cal = meta.get("calibration", {})
    if cal:
        lines += ["", "## Calibration (dev, 15-bin ECE)", "", "| head | temperature | ECE before | ECE after |",
                  "|---|---|---|---|"]
        lines += [f"| {axis} | {v['temperature']:.3f} | {v['ece_before']:.4f} | {v['ece_after']:.4f} |"
                  for axis, v in cal.items() if axis in AXES]
    prior = meta.get("prior_offsets")
    if prior:
        what = f"`{prior['data']}`"
        if prior["collections"]:
            what += f" (collections {', '.join(prior['collections'])})"
        lines += ["", f"## Label-mix offsets ({what}, {prior['n']} sentences)", "",
                  "Per-class logit offsets fitted after temperature; kept (folded into the head's bias) "
                  "only where 5-fold article-grouped cross-validation raised macro-F1 and the rest of dev "
                  "lost at most 0.01.", "",
                  "| head | offsets | CV macro-F1 without | with | rest of dev drop | kept |",
                  "|---|---|---|---|---|---|"]
        for axis, v in prior.items():
            if axis in AXES:
                lines.append(f"| {axis} | {', '.join(f'{x:+.3f}' for x in v['offset'])} | "
                             f"{v['cv_macro_f1_without']:.4f} | {v['cv_macro_f1_with']:.4f} | "
                             f"{v['rest_of_dev_macro_f1_drop']:+.4f} | {'yes' if v['kept'] else 'no'} |")
    if meta.get("fp16_macro_f1_drift"):
        lines += ["", "float16 weights vs float32, absolute macro-F1 difference: "
                  + json.dumps(meta["fp16_macro_f1_drift"])]
    lines += [
        "",
        "## Limits",
        "",
        "- Trained on invented English articles in eight outlet styles; real copy (wire rewrites,"
        " scraped pages with leftover boilerplate, non-US conventions) is harder: compare the seed"
        " results with the test split.",
        "- Labels describe how a sentence presents its claim, not whether it is true.",
        "- Aggregates over few sentences are noisy; use the bootstrap intervals in `outlets.csv`.",
        "",
    ]
    atomic_write_text(d / "README.md", "\n".join(lines))
    return d / "README.md"
