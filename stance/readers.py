"""Readers: turn the files users have into `Article`s, and every failure into a `ReadError`.

A reader never raises on bad input: it yields a `ReadError` naming the file (and line) and goes on,
so one bad article never stops a batch. `read_articles` adds up what was read and skipped.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from stance.outlets import infer_outlet

TEXT_SUFFIXES = {".txt", ".text", ".md"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
CSV_SUFFIXES = {".csv", ".tsv"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
SUPPORTED = TEXT_SUFFIXES | JSONL_SUFFIXES | CSV_SUFFIXES | HTML_SUFFIXES
MANIFEST_NAMES = ("manifest.csv", "manifest.jsonl")
_BINARY_SNIFF = 8192


@dataclass
class Article:
    """One input article. `outlet_origin` says where the outlet came from, so inferred outlets
    are never mistaken for given ones."""

    id: str
    text: str
    outlet: str = "unknown"
    title: str | None = None
    source: str = ""
    outlet_origin: str = "unknown"  # manifest | column | directory | html-metadata | inferred | unknown
    story: str | None = None
    notes: list[str] = field(default_factory=list)
    is_html: bool = False


@dataclass
class ReadError:
    """A failure to read one file or one record; `str()` is the one-line message users see."""

    source: str
    message: str
    line: int | None = None
    id: str | None = None

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "line": self.line, "id": self.id, "error": self.message}


@dataclass
class ReaderOptions:
    """Column names for tabular inputs, an optional manifest, and whether to guess outlets."""

    text_column: str = "text"
    outlet_column: str = "outlet"
    title_column: str = "title"
    id_column: str = "id"
    story_column: str = "story"
    manifest: Path | None = None
    infer_outlets: bool = True
    outlet_from_dirname: bool = True


@dataclass
class ReadSummary:
    read: int = 0
    skipped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, item: Article | ReadError) -> None:
        if isinstance(item, Article):
            self.read += 1
        else:
            self.skipped += 1
            self.reasons[_reason_key(item.message)] += 1

    def __str__(self) -> str:
        why = "; ".join(f"{k}: {v}" for k, v in self.reasons.most_common())
        return f"{self.read} articles read, {self.skipped} skipped" + (f" ({why})" if why else "")


def _reason_key(message: str) -> str:
    return message.split(":")[0].split("(")[0].strip()


# ---------------------------------------------------------------------------- decoding


def decode_bytes(data: bytes) -> tuple[str, str | None]:
    """Decode as UTF-8; otherwise with the declared fallback cp1252 (the usual encoding of
    non-UTF-8 Western news text; detectors guess badly on short articles) and say so."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "not valid UTF-8; decoded as cp1252"
    except UnicodeDecodeError:  # the 5 bytes cp1252 leaves undefined
        return data.decode("latin-1"), "not valid UTF-8; decoded as latin-1"


