"""Bootstrap intervals for small test sets."""

from __future__ import annotations

import numpy as np

from stance.metrics import paired_bootstrap_macro_f1

LABELS = ("confirmed", "believed", "unclear")


def _systems(n: int = 93, seed: int = 0):
    rng = np.random.default_rng(seed)
    gold = rng.choice(LABELS, size=n, p=[0.7, 0.1, 0.2])
    good = np.where(rng.random(n) < 0.9, gold, rng.choice(LABELS, size=n))
    poor = np.where(rng.random(n) < 0.5, gold, rng.choice(LABELS, size=n))
    return gold.tolist(), good.tolist(), poor.tolist()


def test_interval_brackets_the_estimate_and_separates_a_clearly_better_system():
    gold, good, poor = _systems()
    b = paired_bootstrap_macro_f1(gold, good, poor, LABELS, n_boot=500)
    assert b["low"] <= b["macro_f1"] <= b["high"] < 1.0
    assert b["diff"] > 0 and b["diff_low"] > 0  # 90% vs 50% correct on 93 sentences is not chance
    assert b["high"] - b["low"] > 0.05  # 93 sentences cannot pin macro-F1 down to a point


def test_identical_systems_have_a_zero_difference():
    gold, good, _ = _systems()
    b = paired_bootstrap_macro_f1(gold, good, good, LABELS, n_boot=200)
    assert b["diff"] == b["diff_low"] == b["diff_high"] == 0.0
    perfect = paired_bootstrap_macro_f1(gold, gold, good, LABELS, n_boot=200)
    assert perfect["low"] == perfect["high"] == 1.0
