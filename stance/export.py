"""ONNX export and int8 dynamic quantization (onnxruntime) of a saved model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ONNX_DIR = "onnx"
ONNX_INT8 = "model.int8.onnx"
ONNX_FP32 = "model.onnx"


def export_onnx(model_dir: str | Path, output: str | Path | None = None, quantize: bool = True) -> Path:
    raise NotImplementedError("ONNX export lands with the fast-inference issue")


def load_onnx_session(model_dir: Path, path: Path | None, threads: int) -> tuple[Any, Any, dict[str, int]]:
    raise NotImplementedError("ONNX export lands with the fast-inference issue")
