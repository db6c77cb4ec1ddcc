"""The labelled-sentence format: loading with validation, building splits, statistics, duplicates.

One JSONL row per sentence, so users can annotate their own articles in the same format:
    {"article_id": "...", "sentence_index": 0, "text": "...", "certainty": "confirmed",
     "attribution": "named", "context": "<previous sentence>", "outlet": "...", "topic": "...",
     "outlet_style": "...", "story_id": "...", "is_headline": false}
Required: article_id, sentence_index, text, certainty, attribution. `context` defaults to ''.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from stance.labels import ATTRIBUTION, AXES, CERTAINTY

REQUIRED = ("article_id", "sentence_index", "text", "certainty", "attribution")
OPTIONAL = ("context", "outlet", "topic", "outlet_style", "story_id", "is_headline", "collection")
SPLITS = ("train", "dev", "test")
#: word-trigram Jaccard at or above which two sentences count as near-duplicates
NEAR_DUP_THRESHOLD = 0.5


class CorpusError(ValueError):
    """A bad row in a labelled file; the message names file and line."""


@dataclass
class LabelledSentence:
    article_id: str
    sentence_index: int
    text: str
    certainty: str
    attribution: str
    context: str = ""
    outlet: str = ""
    topic: str = ""
    outlet_style: str = ""
    story_id: str = ""
    is_headline: bool = False
    #: the authored collection (sub-folder of raw/) a row comes from; "" = the first collection
    collection: str = ""

    def label(self, axis: str) -> str:
        return str(getattr(self, axis))


def parse_row(row: object, where: str) -> LabelledSentence:
    if not isinstance(row, dict):
        raise CorpusError(f"{where}: row is not a JSON object")
    missing = [k for k in REQUIRED if k not in row]
    if missing:
        raise CorpusError(f"{where}: missing field(s) {', '.join(missing)}")
    unknown = set(row) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        raise CorpusError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    text = row["text"]
    if not isinstance(text, str) or not text.strip():
        raise CorpusError(f"{where}: empty text")
    for axis, labels in AXES.items():
        if row[axis] not in labels:
            raise CorpusError(f"{where}: unknown {axis} label {row[axis]!r} "
                              f"(expected one of: {', '.join(labels)})")
    idx = row["sentence_index"]
    if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
        raise CorpusError(f"{where}: sentence_index must be a non-negative integer, got {idx!r}")
    ctx = row.get("context", "")
    if not isinstance(ctx, str):
        raise CorpusError(f"{where}: context must be a string")
    return LabelledSentence(
        article_id=str(row["article_id"]), sentence_index=idx, text=text,
        certainty=row["certainty"], attribution=row["attribution"], context=ctx,
        outlet=str(row.get("outlet", "")), topic=str(row.get("topic", "")),
        outlet_style=str(row.get("outlet_style", "")), story_id=str(row.get("story_id", "")),
        is_headline=bool(row.get("is_headline", False)), collection=str(row.get("collection", "")),
    )


def load_labelled(path: str | Path) -> list[LabelledSentence]:
    """Load and validate a labelled JSONL file; the first bad row raises CorpusError."""
    p = Path(path)
    if not p.is_file():
        raise CorpusError(f"{p}: no such file")
    rows: list[LabelledSentence] = []
    seen: set[tuple[str, int]] = set()
    with p.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{p}:{lineno}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{where}: invalid JSON: {exc.msg}") from None
            row = parse_row(raw, where)
            key = (row.article_id, row.sentence_index)
            if key in seen:
                raise CorpusError(f"{where}: duplicate sentence {row.article_id}#{row.sentence_index}")
            seen.add(key)
            rows.append(row)
    if not rows:
        raise CorpusError(f"{p}: no labelled rows")
    return rows


def write_labelled(rows: Iterable[LabelledSentence], path: str | Path) -> None:
    from stance.io import atomic_write_text

    atomic_write_text(Path(path), "".join(json.dumps(_row_dict(r), ensure_ascii=False) + "\n" for r in rows))


def _row_dict(r: LabelledSentence) -> dict[str, object]:
    """The row as written; `collection` only when set, so first-collection rows read as before."""
    d = asdict(r)
    if not d["collection"]:
        del d["collection"]
    return d


# ---------------------------------------------------------------------------- raw batches


def rows_from_raw_articles(paths: Sequence[Path]) -> list[LabelledSentence]:
    """Turn authored articles (one per line, sentences in order) into sentence rows with context."""
    rows: list[LabelledSentence] = []
    for path in paths:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            art = json.loads(line)
            prev = ""
            for i, s in enumerate(art["sentences"]):
                row = parse_row({
                    "article_id": art["article_id"], "sentence_index": i, "text": s["text"].strip(),
                    "certainty": s["certainty"], "attribution": s["attribution"], "context": prev,
                    "outlet": art["outlet"], "topic": art["topic"], "outlet_style": art["outlet_style"],
                    "story_id": art["story_id"], "is_headline": bool(s["headline"]),
                }, f"{path}:{lineno} sentence {i}")
                rows.append(row)
                prev = row.text
    return rows


# ---------------------------------------------------------------------------- near-duplicates


def _shingles(text: str) -> set[str]:
    toks = re.findall(r"[a-z0-9']+", text.lower())
    return {" ".join(toks[i : i + 3]) for i in range(max(1, len(toks) - 2))}


def near_duplicate_pairs(texts: Sequence[str], threshold: float = NEAR_DUP_THRESHOLD,
                         min_shingles: int = 3) -> list[tuple[int, int, float]]:
    """All pairs (i, j, jaccard) of word-trigram Jaccard >= threshold, via sparse products."""
    from scipy import sparse

    vocab: dict[str, int] = {}
    indptr, indices = [0], []
    for t in texts:
        sh = _shingles(t)
        if len(sh) < min_shingles:
            sh = set()
        indices.extend(vocab.setdefault(s, len(vocab)) for s in sh)
        indptr.append(len(indices))
    if not vocab:
        return []
    m = sparse.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr),
                          shape=(len(texts), len(vocab)))
    sizes = np.asarray(m.sum(axis=1)).ravel()
    inter = (m @ m.T).tocoo()
    out = []
    for i, j, v in zip(inter.row, inter.col, inter.data, strict=True):
        if i < j:
            jac = v / (sizes[i] + sizes[j] - v)
            if jac >= threshold:
                out.append((int(i), int(j), float(jac)))
    return sorted(out)


# ---------------------------------------------------------------------------- splits


def assign_splits(rows: Sequence[LabelledSentence], heldout_topics: Sequence[str],
                  dev_frac: float = 0.1, test_frac: float = 0.1, seed: int = 0,
                  collection_of: dict[str, str] | None = None) -> dict[str, str]:
    """article_id -> split. Stories (and stories linked by near-duplicate sentences) stay together;
    held-out topics go to test only; other stories are split per topic.

    `collection_of` (article_id -> collection name) splits each collection on its own, in name
    order, so adding a collection leaves the earlier collections' splits exactly as they were
    (results stay comparable across corpus versions). A story linked to an earlier collection by a
    near-duplicate joins that collection's split."""
    collection_of = collection_of or {}
    story_of = {r.article_id: (r.story_id or r.article_id) for r in rows}
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    story_collection: dict[str, str] = {}
    for aid, story in story_of.items():
        c = collection_of.get(aid, "")
        story_collection[story] = min(story_collection.get(story, c), c)
    for s in set(story_of.values()):
        find(s)
    for i, j, _ in near_duplicate_pairs([r.text for r in rows]):
        a, b = find(story_of[rows[i].article_id]), find(story_of[rows[j].article_id])
        if a != b:
            if story_collection[a] < story_collection[b]:  # the earlier collection's group absorbs
                a, b = b, a
            parent[a] = b
            story_collection[b] = min(story_collection[a], story_collection[b])
    # a root's story_collection is now its group's earliest collection
    groups: dict[str, set[str]] = defaultdict(set)
    group_topic: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:  # a group's topic is counted on the rows of its (earliest) collection
        g = find(story_of[r.article_id])
        groups[g].add(r.article_id)
        if collection_of.get(r.article_id, "") == story_collection[g]:
            group_topic[g][r.topic] += 1
    rng = random.Random(seed)
    strata: dict[tuple[str, str], list[str]] = defaultdict(list)
    for g in sorted(groups):
        strata[(story_collection[g], group_topic[g].most_common(1)[0][0])].append(g)
    split_of: dict[str, str] = {}
    for collection, topic in sorted(strata):
        gs = strata[(collection, topic)]
        rng.shuffle(gs)
        if topic in heldout_topics:
            assignment = {g: "test" for g in gs}
        else:
            n_dev = max(1, round(len(gs) * dev_frac))
            n_test = max(1, round(len(gs) * test_frac))
            assignment = {g: ("dev" if k < n_dev else "test" if k < n_dev + n_test else "train")
                          for k, g in enumerate(gs)}
        for g, split in assignment.items():
            for aid in groups[g]:
                split_of[aid] = split
    return split_of


