"""The main job as a library function: read inputs, label every sentence, aggregate, write outputs.

`score_inputs` returns the tables as data (the CLI only prints them). Every input article ends up
either in the sentence/article tables or in the errors table; nothing is dropped silently.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stance import aggregate
from stance.io import atomic_open, atomic_write_text
from stance.readers import Article, ReaderOptions, ReadError, ReadSummary, iter_articles

FORMATS = ("jsonl", "csv", "parquet")


@dataclass
class ScoreOptions:
    model: str | None = None
    backend: str = "torch"
    device: str = "cpu"
    batch_size: int = 64
    num_threads: int | None = None
    min_confidence: float = 0.0
    format: str = "jsonl"
    by_story: bool = False
    report: bool = True
    n_boot: int = aggregate.N_BOOT


@dataclass
class ScoreResult:
    sentences: pd.DataFrame
    articles: pd.DataFrame
    outlets: pd.DataFrame
    stories: pd.DataFrame | None
    errors: list[dict[str, Any]]
    read: ReadSummary
    truncated: int = 0
    seconds: float = 0.0
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def n_failed(self) -> int:
        return len(self.errors)

    def summary(self) -> dict[str, Any]:
        cols = ["outlet", "n_articles", "n_sentences", "hedged_share", "hedged_share_lo",
                "hedged_share_hi", "hedging_index", "anonymous_share", "anonymous_share_lo",
                "anonymous_share_hi", "anonymous_of_attributed", "ci_unit"]
        out = self.outlets[[c for c in cols if c in self.outlets]] if len(self.outlets) else self.outlets
        return {
            "articles_read": self.read.read,
            "articles_scored": int(self.articles["status"].eq("scored").sum()) if len(self.articles) else 0,
            "articles_failed": self.n_failed,
            "sentences": len(self.sentences),
            "truncated_sentences": self.truncated,
            "seconds": round(self.seconds, 2),
            "outlets": json.loads(out.to_json(orient="records")) if len(out) else [],
            "errors": self.errors,
            "files": {k: str(v) for k, v in self.files.items()},
        }


def score_inputs(inputs: Sequence[str | Path], out_dir: str | Path | None, reader: ReaderOptions,
                 opts: ScoreOptions, predictor: Any = None,
                 progress: Callable[[str, int, int], None] | None = None) -> ScoreResult:
    """Score everything under `inputs`; write outputs to `out_dir` (None = write nothing)."""
    from stance.predictor import Predictor

    t0 = time.time()
    if opts.format not in FORMATS:
        raise ValueError(f"unknown format {opts.format!r} (expected one of {', '.join(FORMATS)})")
    if predictor is None:
        predictor = Predictor.from_pretrained(opts.model, backend=opts.backend, device=opts.device,
                                              batch_size=opts.batch_size, num_threads=opts.num_threads,
                                              min_confidence=opts.min_confidence)
    summary = ReadSummary()
    articles: list[Article] = []
    errors: list[dict[str, Any]] = []
    for item in iter_articles(inputs, reader):
        summary.add(item)
        if isinstance(item, ReadError):
            errors.append({**item.to_dict(), "stage": "read"})
        else:
            articles.append(item)
    _dedupe_ids(articles)
    records: list[dict[str, Any]] = []
    article_rows: list[dict[str, Any]] = []
    for done, res in enumerate(predictor.iter_scored(articles), 1):
        if progress is not None:
            progress("articles", done, len(articles))
        if res.error is not None:
            errors.append({"source": res.article.source, "line": None, "id": res.article.id,
                           "error": res.error, "stage": "score"})
            article_rows.append(_article_stub(res.article, "error", res.error))
        else:
            records.extend(res.records)
            article_rows.append(_article_stub(res.article, "scored", None, res.removed))
    sentences = pd.DataFrame.from_records(records)
    stories = None
    if len(sentences):
        per_article = aggregate.article_table(sentences)
        outlets = aggregate.outlet_table(sentences, n_boot=opts.n_boot)
        if opts.by_story:
            stories = aggregate.story_table(sentences, n_boot=opts.n_boot)
    else:
        per_article, outlets = pd.DataFrame(), pd.DataFrame()
    ledger = pd.DataFrame(article_rows)
    if len(per_article):
        ledger = ledger.merge(per_article.drop(columns=["outlet", "story", "source"]), on="article_id",
                              how="left")
    result = ScoreResult(sentences, ledger, outlets, stories, errors, summary,
                         truncated=predictor.truncated, seconds=time.time() - t0)
    if out_dir is not None:
        result.files = write_outputs(result, Path(out_dir), opts, str(predictor.model_dir),
                                     predictor.backend)
    return result


def _dedupe_ids(articles: list[Article]) -> None:
    """Article ids must be unique in the outputs; suffix repeats (same file name in two dirs)."""
    seen: dict[str, int] = {}
    for art in articles:
        n = seen.get(art.id, 0)
        seen[art.id] = n + 1
        if n:
            art.id = f"{art.id}~{n + 1}"


def _article_stub(art: Article, status: str, error: str | None, removed: int = 0) -> dict[str, Any]:
    return {"article_id": art.id, "outlet": art.outlet, "outlet_origin": art.outlet_origin,
            "story": art.story, "title": art.title, "source": art.source, "status": status,
            "error": error, "boilerplate_lines_removed": removed, "notes": "; ".join(art.notes)}


def write_outputs(result: ScoreResult, out_dir: Path, opts: ScoreOptions, model: str, backend: str,
                  sentences: bool = True, report: bool = True) -> dict[str, Path]:
    """Every file is written to a temporary name and renamed into place. The Ray engine passes
    sentences=False (its sentences stay in Parquet shards) and no report when it did not load them;
    the report is written only when opts.report asks for it too."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    if sentences:
        files["sentences"] = out_dir / f"sentences.{opts.format}"
        _write_table(result.sentences, files["sentences"], opts.format)
    for name, df in (("articles", result.articles), ("outlets", result.outlets),
                     ("stories", result.stories)):
        if df is not None:
            files[name] = out_dir / f"{name}.csv"
            _write_table(df, files[name], "csv")
    files["errors"] = out_dir / "errors.jsonl"
    atomic_write_text(files["errors"], "".join(json.dumps(e, ensure_ascii=False) + "\n"
                                               for e in result.errors))
    if opts.report and report:
        from stance.report import render_report

        files["report"] = out_dir / "report.html"
        meta = {"model": model, "backend": backend, "min_confidence": opts.min_confidence,
                "summary": result.summary()}
        atomic_write_text(files["report"], render_report(result.sentences, result.outlets,
                                                         result.stories, result.articles, meta))
    return files


def _write_table(df: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "jsonl":
        text = df.to_json(orient="records", lines=True, force_ascii=False) if len(df) else ""
        atomic_write_text(path, text if text.endswith("\n") or not text else text + "\n")
    elif fmt == "csv":
        with atomic_open(path, "w") as fh:
            df.to_csv(fh, index=False)
    elif fmt == "parquet":
        with atomic_open(path, "wb") as fh:
            df.to_parquet(fh, index=False)
    else:  # pragma: no cover - checked in score_inputs
        raise ValueError(fmt)
