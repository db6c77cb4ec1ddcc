"""`stance evaluate`: score a labelled file with a model or a baseline and report the metrics.

Outputs (when an output directory is given): metrics.json, confusion.png (one matrix per axis)
and errors.jsonl (every sentence misclassified on either axis, with gold, predicted and probs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stance.calibration import expected_calibration_error
from stance.corpus import LabelledSentence, load_labelled
from stance.io import atomic_write_text
from stance.labels import AXES, label2id
from stance.metrics import all_metrics, plot_confusion

BASELINES = ("rules", "tfidf")


@dataclass
class EvalResult:
    name: str
    metrics: dict[str, Any]
    predictions: dict[str, list[str]]
    probs: dict[str, np.ndarray] | None = None
    files: dict[str, Path] = field(default_factory=dict)


def predict_with(model: str, rows: list[LabelledSentence], train_data: str | None = None,
                 backend: str = "torch") -> tuple[dict[str, list[str]], dict[str, np.ndarray] | None, str]:
    """Predictions of a model directory or a named baseline ('rules', 'tfidf')."""
    if model == "rules":
        from stance.baselines import RuleBaseline

        return RuleBaseline().predict(rows), None, "rules"
    if model == "tfidf":
        from stance.baselines import TfidfBaseline

        if not train_data:
            raise ValueError("the tfidf baseline needs --train-data (a labelled JSONL to fit on)")
        return TfidfBaseline().fit(load_labelled(train_data)).predict(rows), None, "tfidf"
    from stance.modeling import check_labels_match
    from stance.predictor import Predictor

    pred = Predictor.from_pretrained(model, backend=backend)
    check_labels_match(pred.labels, {a: {r.label(a) for r in rows} for a in AXES}, str(model))
    probs = pred.probabilities([r.text for r in rows], [r.context for r in rows])
    labels = {axis: [pred.labels[axis][i] for i in probs[axis].argmax(axis=1)] for axis in AXES}
    return labels, probs, Path(model).name or str(model)


def evaluate(model: str, data: str | Path, out_dir: str | Path | None = None,
             train_data: str | None = None, backend: str = "torch") -> EvalResult:
    rows = load_labelled(data)
    preds, probs, name = predict_with(model, rows, train_data, backend)
    gold = {axis: [r.label(axis) for r in rows] for axis in AXES}
    metrics = all_metrics(gold, preds)
    if probs is not None:
        for axis in AXES:
            y = np.array([label2id(axis)[g] for g in gold[axis]])
            metrics[axis]["ece"] = expected_calibration_error(probs[axis], y)
    result = EvalResult(name, metrics, preds, probs)
    if out_dir is not None:
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        result.files["metrics"] = d / "metrics.json"
        atomic_write_text(result.files["metrics"], json.dumps(
            {"model": str(model), "data": str(data), **metrics}, indent=2) + "\n")
        result.files["confusion"] = d / "confusion.png"
        plot_confusion(metrics, str(result.files["confusion"]), f"{name} on {Path(data).name}")
        result.files["errors"] = d / "errors.jsonl"
        atomic_write_text(result.files["errors"], _errors_jsonl(rows, preds, probs))
    return result


def _errors_jsonl(rows: list[LabelledSentence], preds: dict[str, list[str]],
                  probs: dict[str, np.ndarray] | None) -> str:
    lines = []
    for i, r in enumerate(rows):
        wrong = [a for a in AXES if preds[a][i] != r.label(a)]
        if not wrong:
            continue
        rec: dict[str, Any] = {"article_id": r.article_id, "sentence_index": r.sentence_index,
                               "text": r.text, "context": r.context, "wrong": wrong}
        for a in AXES:
            rec[f"gold_{a}"] = r.label(a)
            rec[f"pred_{a}"] = preds[a][i]
            if probs is not None:
                rec[f"p_{a}"] = {lab: round(float(p), 4) for lab, p in zip(AXES[a], probs[a][i], strict=True)}
        lines.append(json.dumps(rec, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")
