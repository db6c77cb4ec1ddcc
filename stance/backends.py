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


def _threads(num_threads: int | None) -> int:
    return num_threads or len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        num_threads or os.cpu_count() or 1)


class TorchBackend:
    def __init__(self, model_dir: Path, device: str = "cpu", num_threads: int | None = None) -> None:
        import torch

        from stance.modeling import load_model

        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available")
        torch.set_num_threads(_threads(num_threads))
        self.model, self.tokenizer, self.meta = load_model(model_dir)
        self.device = device
        self.model.to(device)

    def logits(self, texts: list[str], contexts: list[str] | None, max_length: int, batch_size: int,
               progress: Callable[[int], None] | None = None) -> tuple[dict[str, np.ndarray], int]:
        from stance.modeling import batched_logits

        return batched_logits(self.model, self.tokenizer, texts, contexts, max_length, batch_size,
                              self.device, progress)


class OnnxBackend:
    def __init__(self, model_dir: Path, num_threads: int | None = None, path: Path | None = None) -> None:
        from stance.export import load_onnx_session

        self.session, self.tokenizer, self.axes = load_onnx_session(model_dir, path, _threads(num_threads))

    def logits(self, texts: list[str], contexts: list[str] | None, max_length: int, batch_size: int,
               progress: Callable[[int], None] | None = None) -> tuple[dict[str, np.ndarray], int]:
        from stance.modeling import encode_pairs

        enc = encode_pairs(self.tokenizer, texts, contexts, max_length)
        n = len(texts)
        order = np.argsort([len(x) for x in enc.input_ids], kind="stable")
        out = {axis: np.zeros((n, k), dtype=np.float32) for axis, k in self.axes.items()}
        pad = self.tokenizer.pad_token_id or 0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            width = max(len(enc.input_ids[i]) for i in idx)
            ids = np.full((len(idx), width), pad, dtype=np.int64)
            types = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for r, i in enumerate(idx):
                a = enc.input_ids[i]
                ids[r, : len(a)] = a
                types[r, : len(a)] = enc.token_type_ids[i]
                mask[r, : len(a)] = 1
            res = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": types})
            for axis, val in zip(self.axes, res, strict=True):
                out[axis][idx] = val
            if progress is not None:
                progress(len(idx))
        return out, enc.truncated