# ---------------------------------------------------------------------------- statistics


def label_table(rows: Sequence[LabelledSentence]) -> dict[tuple[str, str], int]:
    c = Counter((r.certainty, r.attribution) for r in rows)
    return {(a, b): c[(a, b)] for a in CERTAINTY for b in ATTRIBUTION}


def stats(split_rows: dict[str, list[LabelledSentence]]) -> dict[str, object]:
    """Per split: articles, sentences, label combinations, topics, outlet styles, and leaks."""
    out: dict[str, object] = {}
    for split, rows in split_rows.items():
        body = [r for r in rows if not r.is_headline]
        out[split] = {
            "articles": len({r.article_id for r in rows}),
            "sentences": len(rows),
            "body_sentences": len(body),
            "headlines": len(rows) - len(body),
            "labels": {f"{a}/{b}": n for (a, b), n in label_table(rows).items()},
            "certainty": dict(Counter(r.certainty for r in rows)),
            "attribution": dict(Counter(r.attribution for r in rows)),
            "topics": dict(sorted(Counter(r.topic for r in rows).items())),
            "outlet_styles": dict(sorted(Counter(r.outlet_style for r in rows).items())),
            "collections": {c or "(first)": {"articles": len({r.article_id for r in rows if r.collection == c}),
                                             "sentences": sum(r.collection == c for r in rows)}
                            for c in sorted({r.collection for r in rows})},
        }
    articles_of: dict[str, set[str]] = defaultdict(set)
    for rows in split_rows.values():
        for r in rows:
            articles_of[r.story_id or r.article_id].add(r.article_id)
    clusters = [a for a in articles_of.values() if len(a) > 1]
    out["stories"] = {"stories": len(articles_of), "covered_by_several_outlets": len(clusters),
                      "articles_in_those": sum(map(len, clusters))}
    all_rows = [(s, r) for s, rows in split_rows.items() for r in rows]
    pairs = near_duplicate_pairs([r.text for _, r in all_rows])
    cross = [(i, j, v) for i, j, v in pairs if all_rows[i][0] != all_rows[j][0]]
    article_splits: dict[str, set[str]] = defaultdict(set)
    for s, r in all_rows:
        article_splits[r.article_id].add(s)
    out["duplicates"] = {
        "threshold": NEAR_DUP_THRESHOLD,
        "measure": "word-trigram Jaccard",
        "near_duplicate_pairs": len(pairs),
        "cross_split_pairs": len(cross),
        "articles_in_several_splits": sum(len(v) > 1 for v in article_splits.values()),
        "examples": [(all_rows[i][1].text, all_rows[j][1].text, round(v, 2)) for i, j, v in pairs[:5]],
    }
    return out


