"""Atomic output: write to a temporary file in the same directory, then rename over the target.

A crash or Ctrl-C mid-write leaves the previous file (or nothing), never half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def temp_beside(target: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A fresh temporary file in the target's directory (so the rename stays on one file
    system), removed unless `replace_into` moved it into place."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def replace_into(tmp: Path, target: Path) -> None:
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are ordinary files
    os.replace(tmp, target)


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    path = Path(path)
    with temp_beside(path) as tmp:
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        replace_into(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)
