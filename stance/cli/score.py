"""`stance score INPUT...`"""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from stance.cli import app, fail, friendly_errors


@app.command()
@friendly_errors
def score(
    inputs: list[str] = typer.Argument(..., help="files, directories (recursive), JSONL/CSV, HTML; - for stdin"),
    output: Path = typer.Option(Path("stance-out"), "--output", "-o", help="output directory"),
    model: str | None = typer.Option(None, "--model", "-m", help="model directory (default: shipped model)"),
    backend: str = typer.Option(
        "torch", "--backend", help="torch (fp32: a sentence's label never depends on its batch) or onnx "
        "(int8, 1.5-2x faster; a few labels vary with the batch, see README 'Speed')"),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda[:N] (torch backend)"),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    threads: int | None = typer.Option(None, "--threads", min=1, help="CPU threads (default: all cores)"),
    fmt: str = typer.Option("jsonl", "--format", help="sentences file format: jsonl, csv or parquet"),
    min_confidence: float = typer.Option(0.0, "--min-confidence", min=0.0, max=1.0,
                                         help="below this top probability a label is reported as 'uncertain'"),
    by: str | None = typer.Option(None, "--by", help="'story': compare outlets within each story"),
    manifest: Path | None = typer.Option(None, "--manifest", help="CSV/JSONL: file,outlet,title,story"),
    text_column: str = typer.Option("text", "--text-column"),
    outlet_column: str = typer.Option("outlet", "--outlet-column"),
    title_column: str = typer.Option("title", "--title-column"),
    id_column: str = typer.Option("id", "--id-column"),
    story_column: str = typer.Option("story", "--story-column"),
    no_infer_outlet: bool = typer.Option(False, "--no-infer-outlet", help="never guess outlets from text"),
    no_report: bool = typer.Option(False, "--no-report", help="skip report.html"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar or table"),
    as_json: bool = typer.Option(False, "--json", help="print a machine-readable summary to stdout"),
    allow_errors: bool = typer.Option(False, "--allow-errors", help="exit 0 even if some inputs failed"),
    engine: str = typer.Option("local", "--engine",
                               help="local, or ray: score on a Ray cluster, resumably (docs/ray.md)"),
    ray_address: str | None = typer.Option(None, "--ray-address",
                                           help="Ray cluster: auto or ray://host:10001 "
                                           "(default: start a local Ray)"),
    actors: int = typer.Option(2, "--actors", min=1, help="--engine ray: model actors"),
    cpus_per_actor: float = typer.Option(1.0, "--cpus-per-actor", min=0.0,
                                         help="--engine ray: CPUs reserved per actor"),
    gpus_per_actor: float = typer.Option(0.0, "--gpus-per-actor", min=0.0,
                                         help="--engine ray: GPUs per actor (with --device cuda)"),
) -> None:
    """Label every sentence of the inputs and compare outlets; see docs/outputs.md."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from stance.readers import ReaderOptions
    from stance.scoring import ScoreOptions, score_inputs

    if by not in (None, "story"):
        fail(f"--by must be 'story', got {by!r}")
    if engine not in ("local", "ray"):
        fail(f"--engine must be 'local' or 'ray', got {engine!r}")
    if engine == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            fail("--engine ray needs Ray: pip install 'stance[ray]'")
    reader = ReaderOptions(text_column=text_column, outlet_column=outlet_column,
                           title_column=title_column, id_column=id_column, story_column=story_column,
                           manifest=manifest, infer_outlets=not no_infer_outlet)
    opts = ScoreOptions(model=model, backend=backend, device=device, batch_size=batch_size,
                        num_threads=threads, min_confidence=min_confidence, format=fmt,
                        by_story=by == "story", report=not no_report)

    def run(progress=None):  # type: ignore[no-untyped-def]
        if engine == "ray":  # imported only here: the local engine never imports ray
            from stance.distributed import score_with_ray

            return score_with_ray(inputs, output, reader, opts, address=ray_address,
                                  num_actors=actors, cpus_per_actor=cpus_per_actor,
                                  gpus_per_actor=gpus_per_actor, progress=progress)
        return score_inputs(inputs, output, reader, opts, progress=progress)

    err = Console(stderr=True)
    show = not quiet and not as_json
    if show:
        with Progress(TextColumn("[bold]scoring"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("articles"), TimeElapsedColumn(), console=err, transient=True) as bar:
            task = bar.add_task("score", total=None)

            def progress(_: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = run(progress)
    else:
        result = run()

    for e in result.errors:
        where = f"{e['source']}:{e['line']}" if e.get("line") else e["source"]
        err.print(f"[red]skipped[/red] {where}: {e['error']}", highlight=False)
    if result.truncated:
        err.print(f"[yellow]warning[/yellow]: {result.truncated} sentence(s) longer than the model's "
                  "limit were truncated (still scored)")
    if as_json:
        typer.echo(json.dumps(result.summary(), ensure_ascii=False, default=str))
    elif not quiet:
        _print_table(Console(), result)
        n_sent = len(result.sentences)
        rate = n_sent / result.seconds if result.seconds else 0.0
        err.print(f"{result.read}; {result.n_failed} failed; {n_sent} sentences in "
                  f"{result.seconds:.1f} s ({rate:.0f}/s); outputs in {output}/")
    if result.n_failed and not allow_errors:
        raise typer.Exit(1)


def _pct(v: float, lo: float | None = None, hi: float | None = None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    s = f"{100 * v:.0f}%"
    if lo is not None and hi is not None and not math.isnan(lo):
        s += f" [{100 * lo:.0f}–{100 * hi:.0f}]"
    return s


def _print_table(console, result) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    df = result.outlets
    if not len(df):
        console.print("no sentences scored")
        return
    t = Table(title="Per outlet (body sentences; 95% bootstrap CI)")
    t.add_column("outlet", no_wrap=True)
    for col in ("articles", "sentences", "hedged", "unclear", "anonymous", "anon. of sourced"):
        t.add_column(col, justify="right", no_wrap=col in ("hedged", "anonymous"))
    for _, r in df.iterrows():
        t.add_row(str(r["outlet"]), str(r["n_articles"]), str(r["n_sentences"]),
                  _pct(r["hedged_share"], r["hedged_share_lo"], r["hedged_share_hi"]),
                  _pct(r["share_certainty_unclear"]),
                  _pct(r["anonymous_share"], r["anonymous_share_lo"], r["anonymous_share_hi"]),
                  _pct(r["anonymous_of_attributed"]))
    console.print(t)