def collection_stats(raw_dir: str | Path) -> dict[str, dict[str, object]]:
    """Per collection of authored batches (first-pass labels): size, sentence length in words,
    the confirmed share of body sentences and the smallest certainty x attribution cell."""
    rows = load_raw(raw_dir)
    out: dict[str, dict[str, object]] = {}
    for name in dict.fromkeys(r.collection for r in rows):
        mine = [r for r in rows if r.collection == name]
        body = [r for r in mine if not r.is_headline]
        words = [len(r.text.split()) for r in mine]
        per_article = Counter(r.article_id for r in mine)
        out[name or "(first)"] = {
            "articles": len(per_article), "sentences": len(mine), "body_sentences": len(body),
            "sentences_per_article": [min(per_article.values()), max(per_article.values())],
            "words_mean": round(sum(words) / len(words), 1), "words_range": [min(words), max(words)],
            "confirmed_share_of_body": round(sum(r.certainty == "confirmed" for r in body) / len(body), 3),
            "smallest_body_cell": min(label_table(body).values()),
        }
    return out


def load_splits(directory: str | Path) -> dict[str, list[LabelledSentence]]:
    d = Path(directory)
    found = {s: load_labelled(d / f"{s}.jsonl") for s in SPLITS if (d / f"{s}.jsonl").is_file()}
    if not found:
        raise CorpusError(f"{d}: no train/dev/test .jsonl files")
    return found


