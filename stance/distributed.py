"""`score_with_ray`: the `stance score` job on a Ray cluster (or a local Ray), resumable.

Why it looks the way it does:
- Reading runs the *local* readers (`stance.readers`) inside Ray read tasks, one task per group of
  files, so ids, outlets, manifests and error messages are exactly the local engine's. (Ray's
  `read_json` fails the whole job on one malformed line and cannot give the `<stem>-<line>` ids
  of records without an id; `read_binary_files` would hold each whole file in one row.)
- The model runs in an actor pool (`map_batches` with a callable class): each actor loads the
  model once and scores blocks of `batch_articles` articles. A failing article becomes an error
  row of its block; it never fails the job.
- Each scored block is committed as ONE Parquet shard in `out_dir/sentences/`, written to a
  temporary name and renamed into place. The shard's footer also carries the block's article
  ledger (scored and failed articles), so rows, ledger and errors of a block appear together or
  not at all. A re-run skips the article ids found in complete shards; nothing is duplicated.
- Group statistics need only per-article cell counts (`aggregate.article_cell_counts`), which
  are computed shard by shard (an article never spans shards) and fed to the same functions and
  seed as the local engine, so `outlets.csv` / `stories.csv` are identical to a local run.

Supported inputs: what the local reader reads (text/HTML files and directories with manifests,
JSONL, CSV/TSV) plus Parquet (`.parquet`, `.pq`; columns mapped like JSONL, default id
`<stem>-<row>`, 1-based, streamed in row batches). Not supported: stdin (`-`) and URLs
(s3://, gs://). Inputs, the model directory and `out_dir` must be at the same path on every node
(a shared filesystem); see docs/ray.md.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import ray
from ray.data.datasource import FileBasedDatasource

from stance import aggregate
from stance.io import atomic_open, atomic_write_text
from stance.readers import (
    Article,
    ReaderOptions,
    ReadError,
    ReadSummary,
    _manifest_entry,
    _read_one,
    _record_to_article,
    directory_collection,
    load_manifest,
)
from stance.scoring import (
    FORMATS,
    ScoreOptions,
    ScoreResult,
    _article_stub,
    _dedupe_ids,
    write_outputs,
)

SHARD_DIR = "sentences"
RUN_FILE = "_run.json"
PARQUET_SUFFIXES = {".parquet", ".pq"}
META_ARTICLES = b"stance.articles"
META_TRUNCATED = b"stance.truncated"
_READ_CHUNK = 256  # articles per block a read task yields
#: the columns the aggregates need; nothing else is read back for them
AGG_COLUMNS = ["article_id", "outlet", "story", "source", "is_headline", "certainty", "attribution"]

ARTICLE_SCHEMA = pa.schema([
    ("_file", pa.int64()), ("_row", pa.int64()), ("kind", pa.string()),
    ("article_id", pa.string()), ("text", pa.string()), ("outlet", pa.string()),
    ("outlet_origin", pa.string()), ("title", pa.string()), ("story", pa.string()),
    ("source", pa.string()), ("notes", pa.string()), ("line", pa.int64()), ("error", pa.string()),
])


# ---------------------------------------------------------------------------- inputs


@dataclass
class _FileSpec:
    """One input file, with what the local reader would know about it."""

    index: int  # position in the local reader's order
    path: str  # absolute: what read tasks open
    source: str  # as the local reader names it (`str(Path)` of the user's path)
    root: str | None  # the input directory it was found under
    entry: dict[str, str]  # its manifest entry, if any


def _plan(inputs: Sequence[str | Path], opts: ReaderOptions) -> list[_FileSpec | ReadError]:
    """The files to read, in `iter_articles` order, and the errors found before reading any.

    Mirrors `stance.readers.iter_articles`, which reads as it walks; here the walk happens on the
    driver and the reading in Ray tasks."""
    out: list[_FileSpec | ReadError] = []

    def add(path: Path, manifest: dict[str, dict[str, str]], root: Path | None) -> None:
        entry = _manifest_entry(manifest, path, root) if manifest else {}
        out.append(_FileSpec(len(out), os.path.abspath(path), str(path),
                             os.path.abspath(root) if root is not None else None, entry))

    manifest: dict[str, dict[str, str]] = {}
    if opts.manifest is not None:
        try:
            manifest = load_manifest(Path(opts.manifest))
        except (OSError, ValueError, csv.Error) as exc:
            out.append(ReadError(str(opts.manifest), f"bad manifest: {exc}"))
    for item in inputs:
        if str(item) == "-":
            raise ValueError("--engine ray cannot read stdin ('-'); write it to a file first")
        if "://" in str(item):
            raise ValueError(f"{item}: --engine ray reads paths on a shared filesystem, not URLs")
        path = Path(item)
        if path.is_dir():
            files, local, errors = directory_collection(path, opts, manifest, frozenset(PARQUET_SUFFIXES))
            out.extend(errors)
            for f in files:
                add(f, local, path)
        elif not path.exists():
            out.append(ReadError(str(path), "no such file or directory"))
        else:
            add(path, manifest, None)
    return out


def _read_parquet_file(path: Path, source: str, opts: ReaderOptions
                       ) -> Iterator[Article | ReadError]:
    """Articles of a Parquet file, one per row, mapped like JSONL records (row numbers 1-based)."""
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # a corrupt file is one error, not a failed job
        yield ReadError(source, f"unreadable Parquet: {exc}")
        return
    names = set(pf.schema_arrow.names)
    if opts.text_column not in names:
        cols = ", ".join(sorted(names))
        yield ReadError(source, f"no column {opts.text_column!r} (columns: {cols}); "
                        "set --text-column")
        return
    wanted = [c for c in dict.fromkeys([opts.text_column, opts.id_column, opts.outlet_column,
                                        opts.title_column, opts.story_column]) if c in names]
    stem, row = path.stem, 0
    for batch in pf.iter_batches(batch_size=_READ_CHUNK, columns=wanted):
        for rec in batch.to_pylist():
            row += 1
            yield _record_to_article(rec, opts, source, row, f"{stem}-{row}")
    if row == 0:
        yield ReadError(source, "empty file")


def _to_row(spec: _FileSpec, k: int, item: Article | ReadError) -> dict[str, Any]:
    base = {"_file": spec.index, "_row": k, "source": spec.source}
    if isinstance(item, ReadError):
        return {**base, "kind": "error", "article_id": item.id, "line": item.line,
                "error": item.message}
    return {**base, "kind": "article", "article_id": item.id, "text": item.text,
            "outlet": item.outlet, "outlet_origin": item.outlet_origin, "title": item.title,
            "story": item.story, "notes": json.dumps(item.notes, ensure_ascii=False)}


class _ArticleSource(FileBasedDatasource):
    """A Ray datasource that runs the local readers on each file (see the module docstring)."""

    def __init__(self, specs: list[_FileSpec], opts: ReaderOptions) -> None:
        super().__init__([s.path for s in specs])
        self._specs_ref = ray.put({os.path.normpath(s.path): s for s in specs})
        self._opts = opts
        self._specs: dict[str, _FileSpec] | None = None

    def _spec(self, path: str) -> _FileSpec:
        if self._specs is None:
            self._specs = ray.get(self._specs_ref)
        key = os.path.normpath(path if os.path.isabs(path) else "/" + path)
        return self._specs[key]

    def _read_stream(self, f: pa.NativeFile, path: str) -> Iterator[pa.Table]:
        spec = self._spec(path)
        p = Path(spec.path)
        if p.suffix.lower() in PARQUET_SUFFIXES:
            items: Iterator[Article | ReadError] = _read_parquet_file(p, spec.source, self._opts)
        else:
            manifest = {p.name: spec.entry} if spec.entry else {}
            root = Path(spec.root) if spec.root is not None else None
            items = _read_one(p, self._opts, manifest, root)
        rows: list[dict[str, Any]] = []
        for k, item in enumerate(items):
            rows.append(_to_row(spec, k, item))
            if len(rows) >= _READ_CHUNK:
                yield pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA)
                rows = []
        if rows:
            yield pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA)


def _select_pending(batch: pa.Table, done: frozenset[str], renames: dict[tuple[int, int], str]
                    ) -> pa.Table:
    """Keep the articles still to score, under their de-duplicated ids."""
    keep = []
    for row in batch.to_pylist():
        if row["kind"] != "article":
            continue
        row["article_id"] = renames.get((row["_file"], row["_row"]), row["article_id"])
        if row["article_id"] not in done:
            keep.append(row)
    return pa.Table.from_pylist(keep, schema=ARTICLE_SCHEMA)


# ---------------------------------------------------------------------------- scoring


def sentence_schema(labels: dict[str, Sequence[str]]) -> pa.Schema:
    """The Parquet schema of `Predictor` sentence records; fixed so every shard, even an empty
    one, has the same schema (a Parquet dataset takes its schema from one file)."""
    fields: list[tuple[str, pa.DataType]] = [
        ("article_id", pa.string()), ("outlet", pa.string()), ("outlet_origin", pa.string()),
        ("story", pa.string()), ("source", pa.string()), ("sentence_index", pa.int64()),
        ("start", pa.int64()), ("end", pa.int64()), ("paragraph", pa.int64()),
        ("is_headline", pa.bool_()), ("text", pa.string()),
    ]
    for axis, labs in labels.items():
        fields += [(axis, pa.string()), (f"{axis}_top", pa.string()),
                   (f"{axis}_prob", pa.float64())]
        fields += [(f"p_{axis}_{lab}", pa.float64()) for lab in labs]
    return pa.schema(fields)


def shard_name(ids: Sequence[str]) -> str:
    """Deterministic in the set of article ids, so a retried block rewrites the same shard."""
    digest = hashlib.sha1("\n".join(sorted(ids)).encode("utf-8")).hexdigest()[:20]
    return f"part-{digest}.parquet"


class _Scorer:
    """Actor: loads the model once, then scores one block of articles per call and commits it
    as one shard."""

    def __init__(self, opts: ScoreOptions, shard_dir: str, num_threads: int) -> None:
        from stance.predictor import Predictor

        self.predictor = Predictor.from_pretrained(
            opts.model, backend=opts.backend, device=opts.device, batch_size=opts.batch_size,
            num_threads=opts.num_threads or num_threads, min_confidence=opts.min_confidence)
        self.schema = sentence_schema(self.predictor.labels)
        self.shard_dir = Path(shard_dir)

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        articles = [Article(id=r["article_id"], text=r["text"], outlet=r["outlet"],
                            title=r["title"], source=r["source"], outlet_origin=r["outlet_origin"],
                            story=r["story"], notes=json.loads(r["notes"] or "[]")) for r in rows]
        before = self.predictor.truncated
        records: list[dict[str, Any]] = []
        stubs: list[dict[str, Any]] = []
        counts: list[int] = []
        for res in self.predictor.iter_scored(articles):
            if res.error is not None:
                stubs.append(_article_stub(res.article, "error", res.error))
            else:
                records.extend(res.records)
                stubs.append(_article_stub(res.article, "scored", None, res.removed))
            counts.append(len(res.records) if res.error is None else 0)
        if records and set(records[0]) != set(self.schema.names):
            diff = sorted(set(records[0]) ^ set(self.schema.names))
            raise RuntimeError(f"sentence records no longer match sentence_schema: {diff}")
        table = pa.Table.from_pylist(records, schema=self.schema).replace_schema_metadata({
            META_ARTICLES: json.dumps(stubs, ensure_ascii=False).encode("utf-8"),
            META_TRUNCATED: str(self.predictor.truncated - before).encode(),
        })
        name = shard_name([a.id for a in articles])
        with atomic_open(self.shard_dir / name, "wb") as fh:  # temp name + rename: all or nothing
            pq.write_table(table, fh)
        return pa.table({"article_id": [a.id for a in articles],
                         "status": [s["status"] for s in stubs],
                         "n_sentences": pa.array(counts, pa.int64()),
                         "shard": [name] * len(articles)})


# ---------------------------------------------------------------------------- shards


@dataclass
class _Shard:
    path: Path
    stubs: list[dict[str, Any]]
    truncated: int


def _complete_shards(shard_dir: Path) -> list[_Shard]:
    """Shards renamed into place, in name order. Leftover temp files of an interrupted run are
    removed: they are never complete, and their articles are simply scored again."""
    if not shard_dir.is_dir():
        return []
    for tmp in shard_dir.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()
    out = []
    for path in sorted(shard_dir.glob("part-*.parquet")):
        meta = pq.read_schema(path).metadata or {}
        out.append(_Shard(path, json.loads(meta.get(META_ARTICLES, b"[]")),
                          int(meta.get(META_TRUNCATED, b"0"))))
    return out


def _check_run(out_dir: Path, opts: ScoreOptions) -> None:
    """Refuse to mix labels of two models (or thresholds) in one output directory."""
    from stance.modeling import read_meta
    from stance.predictor import default_model_dir

    model = Path(opts.model) if opts.model is not None else default_model_dir()
    read_meta(model)  # a bad model path fails here, on the driver, with a readable message
    run = {"model": str(model.resolve()), "backend": opts.backend,
           "min_confidence": opts.min_confidence}
    path = out_dir / SHARD_DIR / RUN_FILE
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != run:
            raise ValueError(f"{out_dir / SHARD_DIR} holds sentences scored with other settings "
                             f"({old}); use another --output or delete that directory")
    else:
        atomic_write_text(path, json.dumps(run, indent=2) + "\n")


# ---------------------------------------------------------------------------- the job


def _init_ray(address: str | None, num_actors: int, cpus_per_actor: float) -> bool:
    """Start (or join) Ray; True if this call started it and should shut it down."""
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "ignore_reinit_error": True,
                              "log_to_driver": False}
    if address is None:  # room for the actors and at least one reader task
        kwargs["num_cpus"] = max(os.cpu_count() or 1, math.ceil(num_actors * cpus_per_actor) + 1)
    ray.init(address=address, **kwargs)
    return True


def score_with_ray(inputs: Sequence[str | Path], out_dir: str | Path, reader: ReaderOptions,
                   opts: ScoreOptions, address: str | None = None, num_actors: int = 2,
                   cpus_per_actor: float = 1, gpus_per_actor: float = 0, batch_articles: int = 64,
                   load_sentences: bool = True,
                   progress: Callable[[str, int, int], None] | None = None) -> ScoreResult:
    """Score `inputs` on Ray into `out_dir`, resuming from the shards already there.

    `load_sentences=False` keeps the sentences on disk (`out_dir/sentences/*.parquet`) instead of
    in the returned result (and skips report.html, which needs them)."""
    t0 = time.time()
    if opts.format not in FORMATS:
        raise ValueError(f"unknown format {opts.format!r} (expected one of {', '.join(FORMATS)})")
    if num_actors < 1 or batch_articles < 1:
        raise ValueError("num_actors and batch_articles must be at least 1")
    out = Path(out_dir)
    shard_dir = out / SHARD_DIR
    plan = _plan(inputs, reader)
    _check_run(out, opts)
    started = _init_ray(address, num_actors, cpus_per_actor)
    try:
        from ray.data import DataContext

        ctx = DataContext.get_current()
        ctx.enable_progress_bars = False  # the CLI draws its own
        ctx.print_on_execution_start = False
        specs = [p for p in plan if isinstance(p, _FileSpec)]
        plan_errors = [(p, i) for i, p in enumerate(plan) if isinstance(p, ReadError)]

        # pass 1: what is there (ids, errors), without the text
        if specs:
            meta = (ray.data.read_datasource(_ArticleSource(specs, reader))
                    .select_columns(["_file", "_row", "kind", "article_id", "source", "line",
                                     "error"]).to_pandas())
        else:
            meta = pd.DataFrame(columns=["_file", "_row", "kind", "article_id", "source", "line",
                                         "error"])
        meta = meta.sort_values(["_file", "_row"], kind="stable").reset_index(drop=True)

        summary = ReadSummary()
        read_errors = [((i, -1), e) for e, i in plan_errors]
        arts = meta[meta["kind"] == "article"]
        for r in meta[meta["kind"] == "error"].to_dict("records"):
            line = None if pd.isna(r["line"]) else int(r["line"])
            aid = None if pd.isna(r["article_id"]) else str(r["article_id"])
            read_errors.append(((int(r["_file"]), int(r["_row"])),
                                ReadError(str(r["source"]), str(r["error"]), line, aid)))
        read_errors.sort(key=lambda x: x[0])
        for _, e in read_errors:
            summary.add(e)
        summary.read = len(arts)

        # the local engine's de-duplication of ids, in the local reading order
        stand_ins = [Article(id=str(a), text="") for a in arts["article_id"]]
        _dedupe_ids(stand_ins)
        final_ids = [a.id for a in stand_ins]
        renames = {(int(f), int(r)): new for f, r, old, new in
                   zip(arts["_file"], arts["_row"], arts["article_id"], final_ids, strict=True)
                   if new != old}
        order = {aid: i for i, aid in enumerate(final_ids)}

        # pass 2: score what no complete shard holds yet
        done = {s["article_id"] for sh in _complete_shards(shard_dir) for s in sh.stubs}
        pending = [a for a in final_ids if a not in done]
        if pending:
            shard_dir.mkdir(parents=True, exist_ok=True)
            # Readers get what the actors leave of the cluster's CPUs, at most one each: with
            # every CPU held by an actor a reader asking for one would never be scheduled.
            spare = ray.cluster_resources().get("CPU", 0.0) - num_actors * cpus_per_actor
            read_cpus = {"num_cpus": min(1.0, max(0.0, spare))}
            ds = (ray.data.read_datasource(_ArticleSource(specs, reader), ray_remote_args=read_cpus)
                  .map_batches(_select_pending, batch_format="pyarrow", batch_size=None,
                               fn_kwargs={"done": frozenset(done), "renames": renames})
                  .map_batches(_Scorer, batch_format="pyarrow", batch_size=batch_articles,
                               fn_constructor_kwargs={"opts": opts, "shard_dir": str(shard_dir),
                                                      "num_threads": max(1, int(cpus_per_actor))},
                               compute=ray.data.ActorPoolStrategy(size=num_actors),
                               num_cpus=cpus_per_actor, num_gpus=gpus_per_actor or None))
            n = 0
            for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                n += batch.num_rows
                if progress is not None:
                    progress("articles", n, len(pending))
        result = _collect(shard_dir, order, read_errors, summary, opts, load_sentences)
    finally:
        if started:
            ray.shutdown()
    result.seconds = time.time() - t0
    from stance.predictor import default_model_dir

    result.files = write_outputs(result, out, opts, str(opts.model or default_model_dir()), opts.backend,
                                 sentences=False, report=load_sentences)
    result.files["sentences"] = out / SHARD_DIR
    return result


def _shard_tables(path: str, ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-article cell counts and article rows of one shard's claimed articles (a Ray task:
    the per-article pandas work is the slow part of aggregating, so it runs where the shards are)."""
    df = pq.read_table(path, columns=AGG_COLUMNS).to_pandas()
    df = df[df["article_id"].isin(set(ids))]
    return aggregate.article_cell_counts(df), aggregate.article_table(df)


