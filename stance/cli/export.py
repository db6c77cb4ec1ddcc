"""`stance export MODEL`: the int8 ONNX fast path."""

from __future__ import annotations

from pathlib import Path

import typer

from stance.cli import app, friendly_errors


@app.command()
@friendly_errors
def export(
    model: Path = typer.Argument(..., help="model directory"),
    output: Path | None = typer.Option(None, "--output", "-o", help="default: MODEL/onnx/"),
    no_quantize: bool = typer.Option(False, "--no-quantize", help="keep fp32 (no int8)"),
) -> None:
    """Export a model to ONNX and quantize it to int8 for `--backend onnx`."""
    from stance.export import export_onnx

    path = export_onnx(model, output, quantize=not no_quantize)
    typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
