"""ONNX export and int8 dynamic quantization (onnxruntime) of a saved model.

Why: on a CPU, PyTorch eager spends much of a small encoder's time in per-op dispatch, while
onnxruntime runs a static graph, and int8 weights make the MatMuls cheaper and the model ~4x
smaller in memory. Layout, beside the PyTorch weights::

    MODEL/onnx/model.onnx        fp32 graph (exact; also the input of quantization)
    MODEL/onnx/model.int8.onnx   int8 dynamic quantization: what `--backend onnx` runs
    MODEL/onnx/onnx.json         axes, label counts, opset, and the sha256 of the
                                 model.safetensors it came from, so a stale export is noticed

`load_onnx_session` finds (or makes, once) the int8 file and opens an onnxruntime session.
Every file is written under a temporary name and renamed into place, so two processes exporting
at once, or a crash mid-export, never leave half a file under the real name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

ONNX_DIR = "onnx"
ONNX_INT8 = "model.int8.onnx"
ONNX_FP32 = "model.onnx"
ONNX_META = "onnx.json"
META_FORMAT = 1
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
CACHE_ENV = "STANCE_CACHE"

#: dynamic int8 settings, chosen against the fp32 graph: per-channel weight scales halve the
#: logit error of per-tensor ones; 7-bit weights (reduce_range) avoid the int16 saturation of
#: u8 x s8 products on x86 CPUs without VNNI (AVX2/AVX-512), which flipped labels on a small
#: model, at no cost in speed; the two classification heads (Gemm) stay fp32 (they cost nothing
#: and sit right on the output); Gather quantizes the embedding tables, a third of the weights,
#: at no measurable cost in accuracy and ~40 MB less memory for MiniLM.
QUANT_OPS = ("MatMul", "Gather")
QUANT_PER_CHANNEL = True
QUANT_REDUCE_RANGE = True


def output_name(axis: str) -> str:
    return f"logits_{axis}"


def weights_sha256(model_dir: str | Path) -> str:
    """Identity of the weights an export came from (the staleness check)."""
    from stance.modeling import WEIGHTS, ModelLoadError

    path = Path(model_dir) / WEIGHTS
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read weights ({exc.strerror or exc})") from None


def cache_dir(sha: str) -> Path:
    """Where exports go when the model directory is read-only: $STANCE_CACHE/onnx/<sha>
    (default ~/.cache/stance/onnx/<sha>); keyed by weights so models never share an entry."""
    root = os.environ.get(CACHE_ENV)
    base = Path(root) if root else Path.home() / ".cache" / "stance"
    return base / "onnx" / sha


# ---------------------------------------------------------------------------- export


def _dummy_inputs(vocab_size: int, batch: int, seq: int, pad_row: bool) -> tuple[Any, Any, Any]:
    """Tracing/check inputs shaped like real batches: a context segment and, when `pad_row`,
    right padding, so no data-dependent shortcut (e.g. "mask is all ones") is traced in."""
    import torch

    g = torch.Generator().manual_seed(batch * 100 + seq)
    ids = torch.randint(1000, max(1001, min(vocab_size, 20000)), (batch, seq), generator=g)
    mask = torch.ones_like(ids)
    types = torch.zeros_like(ids)
    types[:, seq // 2 :] = 1
    if pad_row:
        mask[-1, seq - seq // 3 :] = 0
        ids[-1, seq - seq // 3 :] = 0
        types[-1, seq - seq // 3 :] = 0
    return ids, mask, types


def _export_graph(model: Any, path: Path) -> str:
    """Export the forward pass; returns which exporter worked.

    The TorchScript exporter first: for BERT it gives the plainest graph (what onnxruntime's
    fusions expect). The dynamo exporter is the fallback for a torch without the old one."""
    import torch
    from torch import nn

    class Logits(nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> tuple:
            out = self.inner(input_ids, attention_mask, token_type_ids)
            return tuple(out[axis] for axis in self.inner.axes)

    # eager attention exports as plain MatMul/Softmax; sdpa adds NaN guards that block fusions
    with contextlib.suppress(Exception):
        model.encoder.set_attn_implementation("eager")
    wrapper = Logits(model).eval()
    args = _dummy_inputs(model.encoder.config.vocab_size, 2, 16, pad_row=True)
    outputs = [output_name(a) for a in model.axes]
    dynamic = {name: {0: "batch", 1: "sequence"} for name in INPUTS}
    dynamic.update({name: {0: "batch"} for name in outputs})
    common: dict[str, Any] = {"input_names": list(INPUTS), "output_names": outputs,
                              "dynamic_axes": dynamic}
    errors = []
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer/deprecation chatter, not actionable for users
        try:
            torch.onnx.export(wrapper, args, str(path), opset_version=OPSET, dynamo=False,
                              do_constant_folding=True, **common)
            return "torchscript"
        except Exception as exc:  # e.g. a torch that dropped the TorchScript exporter
            errors.append(f"torchscript: {exc}")
        try:
            torch.onnx.export(wrapper, args, str(path), opset_version=max(OPSET, 18), dynamo=True,
                              external_data=False, verbose=False, **common)
            return "dynamo"
        except Exception as exc:
            errors.append(f"dynamo: {exc}")
    from stance.modeling import ModelLoadError

    raise ModelLoadError("ONNX export failed (" + "; ".join(e.splitlines()[0] for e in errors) + ")")


def _check_graph(model: Any, path: Path) -> None:
    """Run the export once on shapes it was not traced with and compare with PyTorch, so a
    shape baked in by the tracer fails here rather than as wrong labels later."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from stance.modeling import ModelLoadError

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, seq, pad in ((3, 11, True), (1, 7, False)):
        args = _dummy_inputs(model.encoder.config.vocab_size, batch, seq, pad_row=pad)
        with torch.no_grad():
            ref = model(*args)
        got = sess.run([output_name(a) for a in model.axes],
                       {name: t.numpy() for name, t in zip(INPUTS, args, strict=True)})
        for axis, val in zip(model.axes, got, strict=True):
            diff = float(np.abs(val - ref[axis].numpy()).max())
            if diff > 1e-3:
                raise ModelLoadError(f"ONNX export check failed: {axis} logits differ from PyTorch "
                                   f"by {diff:.2g} at batch {batch} x length {seq}")


