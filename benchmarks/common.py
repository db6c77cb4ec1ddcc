"""Shared by the benchmark scripts: each owns one marked section of docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def replace_section(markdown: str | Path, name: str, body: str) -> None:
    """Replace what lies between <!-- NAME:begin --> and <!-- NAME:end -->, leaving the rest."""
    p = Path(markdown)
    text = p.read_text(encoding="utf-8")
    a, b = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if a not in text or b not in text:
        raise SystemExit(f"{p}: no {a} ... {b} section to replace")
    text = text[: text.index(a) + len(a)] + "\n" + body.rstrip("\n") + "\n" + text[text.index(b):]
    from stance.io import atomic_write_text

    atomic_write_text(p, text)
