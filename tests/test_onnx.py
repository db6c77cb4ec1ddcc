"""ONNX export, int8 quantization and the onnx backend, on the tiny model (seconds)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from stance.backends import OnnxBackend, TorchBackend, padded_arrays
from stance.cli import app
from stance.cli import data as _data  # noqa: F401  (registers commands, as stance.cli.main does)
from stance.cli import evaluate as _evaluate  # noqa: F401
from stance.cli import export as _export  # noqa: F401
from stance.cli import score as _score  # noqa: F401
from stance.cli import train as _train  # noqa: F401
from stance.export import (
    ONNX_DIR,
    ONNX_FP32,
    ONNX_INT8,
    ONNX_META,
    export_onnx,
    load_onnx_session,
    weights_sha256,
)
from stance.modeling import WEIGHTS, EncodedBatch, ModelLoadError, encode_pairs
from stance.predictor import Predictor, _softmax

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _sentences(corpus: Path) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for split in ("test", "dev")
            for line in (corpus / f"{split}.jsonl").read_text().splitlines()]
    texts = [r["text"] for r in rows]
    contexts = [r["context"] for r in rows]
    # a few odd shapes: a lone word, a sentence longer than max_length, an empty context
    texts += ["Yes.", "The council said " + "very " * 80 + "little.", "Officials declined."]
    contexts += ["", "Earlier text.", ""]
    return texts, contexts


@pytest.fixture()
def model_copy(tiny_model: Path, tmp_path: Path) -> Path:
    """A private copy: tests export into it, corrupt it and change its weights."""
    d = tmp_path / "model"
    shutil.copytree(tiny_model, d, ignore=shutil.ignore_patterns(ONNX_DIR))
    return d


@pytest.fixture(scope="module")
def exported(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One shared int8 + fp32 export (read-only use)."""
    d = tmp_path_factory.mktemp("exported") / "model"
    shutil.copytree(tiny_model, d, ignore=shutil.ignore_patterns(ONNX_DIR))
    export_onnx(d)
    return d


def _one_by_one(tokenizer, texts, contexts, max_length):  # no batch-level tokenizer sharing
    parts = [encode_pairs(tokenizer, [t], None if contexts is None else [contexts[i]], max_length)
             for i, t in enumerate(texts)]
    return EncodedBatch([x for p in parts for x in p.input_ids],
                        [x for p in parts for x in p.token_type_ids], sum(p.truncated for p in parts))


