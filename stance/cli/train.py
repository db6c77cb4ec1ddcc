"""`stance train CONFIG [section.key=value ...]`"""

from __future__ import annotations

from pathlib import Path

import typer

from stance.cli import app, friendly_errors


@app.command(context_settings={"allow_extra_args": True})
@friendly_errors
def train(
    config: Path = typer.Argument(..., help="TOML training config, e.g. configs/default.toml"),
    overrides: list[str] = typer.Argument(None, help="overrides like training.epochs=3"),
    output: Path | None = typer.Option(None, "--output", "-o", help="model directory (output.dir)"),
    resume: bool = typer.Option(False, "--resume", help="continue from the last finished epoch"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
) -> None:
    """Fine-tune the encoder with both heads; save a self-describing model directory."""
    from stance.config import load_config
    from stance.trainer import train as run

    extra = list(overrides or [])
    if output is not None:
        extra.append(f"output.dir={output}")
    cfg = load_config(config, extra)
    result = run(cfg, resume=resume, progress=not quiet)
    typer.echo(f"saved {result.model_dir} in {result.seconds:.0f} s")
    for name, m in result.metrics.items():
        typer.echo(f"  {name:10s} certainty macro-F1 {m['certainty']['macro_f1']:.4f}  "
                   f"attribution macro-F1 {m['attribution']['macro_f1']:.4f}")
