from __future__ import annotations

from pathlib import Path

import pytest

from stance.config import ConfigError, load_config
from tests.conftest import ROOT


def test_default_config_file_loads_and_round_trips(tmp_path: Path):
    cfg = load_config(ROOT / "configs/default.toml")
    assert cfg.model.base_model == "minilm" and cfg.model.use_context is False  # chosen on dev
    assert cfg.data.extra_eval == {"seeds": "seeds/labels.jsonl"}
    p = tmp_path / "saved.toml"
    p.write_text(cfg.to_toml(), encoding="utf-8")
    assert load_config(p).to_dict() == cfg.to_dict()


def test_overrides_are_typed():
    cfg = load_config(None, ["training.epochs=3", "model.use_context=false", "training.learning_rate=1e-4",
                             "data.extra_eval.seeds=x.jsonl"])
    assert cfg.training.epochs == 3 and cfg.model.use_context is False
    assert cfg.training.learning_rate == pytest.approx(1e-4)
    assert cfg.data.extra_eval == {"seeds": "x.jsonl"}


@pytest.mark.parametrize(("overrides", "message"), [
    (["training.epoch=3"], "unknown key(s) in [training]: ['epoch']"),
    (["trainer.epochs=3"], "unknown section(s) ['trainer']"),
    (["training.epochs=three"], "training.epochs: expected an integer, got 'three'"),
    (["model.use_context=maybe"], "model.use_context: expected true or false"),
    (["training.epochs=0"], "training.epochs must be > 0"),
    (["training.class_weighting=magic"], "training.class_weighting must be one of"),
    (["model.dropout=1.5"], "model.dropout must be in [0, 1)"),
    (["epochs=3"], "expected section.key=value"),
])
def test_bad_configs_are_clear_errors(overrides: list[str], message: str):
    with pytest.raises(ConfigError) as exc:
        load_config(None, overrides)
    assert message in str(exc.value)


def test_bad_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[training\nepochs = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text("[model]\nbase_modle = 'x'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"typo.toml: unknown key\(s\) in \[model\]: \['base_modle'\]"):
        load_config(typo)
