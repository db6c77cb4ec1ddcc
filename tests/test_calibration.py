"""Temperature and label-mix offsets: the statistics, and the fold into the model's heads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import softmax

from stance.calibration import cv_offset_macro_f1, fit_logit_offset


def _shifted(n: int = 3000, prior=(0.75, 0.15, 0.10), seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logits of a model trained on a balanced label mix, scored on copy with another mix."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=prior)
    z = rng.normal(0.0, 1.0, size=(n, 3))
    z[np.arange(n), y] += 1.2  # informative but noisy: the prior matters
    return z, y, np.arange(n) // 10  # ten sentences per article


def test_offset_recovers_a_label_shift():
    z, y, _ = _shifted()
    b = fit_logit_offset(z, y)
    assert b[0] == 0.0
    assert b[1] < -0.5 and b[2] < -0.5  # the rarer labels are pushed down
    assert (z + b).argmax(1).__eq__(y).mean() > z.argmax(1).__eq__(y).mean() + 0.05


def test_cross_validation_sees_a_model_that_over_predicts_a_label():
    # An NLL offset serves likelihood, not macro-F1 (pushing rare labels down can cost their
    # recall), hence the cross-validated check; a model biased towards one label is what it fixes.
    z, y, groups = _shifted(prior=(1 / 3, 1 / 3, 1 / 3))
    z[:, 1] += 1.5
    without, with_cv = cv_offset_macro_f1(z, y, groups)
    assert with_cv > without + 0.05
    assert fit_logit_offset(z, y)[1] < -1.0
    unbiased, _, _ = _shifted(prior=(1 / 3, 1 / 3, 1 / 3))
    assert np.abs(fit_logit_offset(unbiased, y)).max() < 0.2  # nothing to correct


def test_offset_folded_into_the_head_equals_adding_it(tiny_base):
    from transformers import AutoConfig, AutoModel

    from stance.modeling import StanceModel

    torch.manual_seed(0)
    model = StanceModel(AutoModel.from_config(AutoConfig.from_pretrained(tiny_base))).eval()
    model.temperature[1] = 1.7
    ids = torch.tensor([[101, 2000, 2001, 102], [101, 2003, 102, 0]])
    mask = (ids != 0).long()
    before = model.calibrated(model(ids, mask))
    offset = np.array([0.0, -0.4, 0.9])
    model.add_calibrated_offset("attribution", offset)
    after = model.calibrated(model(ids, mask))
    assert torch.allclose(after["certainty"], before["certainty"])
    np.testing.assert_allclose(softmax(after["attribution"].detach().numpy(), axis=1),
                               softmax(before["attribution"].detach().numpy() + offset, axis=1), rtol=1e-5)


def test_training_with_prior_data_records_the_offsets(tiny_base, tiny_corpus, tmp_path):
    from stance.config import load_config
    from stance.modeling import read_meta
    from stance.trainer import train
    from tests.conftest import tiny_overrides

    out = tmp_path / "m"
    prior = f"output.prior_data={tiny_corpus / 'dev.jsonl'}"
    cfg = load_config(None, [*tiny_overrides(tiny_base, tiny_corpus, out, epochs=1), prior])
    train(cfg, progress=False)
    prior = read_meta(out)["prior_offsets"]
    assert prior["n"] == 20 and prior["collections"] == []
    for axis in ("certainty", "attribution"):
        v = prior[axis]
        assert len(v["offset"]) == 3 and v["offset"][0] == 0.0
        gain = v["cv_macro_f1_with"] > v["cv_macro_f1_without"]
        assert v["kept"] == (gain and v["rest_of_dev_macro_f1_drop"] <= 0.01)
    assert "Label-mix offsets" in (out / "README.md").read_text()


def test_prior_collection_with_no_rows_fails_before_training(tiny_base, tiny_corpus, tmp_path):
    from stance.config import ConfigError, load_config
    from stance.trainer import train
    from tests.conftest import tiny_overrides

    extra = [f"output.prior_data={tiny_corpus / 'dev.jsonl'}", "output.prior_collections=realcopy"]
    cfg = load_config(None, [*tiny_overrides(tiny_base, tiny_corpus, tmp_path / "m"), *extra])
    with pytest.raises(ConfigError, match=r"dev.jsonl: no rows of collection\(s\) realcopy"):
        train(cfg, progress=False)
    assert not (tmp_path / "m").exists()


def _tagged_corpus(src, dst, tagged: set[str]):
    """The tiny corpus with some articles marked as a later collection."""
    import json

    dst.mkdir()
    for split in ("train", "dev", "test"):
        lines = (src / f"{split}.jsonl").read_text().splitlines()
        rows = [json.loads(line) for line in lines]
        for r in rows:
            if r["article_id"] in tagged:
                r["collection"] = "later"
        (dst / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return dst


def test_excluded_collection_is_left_out_of_train_and_dev(tiny_base, tiny_corpus, tmp_path):
    from stance.config import ConfigError, load_config
    from stance.modeling import read_meta
    from stance.trainer import train
    from tests.conftest import tiny_overrides

    corpus = _tagged_corpus(tiny_corpus, tmp_path / "c", {"a0", "a1", "a8"})
    out = tmp_path / "m"
    cfg = load_config(None, [*tiny_overrides(tiny_base, corpus, out, epochs=1), "data.exclude_collections=later"])
    train(cfg, progress=False)
    meta = read_meta(out)
    assert meta["train_examples"] == 60  # 8 training articles of 10 sentences, 2 left out
    assert meta["metrics"]["dev"]["certainty"]["n"] == 10  # 1 of 2 dev articles left
    assert meta["metrics"]["test"]["certainty"]["n"] == 20  # test is never filtered
    assert "collections left out of train and dev: later" in (out / "README.md").read_text()
    everything = _tagged_corpus(tiny_corpus, tmp_path / "c2", {"a8", "a9"})
    cfg = load_config(None, [*tiny_overrides(tiny_base, everything, tmp_path / "m2"), "data.exclude_collections=later"])
    with pytest.raises(ConfigError, match="leaves no dev rows"):
        train(cfg, progress=False)
