"""Inference backends: the forward pass only (tokenize in batches -> logits per axis).

`TorchBackend` runs the saved PyTorch model; `OnnxBackend` runs the int8 ONNX export made by
`stance export` (see stance/export.py). Both take the same inputs and return the same arrays,
so everything above them (calibration, records, aggregation) is shared.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np


def threads(num_threads: int | None) -> int:
    """The given count, else the cores this process may run on (not the machine's count)."""
    if num_threads:
        return num_threads
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class TorchBackend:
    def __init__(self, model_dir: Path, device: str = "cpu", num_threads: int | None = None) -> None:
        import torch

        from stance.modeling import load_model

        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available")
        torch.set_num_threads(threads(num_threads))
        self.model, self.tokenizer, _ = load_model(model_dir)
        self.device = device
        self.model.to(device)

    def logits(self, texts: list[str], contexts: list[str] | None, max_length: int, batch_size: int,
               progress: Callable[[int], None] | None = None) -> tuple[dict[str, np.ndarray], int]:
        from stance.modeling import batched_logits

        return batched_logits(self.model, self.tokenizer, texts, contexts, max_length, batch_size,
                              self.device, progress)


class OnnxBackend:
    """The int8 ONNX export on onnxruntime (exported on first use, see stance/export.py)."""

    def __init__(self, model_dir: Path, num_threads: int | None = None, path: Path | None = None) -> None:
        from stance.export import load_onnx_session, output_name

        self.session, self.tokenizer, self.axes = load_onnx_session(model_dir, path, threads(num_threads))
        self.output_names = [output_name(axis) for axis in self.axes]

    def logits(self, texts: list[str], contexts: list[str] | None, max_length: int, batch_size: int,
               progress: Callable[[int], None] | None = None) -> tuple[dict[str, np.ndarray], int]:
        from stance.modeling import encode_pairs

        enc = encode_pairs(self.tokenizer, texts, contexts, max_length)
        n = len(texts)
        out = {axis: np.zeros((n, k), dtype=np.float32) for axis, k in self.axes.items()}
        if n == 0:
            return out, enc.truncated
        ids_all, types_all, lengths = padded_arrays(enc.input_ids, enc.token_type_ids,
                                                    self.tokenizer.pad_token_id or 0)
        order = np.argsort(lengths, kind="stable")  # batches of similar length pad little
        positions = np.arange(ids_all.shape[1])
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            width = int(lengths[idx[-1]])  # sorted: the last is the longest
            feed = {"input_ids": ids_all[idx, :width], "token_type_ids": types_all[idx, :width],
                    "attention_mask": (positions[:width] < lengths[idx, None]).astype(np.int64)}
            for axis, val in zip(self.axes, self.session.run(self.output_names, feed), strict=True):
                out[axis][idx] = val
            if progress is not None:
                progress(len(idx))
        return out, enc.truncated


def padded_arrays(ids: list[list[int]], types: list[list[int]], pad_id: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All sequences right-padded into (n, longest) int64 arrays in one vectorised scatter, so
    a batch is a row slice instead of a Python loop over sentences."""
    from itertools import chain

    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    width = int(lengths.max()) if len(ids) else 0
    filled = np.arange(width) < lengths[:, None]
    total = int(lengths.sum())
    ids_all = np.full((len(ids), width), pad_id, dtype=np.int64)
    types_all = np.zeros((len(ids), width), dtype=np.int64)
    ids_all[filled] = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=total)
    types_all[filled] = np.fromiter(chain.from_iterable(types), dtype=np.int64, count=total)
    return ids_all, types_all, lengths