def quant_settings() -> dict[str, Any]:
    """As recorded in onnx.json: an int8 file made with other settings counts as stale."""
    return {"weight_type": "QInt8", "per_channel": QUANT_PER_CHANNEL,
            "reduce_range": QUANT_REDUCE_RANGE, "op_types": list(QUANT_OPS)}


def _quantize(src: Path, dst: Path) -> dict[str, Any]:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    settings = quant_settings()
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # its "consider pre-processing" advice is for static quant
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(src), str(dst), weight_type=QuantType[settings["weight_type"]],
                             per_channel=settings["per_channel"], reduce_range=settings["reduce_range"],
                             op_types_to_quantize=settings["op_types"],
                             extra_options={"DefaultTensorType": TensorProto.FLOAT})
    finally:
        logging.disable(previous)
    return settings


def _read_onnx_meta(directory: Path) -> dict[str, Any]:
    try:
        meta = json.loads((directory / ONNX_META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _write_onnx_meta(directory: Path, base: dict[str, Any], name: str, entry: dict[str, Any]
                     ) -> None:
    """Record `name` in onnx.json, keeping entries of other files from the same weights."""
    from stance.io import atomic_write_text

    old = _read_onnx_meta(directory)
    files = old.get("files", {}) if old.get("source_sha256") == base["source_sha256"] else {}
    files = {k: v for k, v in files.items() if (directory / k).is_file()}
    files[name] = entry
    meta = {**base, "quantized": entry["quantized"], "files": files}
    atomic_write_text(directory / ONNX_META, json.dumps(meta, indent=2) + "\n")


def _targets(model_dir: Path, output: str | Path | None, quantize: bool) -> tuple[Path, Path | None]:
    """(final file, fp32 file to keep or None). A directory output gets the standard names;
    a .onnx file output is the final file and any fp32 intermediate is not kept."""
    if output is None:
        out_dir = model_dir / ONNX_DIR
    else:
        out = Path(output)
        if out.suffix == ".onnx" and not out.is_dir():
            return out, (None if quantize else out)
        out_dir = out
    return (out_dir / (ONNX_INT8 if quantize else ONNX_FP32)), out_dir / ONNX_FP32


def export_onnx(model_dir: str | Path, output: str | Path | None = None, quantize: bool = True
                ) -> Path:
    """Export `model_dir` to ONNX (and int8 unless `quantize` is False); returns the file the
    onnx backend should load. `output` is a directory (default MODEL/onnx/) or a .onnx path."""
    import onnx
    import onnxruntime
    import torch
    import transformers

    from stance.io import replace_into, temp_beside
    from stance.modeling import load_model

    model_dir = Path(model_dir)
    model, _tokenizer, meta = load_model(model_dir)
    sha = weights_sha256(model_dir)
    final, fp32_keep = _targets(model_dir, output, quantize)
    base = {
        "format_version": META_FORMAT,
        "source": str(model_dir.resolve()),
        "source_sha256": sha,
        "axes": {axis: len(labs) for axis, labs in model.labels.items()},
        "labels": {axis: list(labs) for axis, labs in model.labels.items()},
        "inputs": list(INPUTS),
        "outputs": [output_name(a) for a in model.axes],
        "max_length": int(meta.get("max_length", 128)),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
    }
    with temp_beside(final if fp32_keep is None else fp32_keep, ".tmp.onnx") as fp32_tmp:
        exporter = _export_graph(model, fp32_tmp)
        _check_graph(model, fp32_tmp)
        opset = next((o.version for o in onnx.load(str(fp32_tmp), load_external_data=False)
                      .opset_import if o.domain in ("", "ai.onnx")), OPSET)
        base["opset"] = opset
        fp32_entry = {"quantized": False, "exporter": exporter, "opset": opset}
        if fp32_keep is not None:
            replace_into(fp32_tmp, fp32_keep)
            _write_onnx_meta(fp32_keep.parent, base, fp32_keep.name, fp32_entry)
            src = fp32_keep
        else:
            src = fp32_tmp
        if quantize:
            with temp_beside(final, ".tmp.onnx") as int8_tmp:
                settings = _quantize(src, int8_tmp)
                replace_into(int8_tmp, final)
            _write_onnx_meta(final.parent, base, final.name,
                             {"quantized": True, "exporter": exporter, "opset": opset,
                              "quantization": settings})
    return final


# ---------------------------------------------------------------------------- loading


def _is_fresh(path: Path, sha: str, axes: dict[str, int]) -> bool:
    """An int8 export of exactly these weights, labels and quantization settings."""
    meta = _read_onnx_meta(path.parent)
    entry = meta.get("files", {}).get(path.name)
    return (path.is_file() and meta.get("source_sha256") == sha and meta.get("axes") == axes
            and isinstance(entry, dict) and entry.get("quantization") == quant_settings())


def _ensure_export(model_dir: Path, sha: str, axes: dict[str, int]) -> Path:
    """The fresh int8 export of `model_dir`: beside the model, in the cache, or made now."""
    local = model_dir / ONNX_DIR / ONNX_INT8
    cached = cache_dir(sha) / ONNX_INT8
    for candidate in (local, cached):
        if _is_fresh(candidate, sha, axes):
            return candidate
    why = ("has a stale ONNX export (made from other weights or settings)" if local.exists()
           else "has no ONNX export yet")
    targets = [local.parent, cached.parent]
    if not os.access(model_dir, os.W_OK) or (local.parent.exists()
                                             and not os.access(local.parent, os.W_OK)):
        targets = [cached.parent]
    last: OSError | None = None
    for target in targets:
        print(f"stance: {model_dir} {why}; exporting int8 ONNX to {target} (once)",
              file=sys.stderr, flush=True)
        try:
            return export_onnx(model_dir, target, quantize=True)
        except OSError as exc:  # e.g. a read-only mount that os.access did not reveal
            last = exc
    from stance.modeling import ModelLoadError

    raise ModelLoadError(f"{model_dir}: cannot write an ONNX export ({last})")


def open_session(path: Path, threads: int) -> Any:
    """An onnxruntime CPU session tuned for throughput on batched inputs."""
    import onnxruntime as ort

    from stance.modeling import ModelLoadError

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3  # errors only; warnings would go to stderr on every load
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own (InvalidProtobuf, Fail, ...)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelLoadError(f"{path}: corrupt or unreadable ONNX file ({first}); delete it or "
                             "re-run `stance export`") from None


def load_onnx_session(model_dir: Path, path: Path | None, threads: int
                      ) -> tuple[Any, Any, dict[str, int]]:
    """(onnxruntime session, tokenizer, {axis: n_labels}) for a model directory.

    With `path`, that file is used as given (an error if missing or made from other weights);
    otherwise MODEL/onnx/model.int8.onnx, exported on first use or when the weights changed."""
    from transformers import AutoTokenizer

    from stance.modeling import ModelLoadError, read_meta

    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    axes = {axis: len(labs) for axis, labs in meta["labels"].items()}
    sha = weights_sha256(model_dir)
    if path is None:
        path = _ensure_export(model_dir, sha, axes)
    else:
        path = Path(path)
        if not path.is_file():
            raise ModelLoadError(f"{path}: no such ONNX file (make one with `stance export "
                                 f"{model_dir}`)")
        recorded = _read_onnx_meta(path.parent).get("source_sha256")
        if recorded is not None and recorded != sha:
            raise ModelLoadError(f"{path}: stale ONNX export (made from other weights than "
                                 f"{model_dir}); re-run `stance export`")
    session = open_session(path, threads)
    names = [o.name for o in session.get_outputs()]
    missing = [output_name(a) for a in axes if output_name(a) not in names]
    if missing or sorted(i.name for i in session.get_inputs()) != sorted(INPUTS):
        raise ModelLoadError(f"{path}: not an export of this model (outputs {names}, expected "
                             f"{[output_name(a) for a in axes]})")
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{model_dir}: cannot load tokenizer ({exc})") from None
    return session, tokenizer, axes
