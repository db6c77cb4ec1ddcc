"""Command line: one thin module per command; each parses options and calls a library function."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import typer

app = typer.Typer(
    name="stance",
    help="Label how news outlets hedge (certainty) and source (attribution) each sentence, "
    "and compare outlets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error to stderr and exit (never a traceback for user errors)."""
    typer.echo(f"stance: error: {message}", err=True)
    raise typer.Exit(code)


def friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors users cause (bad files, configs, models) into one-line messages."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from stance.config import ConfigError
        from stance.corpus import CorpusError
        from stance.modeling import ModelLoadError

        try:
            return func(*args, **kwargs)
        except (ConfigError, CorpusError, ModelLoadError, FileNotFoundError, ValueError) as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted", 130)

    return wrapper


def main() -> None:
    from stance.cli import data, evaluate, export, score, train  # noqa: F401  (registers commands)

    try:
        app()
    except BrokenPipeError:  # `stance score --json | head`
        sys.exit(0)
