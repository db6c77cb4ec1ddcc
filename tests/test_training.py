"""Training, saving and loading on a tiny random BERT (seconds each)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stance.config import load_config
from stance.modeling import ModelLoadError, load_model, read_meta
from stance.trainer import train
from tests.conftest import tiny_overrides


def test_training_end_to_end_saves_self_describing_model(tiny_model: Path):
    files = {p.name for p in tiny_model.iterdir()}
    assert {"model.safetensors", "stance.json", "config.json", "tokenizer.json", "README.md"} <= files
    assert "checkpoint" not in files  # training state is removed after a finished run
    assert not any(p.suffix in {".bin", ".pt", ".pkl"} for p in tiny_model.iterdir())
    meta = read_meta(tiny_model)
    assert meta["labels"] == {"certainty": ["confirmed", "believed", "unclear"],
                              "attribution": ["named", "anonymous", "none"]}
    assert meta["seed"] == 13 and meta["use_context"] is True
    assert set(meta["metrics"]) == {"dev", "test"}
    assert {"torch", "transformers", "stance"} <= set(meta["versions"])
    assert len(meta["history"]) == 2
    for axis in ("certainty", "attribution"):
        assert 0.05 <= meta["temperature"][axis] <= 20
        assert meta["calibration"][axis]["ece_after"] <= meta["calibration"][axis]["ece_before"] + 1e-6
    card = (tiny_model / "README.md").read_text()
    assert "Metrics" in card and "certainty" in card


def test_saved_config_is_exactly_the_training_config(tiny_model: Path, tiny_base: Path, tiny_corpus: Path):
    meta = read_meta(tiny_model)
    expected = load_config(None, tiny_overrides(tiny_base, tiny_corpus, tiny_model)).to_dict()
    assert meta["config"] == expected


def test_load_round_trip_gives_same_predictions(tiny_model: Path):
    from stance.predictor import Predictor

    p1 = Predictor.from_pretrained(tiny_model)
    p2 = Predictor.from_pretrained(tiny_model)
    texts = ["The mayor said the vote would go ahead.", "It is unclear whether the plan survives."]
    a, b = p1.probabilities(texts, ["", texts[0]]), p2.probabilities(texts, ["", texts[0]])
    for axis in a:
        assert (a[axis] == b[axis]).all()
    model, _tok, meta = load_model(tiny_model)
    assert model.training is False and meta["format_version"] == 1


def test_same_seed_same_metrics(tiny_base: Path, tiny_corpus: Path, tmp_path: Path):
    runs = []
    for name in ("a", "b"):
        cfg = load_config(None, tiny_overrides(tiny_base, tiny_corpus, tmp_path / name))
        runs.append(train(cfg, progress=False))
    assert runs[0].history == runs[1].history
    assert runs[0].metrics["test"]["certainty"] == runs[1].metrics["test"]["certainty"]
    from safetensors.torch import load_file

    w0, w1 = (load_file(str(tmp_path / n / "model.safetensors")) for n in ("a", "b"))
    assert w0.keys() == w1.keys()
    assert all((w0[k] == w1[k]).all() for k in w0)


def test_interrupted_training_resumes_and_matches(tiny_base: Path, tiny_corpus: Path, tmp_path: Path):
    full = train(load_config(None, tiny_overrides(tiny_base, tiny_corpus, tmp_path / "full", epochs=3)),
                 progress=False)

    class Boom(Exception):
        pass

    def stop_after_first(epoch: int, _record: dict) -> None:
        if epoch == 1:
            raise Boom

    cfg = load_config(None, tiny_overrides(tiny_base, tiny_corpus, tmp_path / "cut", epochs=3))
    with pytest.raises(Boom):
        train(cfg, progress=False, on_epoch_end=stop_after_first)
    assert (tmp_path / "cut" / "checkpoint" / "state.pt").is_file()
    assert not (tmp_path / "cut" / "model.safetensors").exists()
    resumed = train(cfg, resume=True, progress=False)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    assert resumed.history == full.history
    assert resumed.metrics["dev"]["mean_macro_f1"] == full.metrics["dev"]["mean_macro_f1"]


def test_resume_refuses_a_different_config(tiny_base: Path, tiny_corpus: Path, tmp_path: Path):
    def stop(epoch: int, _r: dict) -> None:
        raise KeyboardInterrupt

    cfg = load_config(None, tiny_overrides(tiny_base, tiny_corpus, tmp_path / "m", epochs=2))
    with pytest.raises(KeyboardInterrupt):
        train(cfg, progress=False, on_epoch_end=stop)
    other = load_config(None, [*tiny_overrides(tiny_base, tiny_corpus, tmp_path / "m", epochs=2),
                               "training.learning_rate=0.5"])
    with pytest.raises(ValueError, match="different config"):
        train(other, resume=True, progress=False)
    fresh = load_config(None, tiny_overrides(tiny_base, tiny_corpus, tmp_path / "none"))
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(fresh, resume=True, progress=False)


def test_missing_model_dir_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ModelLoadError, match="no such model directory"):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="not a stance model directory"):
        load_model(tmp_path / "empty")


def test_corrupt_weights_are_a_clear_error(tiny_model: Path, tmp_path: Path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_model, bad)
    data = (bad / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelLoadError, match="corrupt or truncated weights file"):
        load_model(bad)
    (bad / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelLoadError, match="corrupt or truncated"):
        load_model(bad)


def test_label_set_mismatch_is_a_clear_error(tiny_model: Path, tmp_path: Path):
    import shutil

    from stance.evaluation import evaluate

    other = tmp_path / "other"
    shutil.copytree(tiny_model, other)
    meta = json.loads((other / "stance.json").read_text())
    meta["labels"]["certainty"] = ["yes", "no"]
    (other / "stance.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match=r"certainty head has 3 outputs but stance\.json lists 2"):
        load_model(other)
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"article_id": "a", "sentence_index": 0, "text": "Hi there.",
                                "certainty": "confirmed", "attribution": "named"}) + "\n")
    # data whose labels the model does not have
    meta2 = json.loads((tiny_model / "stance.json").read_text())
    meta2["labels"]["attribution"] = ["on-record", "off-record", "none"]
    third = tmp_path / "third"
    shutil.copytree(tiny_model, third)
    (third / "stance.json").write_text(json.dumps(meta2))
    with pytest.raises(ModelLoadError, match=r"attribution labels \['named'\] are not in the model's label set"):
        evaluate(str(third), data)