#: topics kept out of train and dev entirely, so the test split measures generalisation
HELDOUT_TOPICS = ("sports", "culture")


def apply_adjudications(rows: list[LabelledSentence], path: str | Path) -> int:
    """Replace first-pass labels with adjudicated ones ({"id": "article#index", "certainty",
    "attribution", "rule"} per line); returns how many labels changed."""
    by_id = {f"{r.article_id}#{r.sentence_index}": r for r in rows}
    changed = 0
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        rec = json.loads(line)
        row = by_id.get(rec.get("id"))
        if row is None:
            raise CorpusError(f"{where}: no sentence {rec.get('id')!r} in the corpus")
        for axis, labels in AXES.items():
            if rec[axis] not in labels:
                raise CorpusError(f"{where}: unknown {axis} label {rec[axis]!r}")
            if getattr(row, axis) != rec[axis]:
                setattr(row, axis, rec[axis])
                changed += 1
    return changed


def load_raw(raw_dir: str | Path) -> list[LabelledSentence]:
    """First-pass rows of the authored batches, each with its collection: `raw_dir/*.jsonl` is the
    first collection (''), each sub-folder `raw_dir/NAME/*.jsonl` another (see assign_splits)."""
    raw = Path(raw_dir)
    rows: list[LabelledSentence] = []
    folders = [("", raw)] + [(d.name, d) for d in sorted(raw.iterdir()) if d.is_dir()]
    for name, folder in folders:
        for path in sorted(folder.glob("*.jsonl")):
            batch = rows_from_raw_articles([path])
            for r in batch:
                r.collection = name
            rows.extend(batch)
    return rows


def build_corpus(raw_dir: str | Path, out_dir: str | Path, heldout_topics: Sequence[str] = HELDOUT_TOPICS,
                 seed: int = 0, adjudications: str | Path | None = None
                 ) -> dict[str, list[LabelledSentence]]:
    """Authored article batches (+ adjudicated labels) -> validated train/dev/test files."""
    if not Path(raw_dir).is_dir():
        raise CorpusError(f"{raw_dir}: no such directory")
    rows = load_raw(raw_dir)
    if not rows:
        raise CorpusError(f"{raw_dir}: no .jsonl batches")
    if adjudications is not None:
        if not Path(adjudications).is_file():
            raise CorpusError(f"{adjudications}: no such adjudications file")
        apply_adjudications(rows, adjudications)
    split_of = assign_splits(rows, heldout_topics, seed=seed,
                             collection_of={r.article_id: r.collection for r in rows})
    out: dict[str, list[LabelledSentence]] = {s: [] for s in SPLITS}
    for r in rows:
        out[split_of[r.article_id]].append(r)
    for split, split_rows in out.items():
        write_labelled(split_rows, Path(out_dir) / f"{split}.jsonl")
    return out