def _collect(shard_dir: Path, order: dict[str, int],
             read_errors: list[tuple[tuple[int, int], ReadError]], summary: ReadSummary,
             opts: ScoreOptions, load_sentences: bool) -> ScoreResult:
    """Aggregates from the shards, for the articles of this input (an article belongs to the
    first shard, in name order, that holds it; articles no longer in the input are left out)."""
    claimed: set[str] = set()
    stubs: list[dict[str, Any]] = []
    claims: list[tuple[Path, list[str]]] = []
    truncated = 0
    for shard in _complete_shards(shard_dir):
        mine = {s["article_id"] for s in shard.stubs if s["article_id"] in order} - claimed
        if not mine:
            continue
        claimed |= mine
        truncated += shard.truncated
        stubs += [s for s in shard.stubs if s["article_id"] in mine]
        claims.append((shard.path, sorted(mine)))
    task = ray.remote(num_cpus=1)(_shard_tables)
    tables = ray.get([task.remote(str(path), ids) for path, ids in claims])
    counts = [c for c, _ in tables if len(c)]
    per_article = [a for _, a in tables if len(a)]
    sentences = []
    if load_sentences:
        for path, ids in claims:
            df = pq.read_table(path).to_pandas()
            sentences.append(df[df["article_id"].isin(set(ids))])

    stubs.sort(key=lambda s: order[s["article_id"]])
    errors = [{**e.to_dict(), "stage": "read"} for _, e in read_errors]
    errors += [{"source": s["source"], "line": None, "id": s["article_id"], "error": s["error"],
                "stage": "score"} for s in stubs if s["status"] == "error"]
    ledger = pd.DataFrame(stubs)
    stories = None
    if counts:
        cell_counts = pd.concat(counts, ignore_index=True)
        outlets = aggregate.group_table_from_counts(cell_counts, ("outlet",), n_boot=opts.n_boot)
        if opts.by_story:
            stories = aggregate.story_table_from_counts(cell_counts, n_boot=opts.n_boot)
        arts = pd.concat(per_article, ignore_index=True)
        ledger = ledger.merge(arts.drop(columns=["outlet", "story", "source"]), on="article_id",
                              how="left")
    else:
        outlets = pd.DataFrame()
    if any(len(df) for df in sentences):
        sent = pd.concat(sentences, ignore_index=True)
        key = sent["article_id"].map(order)
        sent = (sent.assign(_order=key).sort_values(["_order", "sentence_index"], kind="stable")
                .drop(columns="_order").reset_index(drop=True))
    else:
        sent = pd.DataFrame()
    return ScoreResult(sent, ledger, outlets, stories, errors, summary, truncated=truncated)
