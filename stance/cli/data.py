"""`stance data build|stats|validate`: the labelled corpus."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from stance.cli import app, friendly_errors

#: the project's adjudicated labels, applied by default when building from the repository root
PROJECT_ADJUDICATIONS = Path("training/annotation/adjudications.jsonl")

data_app = typer.Typer(help="Build, check and describe labelled corpora.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("stats")
@friendly_errors
def stats_cmd(
    directory: Path = typer.Argument(Path("training/data"), help="folder with train/dev/test.jsonl"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    raw: Path | None = typer.Option(None, "--raw", help="also describe each collection of authored "
                                    "batches in this folder (e.g. training/data/raw)"),
) -> None:
    """Per-split counts per label combination, topic and outlet style, and the duplicate check."""
    from rich.console import Console
    from rich.table import Table

    from stance.corpus import collection_stats, load_splits, stats
    from stance.labels import ATTRIBUTION, CERTAINTY

    s = stats(load_splits(directory))
    if raw is not None:
        s["collections"] = collection_stats(raw)
    if as_json:
        typer.echo(json.dumps(s, indent=2, ensure_ascii=False))
        return
    console = Console()
    splits = [k for k in s if k not in ("duplicates", "collections", "stories")]
    t = Table(title=f"{directory}: sentences per certainty x attribution")
    t.add_column("label")
    for sp in splits:
        t.add_column(sp, justify="right")
    t.add_column("total", justify="right")
    for c in CERTAINTY:
        for a in ATTRIBUTION:
            vals = [s[sp]["labels"][f"{c}/{a}"] for sp in splits]
            t.add_row(f"{c}/{a}", *map(str, vals), str(sum(vals)))
    for key in ("articles", "sentences", "body_sentences", "headlines"):
        vals = [s[sp][key] for sp in splits]
        t.add_row(key, *map(str, vals), str(sum(vals)), style="bold")
    console.print(t)
    for field, title in (("topics", "topic"), ("outlet_styles", "outlet style")):
        t = Table(title=f"sentences per {title}")
        t.add_column(title)
        for sp in splits:
            t.add_column(sp, justify="right")
        keys = sorted({k for sp in splits for k in s[sp][field]})
        for k in keys:
            t.add_row(k, *(str(s[sp][field].get(k, 0)) for sp in splits))
        console.print(t)
    t = Table(title="articles / sentences per collection")
    t.add_column("collection")
    for sp in splits:
        t.add_column(sp, justify="right")
    for c in sorted({c for sp in splits for c in s[sp]["collections"]}):
        cells = [s[sp]["collections"].get(c, {"articles": 0, "sentences": 0}) for sp in splits]
        t.add_row(c, *(f"{x['articles']} / {x['sentences']}" for x in cells))
    console.print(t)
    st = s["stories"]
    console.print(f"stories: {st['stories']}, of which {st['covered_by_several_outlets']} covered by several "
                  f"outlets ({st['articles_in_those']} articles)")
    if "collections" in s:
        t = Table(title=f"collections in {raw} (first-pass labels)")
        t.add_column("collection")
        for c in next(iter(s["collections"].values())):
            t.add_column(c.replace("_", " "), justify="right")
        for name, c in s["collections"].items():
            t.add_row(name, *(str(v) for v in c.values()))
        console.print(t)
    d = s["duplicates"]
    console.print(f"near-duplicates ({d['measure']} >= {d['threshold']}): {d['near_duplicate_pairs']} pairs "
                  f"in all, {d['cross_split_pairs']} across splits; articles in several splits: "
                  f"{d['articles_in_several_splits']}")


@data_app.command("build")
@friendly_errors
def build_cmd(
    raw: Path = typer.Argument(Path("training/data/raw"), help="folder of authored article batches"),
    output: Path = typer.Option(Path("training/data"), "--output", "-o"),
    seed: int = typer.Option(0, "--seed"),
    adjudications: Path | None = typer.Option(
        None, "--adjudications",
        help=f"label decisions that replace first-pass labels [default: {PROJECT_ADJUDICATIONS} if present]"),
) -> None:
    """Authored articles -> train/dev/test sentence files (split by story, held-out topics in test;
    each sub-folder of RAW is a collection split on its own)."""
    from stance.corpus import HELDOUT_TOPICS, build_corpus

    if adjudications is None and PROJECT_ADJUDICATIONS.is_file():
        adjudications = PROJECT_ADJUDICATIONS
    typer.echo(f"adjudications: {adjudications or 'none'}")
    out = build_corpus(raw, output, HELDOUT_TOPICS, seed=seed, adjudications=adjudications)
    for split, rows in out.items():
        typer.echo(f"{split}: {len({r.article_id for r in rows})} articles, {len(rows)} sentences")


@data_app.command("validate")
@friendly_errors
def validate_cmd(files: list[Path] = typer.Argument(..., help="labelled JSONL files")) -> None:
    """Check every row of labelled files; the first bad row is reported with file and line."""
    from stance.corpus import load_labelled

    for f in files:
        rows = load_labelled(f)
        typer.echo(f"{f}: {len(rows)} rows OK")
