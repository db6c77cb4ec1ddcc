"""Temperature scaling per head, label-mix offsets, and expected calibration error (ECE).

One scalar per head keeps the argmax (so labels and F1 are unchanged) while making the softmax
probabilities mean what they say on held-out data (Guo et al., 2017). Per-class logit offsets
(a prior-shift correction, Saerens et al., 2002) do change labels: they move the model towards the
label mix of the copy it will score, so they are kept only when cross-validation says they help.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import log_softmax, softmax


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    lp = log_softmax(logits / temperature, axis=1)
    return float(-lp[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] minimising dev negative log-likelihood."""
    res = minimize_scalar(lambda lt: nll(logits, labels, float(np.exp(lt))),
                          bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE with equal-width confidence bins."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return float(ece)


def calibration_report(logits: np.ndarray, labels: np.ndarray, temperature: float) -> dict[str, float]:
    return {
        "temperature": temperature,
        "ece_before": expected_calibration_error(softmax(logits, axis=1), labels),
        "ece_after": expected_calibration_error(softmax(logits / temperature, axis=1), labels),
        "nll_before": nll(logits, labels),
        "nll_after": nll(logits, labels, temperature),
    }


def fit_logit_offset(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-class offsets b (b[0] = 0) minimising the NLL of softmax(logits + b)."""
    k = logits.shape[1]
    rows = np.arange(len(labels))

    def loss(b: np.ndarray) -> float:
        return float(-log_softmax(logits + np.r_[0.0, b], axis=1)[rows, labels].mean())

    res = minimize(loss, np.zeros(k - 1), method="L-BFGS-B", bounds=[(-5.0, 5.0)] * (k - 1))
    return np.r_[0.0, res.x]


def cv_offset_macro_f1(logits: np.ndarray, labels: np.ndarray, groups: np.ndarray, folds: int = 5
                       ) -> tuple[float, float]:
    """Macro-F1 without offsets, and with offsets fitted on the other folds (article-grouped)."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import GroupKFold

    k = logits.shape[1]
    pred = np.zeros(len(labels), dtype=int)
    for train, held in GroupKFold(min(folds, len(set(groups)))).split(logits, labels, groups):
        pred[held] = (logits[held] + fit_logit_offset(logits[train], labels[train])).argmax(1)
    base = f1_score(labels, logits.argmax(1), average="macro", labels=range(k), zero_division=0)
    with_offset = f1_score(labels, pred, average="macro", labels=range(k), zero_division=0)
    return float(base), float(with_offset)
