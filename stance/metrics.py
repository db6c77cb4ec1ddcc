"""Per-axis accuracy, macro-F1, per-class precision/recall/F1 and confusion matrices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from stance.labels import AXES


def axis_metrics(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=list(labels), zero_division=0)
    return {
        "accuracy": float(accuracy_score(gold, pred)),
        "macro_f1": float(f1_score(gold, pred, labels=list(labels), average="macro", zero_division=0)),
        "per_class": {lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                            "support": int(s[i])} for i, lab in enumerate(labels)},
        "confusion": confusion_matrix(gold, pred, labels=list(labels)).tolist(),
        "labels": list(labels),
        "n": len(gold),
    }


def all_metrics(gold: dict[str, Sequence[str]], pred: dict[str, Sequence[str]]) -> dict[str, Any]:
    out = {axis: axis_metrics(gold[axis], pred[axis], AXES[axis]) for axis in AXES}
    out["mean_macro_f1"] = float(np.mean([out[a]["macro_f1"] for a in AXES]))
    return out


def paired_bootstrap_macro_f1(gold: Sequence[str], pred: Sequence[str], other: Sequence[str],
                              labels: Sequence[str], n_boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """95% percentile intervals for a system's macro-F1 and its difference to another system,
    resampling sentences with both systems scored on the same resamples (small test sets, such as
    93 seed sentences, move by several points from one sentence)."""
    g, a, b = (np.asarray(x) for x in (gold, pred, other))
    rng = np.random.default_rng(seed)
    labs = list(labels)

    def f1(idx: np.ndarray, p: np.ndarray) -> float:
        return float(f1_score(g[idx], p[idx], labels=labs, average="macro", zero_division=0))

    full = np.arange(len(g))
    samples = np.array([(f1(i, a), f1(i, b)) for i in (rng.integers(0, len(g), len(g)) for _ in range(n_boot))])
    diff = samples[:, 0] - samples[:, 1]
    return {"macro_f1": f1(full, a), "low": float(np.percentile(samples[:, 0], 2.5)),
            "high": float(np.percentile(samples[:, 0], 97.5)), "diff": f1(full, a) - f1(full, b),
            "diff_low": float(np.percentile(diff, 2.5)), "diff_high": float(np.percentile(diff, 97.5))}


def plot_confusion(metrics: dict[str, Any], path: str, title: str = "") -> None:
    """One PNG with a confusion matrix per axis (rows: gold, columns: predicted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stance.io import atomic_open

    fig, axes = plt.subplots(1, len(AXES), figsize=(5.2 * len(AXES), 4.4))
    for ax, axis in zip(np.atleast_1d(axes), AXES, strict=True):
        m = np.array(metrics[axis]["confusion"])
        labels = metrics[axis]["labels"]
        norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(labels)), labels, rotation=20)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        ax.set_title(f"{axis}  (macro-F1 {metrics[axis]['macro_f1']:.3f})")
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(j, i, f"{m[i, j]}\n{norm[i, j]:.0%}", ha="center", va="center",
                        color="white" if norm[i, j] > 0.5 else "black", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)