def test_encode_pairs_output_is_unchanged(tiny_model: Path, tiny_corpus: Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    texts, contexts = _sentences(tiny_corpus)
    texts, contexts = texts + texts[:3], contexts + texts[:3]  # repeats, and texts as contexts
    for ctx in (contexts, None):
        for max_length in (48, 16, 3):
            assert encode_pairs(tok, texts, ctx, max_length) == _one_by_one(
                tok, texts, ctx, max_length)
    assert encode_pairs(tok, [], None, 48) == EncodedBatch([], [], 0)


def test_padded_arrays_match_a_loop():
    ids = [[101, 5, 6, 102], [101, 102], [101, 7, 102, 8, 102]]
    types = [[0, 0, 0, 0], [0, 0], [0, 0, 0, 1, 1]]
    a, t, n = padded_arrays(ids, types, pad_id=0)
    assert a.dtype == t.dtype == np.int64 and a.shape == (3, 5)
    assert n.tolist() == [4, 2, 5]
    for i, (x, y) in enumerate(zip(ids, types, strict=True)):
        assert a[i, : len(x)].tolist() == x and not a[i, len(x) :].any()
        assert t[i, : len(y)].tolist() == y and not t[i, len(y) :].any()


def test_export_writes_files_and_metadata(exported: Path):
    d = exported / ONNX_DIR
    assert (d / ONNX_INT8).is_file() and (d / ONNX_FP32).is_file()
    assert not [p.name for p in d.iterdir() if "tmp" in p.name]  # atomic: no leftovers
    meta = json.loads((d / ONNX_META).read_text())
    assert meta["source_sha256"] == weights_sha256(exported)
    assert meta["axes"] == {"certainty": 3, "attribution": 3}
    assert meta["opset"] >= 17 and meta["quantized"] is True
    assert meta["files"][ONNX_INT8]["quantized"] is True
    assert meta["files"][ONNX_FP32]["quantized"] is False
    assert meta["outputs"] == ["logits_certainty", "logits_attribution"]
    # the int8 file really is quantized
    import onnx

    ops = {n.op_type for n in onnx.load(str(d / ONNX_INT8)).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeMatMul", "DynamicQuantizeLinear"}


def test_fp32_export_matches_torch(exported: Path, tiny_corpus: Path):
    texts, contexts = _sentences(tiny_corpus)
    torch_logits, n_trunc = TorchBackend(exported, num_threads=1).logits(texts, contexts, 48, 7)
    onnx_backend = OnnxBackend(exported, num_threads=1, path=exported / ONNX_DIR / ONNX_FP32)
    onnx_logits, n_trunc_onnx = onnx_backend.logits(texts, contexts, 48, 7)
    assert n_trunc == n_trunc_onnx == 1
    for axis in ("certainty", "attribution"):
        pt, po = _softmax(torch_logits[axis]), _softmax(onnx_logits[axis])
        assert (pt.argmax(1) == po.argmax(1)).all()
        assert np.abs(pt - po).max() < 1e-4


def test_int8_export_agrees_with_torch(exported: Path, tiny_corpus: Path):
    texts, contexts = _sentences(tiny_corpus)
    torch_p = Predictor(exported, backend="torch", num_threads=1).probabilities(texts, contexts)
    onnx_p = Predictor(exported, backend="onnx", num_threads=1).probabilities(texts, contexts)
    for axis in ("certainty", "attribution"):
        assert onnx_p[axis].shape == torch_p[axis].shape
        agree = (onnx_p[axis].argmax(1) == torch_p[axis].argmax(1)).mean()
        assert agree >= 0.9, (axis, agree)
        np.testing.assert_allclose(onnx_p[axis].sum(1), 1.0, rtol=1e-5)


def test_predictor_onnx_exports_on_first_use(model_copy: Path, capsys: pytest.CaptureFixture):
    assert not (model_copy / ONNX_DIR).exists()
    p = Predictor(model_copy, backend="onnx", num_threads=1)
    err = capsys.readouterr().err
    assert (model_copy / ONNX_DIR / ONNX_INT8).is_file()
    assert len(err.strip().splitlines()) == 1 and "exporting" in err
    one = p.predict("Officials said the plan would probably fail.")
    assert one["certainty"] in p.labels["certainty"]
    records = p.score_articles([(SEEDS / "000_6a4537974038aad6.txt").read_text()])
    assert records and all("p_attribution_named" in r for r in records)
    torch_records = Predictor(model_copy, num_threads=1).score_articles(
        [(SEEDS / "000_6a4537974038aad6.txt").read_text()])
    assert [r["text"] for r in records] == [r["text"] for r in torch_records]
    for axis in ("certainty", "attribution"):  # and labels as the torch backend gives them
        agree = np.mean([a[axis] == b[axis] for a, b in zip(records, torch_records, strict=True)])
        assert agree >= 0.9, (axis, agree)
    # the second load reuses the export silently
    Predictor(model_copy, backend="onnx", num_threads=1)
    assert capsys.readouterr().err == ""


def test_corrupt_onnx_file_is_a_one_line_error(model_copy: Path):
    path = export_onnx(model_copy)
    path.write_bytes(b"not an onnx file" * 100)
    with pytest.raises(ModelLoadError) as info:
        Predictor(model_copy, backend="onnx")
    msg = str(info.value)
    assert str(path) in msg and "corrupt" in msg and "\n" not in msg
    with pytest.raises(ModelLoadError, match="no such ONNX file"):
        OnnxBackend(model_copy, path=model_copy / "missing.onnx")


def test_changed_weights_are_re_exported(model_copy: Path, tiny_corpus: Path,
                                         capsys: pytest.CaptureFixture):
    import torch
    from safetensors.torch import load_file, save_file

    export_onnx(model_copy, quantize=True)
    old_sha = weights_sha256(model_copy)
    state = load_file(str(model_copy / WEIGHTS))
    state["heads.certainty.bias"] = state["heads.certainty.bias"] + torch.tensor([0.0, 0.0, 5.0])
    save_file(state, str(model_copy / WEIGHTS), metadata={"format": "pt"})
    # an explicit file made from the old weights is refused, not silently used
    with pytest.raises(ModelLoadError, match="stale"):
        load_onnx_session(model_copy, model_copy / ONNX_DIR / ONNX_INT8, 1)
    capsys.readouterr()
    load_onnx_session(model_copy, None, 1)
    assert "stale" in capsys.readouterr().err
    meta = json.loads((model_copy / ONNX_DIR / ONNX_META).read_text())
    assert meta["source_sha256"] == weights_sha256(model_copy) != old_sha
    texts, contexts = _sentences(tiny_corpus)
    onnx_p = Predictor(model_copy, backend="onnx", num_threads=1).probabilities(texts, contexts)
    torch_p = Predictor(model_copy, num_threads=1).probabilities(texts, contexts)
    # the shifted bias makes "unclear" win almost everywhere, in both backends
    assert (onnx_p["certainty"].argmax(1) == torch_p["certainty"].argmax(1)).mean() >= 0.9
    assert (torch_p["certainty"].argmax(1) == 2).mean() > 0.5


def test_read_only_model_exports_to_cache(model_copy: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch):
    import stance.export as ex

    monkeypatch.setenv("STANCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ex.os, "access", lambda *_a, **_k: False)  # root ignores chmod
    _session, _tok, axes = load_onnx_session(model_copy, None, 1)
    assert axes == {"certainty": 3, "attribution": 3}
    cached = tmp_path / "cache" / "onnx" / weights_sha256(model_copy) / ONNX_INT8
    assert cached.is_file() and not (model_copy / ONNX_DIR).exists()


def test_cli_export(model_copy: Path, tmp_path: Path):
    runner = CliRunner()
    r = runner.invoke(app, ["export", str(model_copy)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert (model_copy / ONNX_DIR / ONNX_INT8).is_file() and "wrote" in r.output
    out = tmp_path / "fp32.onnx"
    r = runner.invoke(app, ["export", str(model_copy), "-o", str(out), "--no-quantize"],
                      catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert out.is_file()
    r = runner.invoke(app, ["export", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "no such model directory" in r.output


@pytest.mark.slow
def test_dynamo_exporter_fallback(model_copy: Path, tiny_corpus: Path,
                                  monkeypatch: pytest.MonkeyPatch):
    """A torch without the TorchScript exporter still exports (via dynamo; ~20 s)."""
    import torch

    real = torch.onnx.export

    def no_torchscript(*args, dynamo=True, **kwargs):
        if not dynamo:
            raise RuntimeError("TorchScript exporter removed")
        return real(*args, dynamo=dynamo, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", no_torchscript)
    path = export_onnx(model_copy, quantize=False)
    meta = json.loads((path.parent / ONNX_META).read_text())
    assert meta["files"][ONNX_FP32]["exporter"] == "dynamo" and meta["opset"] >= 18
    texts, contexts = _sentences(tiny_corpus)
    pt, _ = TorchBackend(model_copy, num_threads=1).logits(texts, contexts, 48, 16)
    po, _ = OnnxBackend(model_copy, num_threads=1, path=path).logits(texts, contexts, 48, 16)
    for axis in pt:
        assert np.abs(_softmax(pt[axis]) - _softmax(po[axis])).max() < 1e-4