def _read_text_file(path: Path) -> tuple[str, list[str]] | ReadError:
    """Read a file as text (with any decoding note), or say in one line why it cannot be."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return ReadError(str(path), f"unreadable: {exc.strerror or exc}")
    if b"\x00" in data[:_BINARY_SNIFF]:
        return ReadError(str(path), "binary file (contains NUL bytes), not text")
    text, note = decode_bytes(data)
    return text, [note] if note else []


# ---------------------------------------------------------------------------- manifests


def load_manifest(path: Path) -> dict[str, dict[str, str]]:
    """Map file name (and relative path) -> {outlet, title, story, id}. Raises ValueError."""
    rows: list[dict[str, str]] = []
    if path.suffix.lower() in JSONL_SUFFIXES:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{i}: invalid JSON in manifest: {exc.msg}") from None
    else:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    out: dict[str, dict[str, str]] = {}
    for i, row in enumerate(rows, 2):
        key = row.get("file") or row.get("path")
        if not key:
            raise ValueError(f"{path}:{i}: manifest row has no 'file' column")
        out[str(key)] = {k: str(v) for k, v in row.items() if v not in (None, "")}
    return out


def _manifest_entry(manifest: dict[str, dict[str, str]], path: Path, root: Path | None) -> dict[str, str]:
    keys = [path.name, str(path)]
    if root is not None:
        with contextlib.suppress(ValueError):
            keys.insert(0, str(path.relative_to(root)))
    for key in keys:
        if key in manifest:
            return manifest[key]
    return {}


# ---------------------------------------------------------------------------- per-format readers


def _finish(article: Article, opts: ReaderOptions) -> Article:
    """Fill in an outlet from text signatures when none was given, marked as inferred."""
    if article.outlet == "unknown" and opts.infer_outlets:
        guess = infer_outlet(article.text)
        if guess is not None:
            article.outlet = guess.outlet
            article.outlet_origin = "inferred"
            article.notes.append(f"outlet inferred from text: {guess.evidence}")
    return article


def read_text_file(
    path: Path, opts: ReaderOptions, manifest: dict[str, dict[str, str]] | None = None,
    root: Path | None = None,
) -> Iterator[Article | ReadError]:
    raw = _read_text_file(path)
    if isinstance(raw, ReadError):
        yield raw
        return
    text, notes = raw
    if not text.strip():
        yield ReadError(str(path), "empty file")
        return
    yield _finish(_file_article(path, text, notes, opts, manifest, root), opts)


def _file_article(path: Path, text: str, notes: list[str], opts: ReaderOptions,
                  manifest: dict[str, dict[str, str]] | None, root: Path | None,
                  title: str | None = None) -> Article:
    """An article from one file: id, title, story and outlet from the manifest, else the folder."""
    entry = _manifest_entry(manifest or {}, path, root)
    art = Article(id=entry.get("id") or path.stem, text=text, source=str(path), notes=notes,
                  title=entry.get("title") or title, story=entry.get("story") or None)
    if entry.get("outlet"):
        art.outlet, art.outlet_origin = entry["outlet"], "manifest"
    elif opts.outlet_from_dirname and root is not None and path.parent != root:
        art.outlet, art.outlet_origin = path.parent.name, "directory"
    return art


def read_html_file(
    path: Path, opts: ReaderOptions, manifest: dict[str, dict[str, str]] | None = None,
    root: Path | None = None,
) -> Iterator[Article | ReadError]:
    raw = _read_text_file(path)
    if isinstance(raw, ReadError):
        yield raw
        return
    html, notes = raw
    if not html.strip():
        yield ReadError(str(path), "empty file")
        return
    extracted = extract_html(html)
    if extracted is None:
        yield ReadError(str(path), "no article text found in HTML")
        return
    text, title, sitename = extracted
    art = _file_article(path, text, notes, opts, manifest, root, title=title)
    art.is_html = True
    if art.outlet_origin == "unknown" and sitename and opts.infer_outlets:
        art.outlet, art.outlet_origin = sitename, "html-metadata"
    yield _finish(art, opts)


def extract_html(html: str) -> tuple[str, str | None, str | None] | None:
    """Main text, title and site name of a page, via trafilatura (boilerplate-aware extraction)."""
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, include_tables=False,
                               include_images=False, favor_precision=True)
    if not text or not text.strip():
        text = trafilatura.extract(html, include_comments=False, favor_recall=True)
    if not text or not text.strip():
        return None
    meta = trafilatura.extract_metadata(html)
    title = meta.title if meta is not None else None
    site = meta.sitename if meta is not None else None
    if title and not text.lstrip().startswith(title):
        text = title + "\n\n" + text  # keep the headline, marked as such by the cleaner
    return text, title, site


def _record_to_article(
    rec: dict[str, object], opts: ReaderOptions, source: str, line: int, default_id: str
) -> Article | ReadError:
    if not isinstance(rec, dict):
        return ReadError(source, "record is not a JSON object", line)
    if opts.text_column not in rec:
        cols = ", ".join(sorted(map(str, rec))) or "none"
        return ReadError(source, f"missing text field {opts.text_column!r} (fields: {cols})", line)
    text = rec[opts.text_column]
    rid = str(rec.get(opts.id_column) or default_id)
    if not isinstance(text, str) or not text.strip():
        return ReadError(source, f"empty text in field {opts.text_column!r}", line, rid)
    outlet = rec.get(opts.outlet_column)
    title = rec.get(opts.title_column)
    story = rec.get(opts.story_column)
    art = Article(id=rid, text=text, source=source, title=str(title) if title else None,
                  story=str(story) if story not in (None, "") else None)
    if outlet not in (None, ""):
        art.outlet, art.outlet_origin = str(outlet), "column"
    return _finish(art, opts)


def read_jsonl(path: Path | str, opts: ReaderOptions, stream: io.TextIOBase | None = None
               ) -> Iterator[Article | ReadError]:
    source = str(path)
    if stream is None:
        raw = _read_text_file(Path(path))
        if isinstance(raw, ReadError):
            yield raw
            return
        content, notes = raw
        lines: Iterable[str] = content.splitlines()
    else:
        lines, notes = stream, []
    stem = Path(source).stem
    n = 0
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        n += 1
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            yield ReadError(source, f"invalid JSON: {exc.msg} (column {exc.colno})", lineno)
            continue
        item = _record_to_article(rec, opts, source, lineno, f"{stem}-{lineno}")
        if isinstance(item, Article):
            item.notes.extend(notes)
        yield item
    if n == 0:
        yield ReadError(source, "empty file")


def read_csv(path: Path, opts: ReaderOptions) -> Iterator[Article | ReadError]:
    raw = _read_text_file(path)
    if isinstance(raw, ReadError):
        yield raw
        return
    content, notes = raw
    if not content.strip():
        yield ReadError(str(path), "empty file")
        return
    delim = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=delim)
    fields = reader.fieldnames or []
    if opts.text_column not in fields:
        yield ReadError(str(path), f"no column {opts.text_column!r} (columns: {', '.join(fields)}); "
                        "set --text-column")
        return
    try:
        for i, row in enumerate(reader, 2):  # line 1 is the header
            if None in row:
                yield ReadError(str(path), "row has more fields than the header", reader.line_num)
                continue
            item = _record_to_article(dict(row), opts, str(path), reader.line_num, f"{path.stem}-{i}")
            if isinstance(item, Article):
                item.notes.extend(notes)
            yield item
    except csv.Error as exc:
        yield ReadError(str(path), f"malformed CSV: {exc}", reader.line_num)


# ---------------------------------------------------------------------------- dispatch


def _files_under(directory: Path, extra_suffixes: frozenset[str] = frozenset()) -> list[Path]:
    return sorted(
        p for p in directory.rglob("*")
        if p.is_file() and p.suffix.lower() in SUPPORTED | extra_suffixes and p.name not in MANIFEST_NAMES
        and not p.name.lower().startswith("readme")
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def directory_collection(path: Path, opts: ReaderOptions, manifest: dict[str, dict[str, str]],
                         extra_suffixes: frozenset[str] = frozenset()
                         ) -> tuple[list[Path], dict[str, dict[str, str]], list[ReadError]]:
    """The files a directory stands for, the manifest that applies to them, and manifest errors.

    A folder with its own manifest is the collection the manifest lists (so notes, labels and
    READMEs beside the articles are not read as articles)."""
    local = dict(manifest)
    errors: list[ReadError] = []
    for name in MANIFEST_NAMES:
        if opts.manifest is None and (path / name).is_file():
            try:
                local.update(load_manifest(path / name))
            except (OSError, ValueError, csv.Error) as exc:
                errors.append(ReadError(str(path / name), f"bad manifest: {exc}"))
    files = _files_under(path, extra_suffixes)
    if local and opts.manifest is None:
        files = [f for f in files if _manifest_entry(local, f, path)]
    if not files:
        kinds = ", ".join(sorted(SUPPORTED | extra_suffixes))
        errors.append(ReadError(str(path), f"directory has no readable files ({kinds})"))
    return files, local, errors


def iter_articles(inputs: Iterable[str | Path], opts: ReaderOptions | None = None
                  ) -> Iterator[Article | ReadError]:
    """Yield an `Article` or a `ReadError` for everything under `inputs` ('-' is stdin)."""
    opts = opts or ReaderOptions()
    manifest: dict[str, dict[str, str]] = {}
    if opts.manifest is not None:
        try:
            manifest = load_manifest(Path(opts.manifest))
        except (OSError, ValueError, csv.Error) as exc:
            yield ReadError(str(opts.manifest), f"bad manifest: {exc}")
    for item in inputs:
        if str(item) == "-":
            yield from _read_stdin(opts)
            continue
        path = Path(item)
        if path.is_dir():
            files, local, errors = directory_collection(path, opts, manifest)
            yield from errors
            for f in files:
                yield from _read_one(f, opts, local, path)
        elif not path.exists():
            yield ReadError(str(path), "no such file or directory")
        else:
            yield from _read_one(path, opts, manifest, None)


def _read_one(path: Path, opts: ReaderOptions, manifest: dict[str, dict[str, str]],
              root: Path | None) -> Iterator[Article | ReadError]:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from read_jsonl(path, opts)
    elif suffix in CSV_SUFFIXES:
        yield from read_csv(path, opts)
    elif suffix in HTML_SUFFIXES:
        yield from read_html_file(path, opts, manifest, root)
    else:  # plain text, whatever the suffix: a bad guess shows up as binary/empty errors
        yield from read_text_file(path, opts, manifest, root)


def _read_stdin(opts: ReaderOptions) -> Iterator[Article | ReadError]:
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    text, note = decode_bytes(data)
    if not text.strip():
        yield ReadError("<stdin>", "empty input")
        return
    if text.lstrip().startswith("{"):
        yield from read_jsonl("<stdin>", opts, stream=io.StringIO(text))  # type: ignore[arg-type]
        return
    art = Article(id="stdin", text=text, source="<stdin>", notes=[note] if note else [])
    yield _finish(art, opts)


def read_articles(inputs: Iterable[str | Path], opts: ReaderOptions | None = None
                  ) -> tuple[list[Article], list[ReadError], ReadSummary]:
    """Read everything; return articles, errors and the read/skipped tally."""
    arts: list[Article] = []
    errs: list[ReadError] = []
    summary = ReadSummary()
    for item in iter_articles(inputs, opts):
        summary.add(item)
        (arts if isinstance(item, Article) else errs).append(item)  # type: ignore[arg-type]
    return arts, errs, summary
