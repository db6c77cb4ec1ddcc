"""`stance evaluate MODEL DATA`"""

from __future__ import annotations

from pathlib import Path

import typer

from stance.cli import app, friendly_errors


@app.command()
@friendly_errors
def evaluate(
    model: str = typer.Argument(..., help="model directory, or a baseline: 'rules' or 'tfidf'"),
    data: Path = typer.Argument(..., help="labelled JSONL (corpus format)"),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="write metrics.json, confusion.png, errors.jsonl here"),
    baselines: bool = typer.Option(False, "--baselines", help="also evaluate both baselines"),
    train_data: str = typer.Option("training/data/train.jsonl", "--train-data",
                                   help="what the tfidf baseline is fitted on"),
    backend: str = typer.Option("torch", "--backend", help="torch or onnx"),
) -> None:
    """Per-axis accuracy, macro-F1, per-class P/R/F1 and confusion matrices."""
    from rich.console import Console
    from rich.table import Table

    from stance.evaluation import evaluate as run
    from stance.labels import AXES

    names = [model] + ([b for b in ("rules", "tfidf") if b != model] if baselines else [])
    results = []
    for name in names:
        sub = None if output is None else (output if name == model else output / name)
        results.append(run(name, data, sub, train_data=train_data, backend=backend))
    console = Console()
    main = results[0]
    for axis in AXES:
        m = main.metrics[axis]
        t = Table(title=f"{main.name}: {axis} (n={m['n']}, accuracy {m['accuracy']:.3f}, "
                        f"macro-F1 {m['macro_f1']:.3f})")
        for col in ("label", "precision", "recall", "F1", "support"):
            t.add_column(col, justify="right" if col != "label" else "left")
        for lab, v in m["per_class"].items():
            t.add_row(lab, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"]))
        console.print(t)
        cm = Table(title=f"confusion ({axis}): rows gold, columns predicted")
        cm.add_column("")
        for lab in m["labels"]:
            cm.add_column(lab, justify="right")
        for lab, row in zip(m["labels"], m["confusion"], strict=True):
            cm.add_row(lab, *map(str, row))
        console.print(cm)
    if len(results) > 1:
        t = Table(title=f"comparison on {data}")
        for col in ("system", "certainty acc", "certainty macro-F1", "attribution acc", "attribution macro-F1"):
            t.add_column(col)
        for r in results:
            c, a = r.metrics["certainty"], r.metrics["attribution"]
            t.add_row(r.name, f"{c['accuracy']:.3f}", f"{c['macro_f1']:.3f}", f"{a['accuracy']:.3f}",
                      f"{a['macro_f1']:.3f}")
        console.print(t)
    if output is not None:
        console.print(f"wrote {output}/metrics.json, confusion.png, errors.jsonl")
