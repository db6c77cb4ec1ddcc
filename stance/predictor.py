"""`Predictor`: load a model once, label sentences or whole articles, return plain data.

Mirrors its input like SetFit's `predict`: a string gives one result, a list gives a list.
Sentence records are flat dicts (one column per probability) so they go straight into pandas,
CSV or Parquet without any torch knowledge.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np

from stance.labels import UNCERTAIN
from stance.readers import Article

DEFAULT_MODEL_ENV = "STANCE_MODEL"


def default_model_dir() -> Path:
    """$STANCE_MODEL, else the model shipped in the repository's models/default."""
    env = os.environ.get(DEFAULT_MODEL_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "models" / "default"


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class ArticleResult:
    """One article's sentence records, or the one-line error that stopped it."""

    article: Article
    records: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    removed: int = 0


class Predictor:
    """Label sentences on both axes with calibrated probabilities."""

    def __init__(self, model_dir: str | Path, backend: str = "torch", device: str = "cpu",
                 batch_size: int = 64, num_threads: int | None = None,
                 min_confidence: float = 0.0) -> None:
        from stance.modeling import read_meta

        self.model_dir = Path(model_dir)
        self.meta = read_meta(self.model_dir)
        self.labels: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in self.meta["labels"].items()}
        self.use_context = bool(self.meta.get("use_context", True))
        self.max_length = int(self.meta.get("max_length", 128))
        self.batch_size = batch_size
        self.min_confidence = min_confidence
        self.backend = backend
        self.truncated = 0  # sentences cut to the model's length limit so far
        if backend == "torch":
            from stance.backends import TorchBackend

            self._backend: Any = TorchBackend(self.model_dir, device=device, num_threads=num_threads)
        elif backend == "onnx":
            from stance.backends import OnnxBackend

            self._backend = OnnxBackend(self.model_dir, num_threads=num_threads)
        else:
            raise ValueError(f"unknown backend {backend!r} (expected 'torch' or 'onnx')")
        self.temperature = self.meta.get("temperature", {})

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, **kwargs: Any) -> Predictor:
        """Load a model directory; with no path, the default shipped model."""
        return cls(path if path is not None else default_model_dir(), **kwargs)

    # ------------------------------------------------------------------ sentences

    def probabilities(self, texts: Sequence[str], contexts: Sequence[str] | None = None,
                      progress: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
        """Calibrated probabilities per axis, shape (n, n_labels), input order."""
        if not texts:
            return {axis: np.zeros((0, len(labs)), dtype=np.float32) for axis, labs in self.labels.items()}
        ctx = list(contexts) if (contexts is not None and self.use_context) else None
        if self.use_context and ctx is None:
            ctx = [""] * len(texts)
        logits, truncated = self._backend.logits(list(texts), ctx, self.max_length,
                                                 self.batch_size, progress)
        self.truncated += truncated
        return {axis: _softmax(logits[axis] / float(self.temperature.get(axis, 1.0)))
                for axis in self.labels}

    @overload
    def predict(self, inputs: str, context: str | None = None) -> dict[str, Any]: ...
    @overload
    def predict(self, inputs: list[str], context: list[str] | None = None) -> list[dict[str, Any]]: ...

    def predict(self, inputs: str | Sequence[str], context: str | Sequence[str] | None = None
                ) -> dict[str, Any] | list[dict[str, Any]]:
        """Label one sentence (str -> dict) or many (list -> list of dicts).

        `context` is the preceding sentence(s), used by models trained with use_context (it matters
        for quote continuations) and ignored by sentence-alone models such as the shipped one."""
        single = isinstance(inputs, str)
        texts = [inputs] if single else list(inputs)  # type: ignore[list-item]
        if context is None:
            ctx = None
        elif isinstance(context, str):
            ctx = [context]
        else:
            ctx = list(context)
        if ctx is not None and len(ctx) != len(texts):
            raise ValueError(f"got {len(texts)} sentences but {len(ctx)} contexts")
        probs = self.probabilities(texts, ctx)
        results = []
        for i in range(len(texts)):
            res: dict[str, Any] = {"text": texts[i]}
            for axis, labs in self.labels.items():
                p = probs[axis][i]
                top = int(p.argmax())
                res[axis] = labs[top] if p[top] >= self.min_confidence else UNCERTAIN
                res[f"{axis}_probs"] = {lab: float(p[k]) for k, lab in enumerate(labs)}
            results.append(res)
        return results[0] if single else results

    # ------------------------------------------------------------------ articles

    def score_article(self, article: Article | str, as_frame: bool = False) -> Any:
        """Sentence records of one article (or raw text); raises ValueError if it has no sentences."""
        res = next(iter(self.iter_scored([_as_article(article, 0)])))
        if res.error is not None:
            raise ValueError(f"{res.article.source or res.article.id}: {res.error}")
        return _frame(res.records) if as_frame else res.records

    def score_articles(self, articles: Iterable[Article | str], as_frame: bool = False,
                       errors: str = "raise") -> Any:
        """Sentence records of many articles. errors='raise' stops at a bad article;
        errors='skip' leaves it out (use `iter_scored` to see why)."""
        records: list[dict[str, Any]] = []
        for res in self.iter_scored(_as_article(a, i) for i, a in enumerate(articles)):
            if res.error is not None:
                if errors == "raise":
                    raise ValueError(f"{res.article.source or res.article.id}: {res.error}")
                continue
            records.extend(res.records)
        return _frame(records) if as_frame else records

    def iter_scored(self, articles: Iterable[Article], chunk_sentences: int = 2048,
                    progress: Callable[[int], None] | None = None) -> Iterable[ArticleResult]:
        """Score articles in chunks of sentences (batching across articles), yielding one
        ArticleResult per article, in order. A failing article yields its error; others go on."""
        pending: list[tuple[Any, ArticleResult]] = []
        n_pending = 0
        for art, doc, error in _prepared(articles):
            res = ArticleResult(art)
            if doc is None:
                res.error = error
                pending.append((None, res))
                continue
            res.removed = len(doc.clean.removed)
            pending.append((doc, res))
            n_pending += len(doc.sentences)
            if n_pending >= chunk_sentences:
                yield from self._flush(pending, progress)
                pending, n_pending = [], 0
        yield from self._flush(pending, progress)

    def _flush(self, pending: list[tuple[Any, ArticleResult]],
               progress: Callable[[int], None] | None) -> list[ArticleResult]:
        docs = [d for d, _ in pending if d is not None]
        texts = [s.text for d in docs for s in d.sentences]
        contexts = [c for d in docs for c in d.contexts]
        try:
            probs = self.probabilities(texts, contexts, progress)
        except Exception as exc:  # pragma: no cover - a backend failure fails the whole chunk
            for d, res in pending:
                if d is not None:
                    res.error = f"model failed: {exc}"
            return [res for _, res in pending]
        offset = 0
        for doc, res in pending:
            if doc is None:
                continue
            for k, s in enumerate(doc.sentences):
                res.records.append(self._record(doc, s, {a: p[offset + k] for a, p in probs.items()}))
            offset += len(doc.sentences)
        return [res for _, res in pending]

    def _record(self, doc: Any, s: Any, probs: dict[str, np.ndarray]) -> dict[str, Any]:
        art = doc.article
        rec: dict[str, Any] = {
            "article_id": art.id, "outlet": art.outlet, "outlet_origin": art.outlet_origin,
            "story": art.story, "source": art.source, "sentence_index": s.index,
            "start": s.start, "end": s.end, "paragraph": s.paragraph, "is_headline": s.is_headline,
            "text": s.text,
        }
        for axis, labs in self.labels.items():
            p = probs[axis]
            top = int(p.argmax())
            rec[axis] = labs[top] if p[top] >= self.min_confidence else UNCERTAIN
            rec[f"{axis}_top"] = labs[top]
            rec[f"{axis}_prob"] = round(float(p[top]), 4)
            for k, lab in enumerate(labs):
                rec[f"p_{axis}_{lab}"] = round(float(p[k]), 4)
        return rec


def _prepared(articles: Iterable[Article], ahead: int = 256
              ) -> Iterable[tuple[Article, Any, str | None]]:
    """(article, prepared document or None, error) in input order, cleaned and segmented in a
    background thread: the model's forward pass releases the GIL, so the next chunk's
    segmentation runs while the current chunk is on the model instead of after it."""
    import queue
    import threading

    from stance.document import prepare

    out: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for art in articles:
                try:
                    item = (art, prepare(art), None)
                except Exception as exc:  # one bad article must never stop the batch
                    item = (art, None, str(exc) or type(exc).__name__)
                if not put(item):
                    return
        except BaseException as exc:  # the input iterator itself failed: re-raised below
            put((None, None, exc))
            return
        put(done)

    thread = threading.Thread(target=work, name="stance-prepare", daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is done:
                return
            if item[0] is None and isinstance(item[2], BaseException):
                raise item[2]
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def _as_article(item: Article | str, i: int) -> Article:
    if isinstance(item, Article):
        return item
    if isinstance(item, str):
        return Article(id=f"text-{i}", text=item, source="<text>")
    raise TypeError(f"expected an Article or a string, got {type(item).__name__}")


def _frame(records: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame.from_records(records)
