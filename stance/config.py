"""Typed, validated training configuration (TOML file + dotted CLI overrides).

Modelled on spaCy's training config: every setting lives in one file that is saved with the
model, unknown keys are errors (a typo must not silently fall back to a default), and
`section.key=value` overrides from the command line are type-checked the same way.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A config problem, phrased for the user (file, key, what is wrong)."""


@dataclass
class ModelConfig:
    #: local directory or hub id of the encoder; "minilm" = the offline all-MiniLM-L6-v2 package
    base_model: str = "minilm"
    #: "pretrained" loads the encoder's weights; "random" builds it from base_model's config.json
    #: only (tests and ablations; no weights needed)
    init: str = "pretrained"
    #: feed the preceding sentence as the second segment (codebook attribution rule 3). The shipped
    #: configs/default.toml sets false: on the corpus with its real-copy collection the sentence
    #: alone did better on dev (docs/benchmarks.md, "Context") and runs twice as fast
    use_context: bool = True
    #: tokens per (sentence, context) pair; the context is truncated first
    max_length: int = 128
    dropout: float = 0.1


@dataclass
class DataConfig:
    train: str = "training/data/train.jsonl"
    dev: str = "training/data/dev.jsonl"
    test: str = "training/data/test.jsonl"
    #: extra evaluation sets reported in the model card (name -> JSONL path)
    extra_eval: dict[str, str] = field(default_factory=dict)
    #: include headline rows in training
    include_headlines: bool = True
    #: comma-separated collections (the rows' `collection` field) left out of train and dev, e.g. to
    #: retrain a model on an earlier corpus version exactly; their test rows are still evaluated
    exclude_collections: str = ""


@dataclass
class TrainingConfig:
    seed: int = 13
    epochs: int = 6
    batch_size: int = 32
    learning_rate: float = 5e-5
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    #: "none", "inverse" or "sqrt_inverse" class weights in each head's loss
    class_weighting: str = "sqrt_inverse"
    #: stop after this many epochs without a better mean dev macro-F1 (0 = never)
    early_stopping_patience: int = 2
    #: loss weight of the attribution head relative to certainty
    attribution_loss_weight: float = 1.0
    #: torch intra-op threads on CPU (0 = leave torch's default)
    num_threads: int = 0
    #: limit training examples (0 = all); for smoke runs
    max_train_examples: int = 0


@dataclass
class OutputConfig:
    dir: str = "runs/stance-minilm"
    #: save weights as float16 (halves the size; checked against fp32 on dev after training)
    fp16_weights: bool = False
    #: temperature-scale each head on dev after training
    calibrate: bool = True
    #: labelled sentences in the register the model will score (e.g. dev rows of real copy). When
    #: set, each head gets one logit offset per class fitted there (after temperature), kept only
    #: if 5-fold article-grouped cross-validation on these rows raises that head's macro-F1 and
    #: the rest of dev loses at most 0.01; it corrects a label mix that differs from training's
    prior_data: str = ""
    #: comma-separated collections of prior_data to use (the `collection` field); "" = all rows
    prior_collections: str = ""


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        lines: list[str] = []
        for section, values in self.to_dict().items():
            lines.append(f"[{section}]")
            tables: list[tuple[str, dict[str, Any]]] = []
            for key, value in values.items():
                if isinstance(value, dict):
                    tables.append((key, value))
                else:
                    lines.append(f"{key} = {_toml_value(value)}")
            for key, table in tables:
                lines.append(f"\n[{section}.{key}]")
                lines.extend(f"{k!s} = {_toml_value(v)}" for k, v in table.items())
            lines.append("")
        return "\n".join(lines)


_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("training", "class_weighting"): ("none", "inverse", "sqrt_inverse"),
    ("model", "init"): ("pretrained", "random"),
}
_POSITIVE = {
    ("model", "max_length"), ("training", "epochs"), ("training", "batch_size"),
    ("training", "learning_rate"), ("training", "head_learning_rate"),
}
_NON_NEGATIVE = {
    ("training", "weight_decay"), ("training", "warmup_ratio"), ("training", "max_grad_norm"),
    ("training", "early_stopping_patience"), ("training", "num_threads"),
    ("training", "max_train_examples"), ("model", "dropout"), ("training", "attribution_loss_weight"),
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _section_types(section_cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(section_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(section_cls)}


def _coerce(where: str, value: Any, typ: Any) -> Any:
    """Check (and for CLI strings, convert) a value to the declared type."""
    origin = typing.get_origin(typ)
    if origin is dict or typ is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{where}: expected a table of strings, got {value!r}")
        return dict(value)
    if isinstance(typ, types.UnionType):  # pragma: no cover - no optional fields today
        typ = typing.get_args(typ)[0]
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
            return value.lower() in {"true", "1", "yes"}
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if typ is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if typ is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if typ is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    raise ConfigError(f"{where}: unsupported type {typ!r}")  # pragma: no cover


def config_from_dict(data: dict[str, Any], source: str = "config") -> Config:
    """Build and validate a Config; unknown sections or keys are errors."""
    sections = {f.name: f.type for f in dataclasses.fields(Config)}
    hints = typing.get_type_hints(Config)
    unknown = set(data) - set(sections)
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {sorted(unknown)} "
                          f"(valid: {', '.join(sections)})")
    built: dict[str, Any] = {}
    for name in sections:
        cls = hints[name]
        values = data.get(name, {})
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        types_ = _section_types(cls)
        bad = set(values) - set(types_)
        if bad:
            raise ConfigError(f"{source}: unknown key(s) in [{name}]: {sorted(bad)} "
                              f"(valid: {', '.join(types_)})")
        kwargs = {k: _coerce(f"{source}: {name}.{k}", v, types_[k]) for k, v in values.items()}
        built[name] = cls(**kwargs)
    cfg = Config(**built)
    validate(cfg, source)
    return cfg


def validate(cfg: Config, source: str = "config") -> None:
    for (section, key), choices in _CHOICES.items():
        value = getattr(getattr(cfg, section), key)
        if value not in choices:
            raise ConfigError(f"{source}: {section}.{key} must be one of {choices}, got {value!r}")
    for section, key in _POSITIVE:
        if getattr(getattr(cfg, section), key) <= 0:
            raise ConfigError(f"{source}: {section}.{key} must be > 0")
    for section, key in _NON_NEGATIVE:
        if getattr(getattr(cfg, section), key) < 0:
            raise ConfigError(f"{source}: {section}.{key} must be >= 0")
    if not 0 <= cfg.model.dropout < 1:
        raise ConfigError(f"{source}: model.dropout must be in [0, 1)")
    if not 0 <= cfg.training.warmup_ratio < 1:
        raise ConfigError(f"{source}: training.warmup_ratio must be in [0, 1)")


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `section.key=value` strings to a raw config dict (validated afterwards)."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise ConfigError(f"override {item!r}: expected section.key=value")
        parts = key.lstrip("-").split(".")
        target = out.setdefault(parts[0], {})
        for part in parts[1:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return out


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> Config:
    """Read a TOML config (None = all defaults) and apply overrides."""
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        p = Path(path)
        source = str(p)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{p}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    if overrides:
        data = apply_overrides(data, overrides)
    return config_from_dict(data, source)
