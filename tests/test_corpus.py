"""The shipped corpus files and the labelled-format loader."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import Counter
from pathlib import Path

import pytest

from stance.corpus import (
    CorpusError,
    assign_splits,
    load_labelled,
    load_splits,
    near_duplicate_pairs,
    stats,
)
from stance.labels import ATTRIBUTION, CERTAINTY
from tests.conftest import ROOT

DATA = ROOT / "training/data"


@pytest.fixture(scope="module")
def splits():
    return load_splits(DATA)


def test_corpus_size_and_balance(splits):
    rows = [r for v in splits.values() for r in v]
    assert len({r.article_id for r in rows}) >= 350
    assert len(rows) >= 5000
    combos = Counter((r.certainty, r.attribution) for r in rows)
    for c in CERTAINTY:
        for a in ATTRIBUTION:
            assert combos[(c, a)] >= 300, (c, a)
    assert len({r.topic for r in rows}) >= 12
    assert len({r.outlet_style for r in rows}) >= 8


def test_no_leakage_between_splits(splits):
    owner: dict[str, str] = {}
    story_owner: dict[str, str] = {}
    for split, rows in splits.items():
        for r in rows:
            assert owner.setdefault(r.article_id, split) == split, r.article_id
            assert story_owner.setdefault(r.story_id, split) == split, r.story_id
    s = stats(splits)
    assert s["duplicates"]["cross_split_pairs"] == 0
    assert s["duplicates"]["articles_in_several_splits"] == 0


def test_heldout_topics_only_in_test(splits):
    for split in ("train", "dev"):
        assert not {r.topic for r in splits[split]} & {"sports", "culture"}
    assert {"sports", "culture"} <= {r.topic for r in splits["test"]}
    assert {r.topic for r in splits["test"]} - {"sports", "culture"}, "test needs in-distribution articles too"


def test_context_is_previous_sentence(splits):
    for rows in splits.values():
        by_article: dict[str, list] = {}
        for r in rows:
            by_article.setdefault(r.article_id, []).append(r)
        for arts in by_article.values():
            arts.sort(key=lambda r: r.sentence_index)
            assert arts[0].context == "" and arts[0].is_headline
            for prev, cur in itertools.pairwise(arts):
                assert cur.context == prev.text


def test_near_duplicates_are_few(splits):
    rows = [r for v in splits.values() for r in v]
    pairs = near_duplicate_pairs([r.text for r in rows])
    assert len(pairs) <= 0.01 * len(rows)


def test_seed_labels_are_valid_and_never_in_training(splits):
    seeds = load_labelled(ROOT / "seeds/labels.jsonl")
    assert len(seeds) == 93
    train_texts = {r.text for r in splits["train"]}
    assert not any(s.text in train_texts for s in seeds)
    cross = [p for p in near_duplicate_pairs([s.text for s in seeds] + sorted(train_texts))
             if p[0] < len(seeds) <= p[1]]
    assert cross == []


def test_near_duplicate_pairs_finds_paraphrase_and_ignores_different():
    texts = ["The council approved the budget on Tuesday by a vote of seven to two.",
             "The council approved the budget on Tuesday by a vote of eight to one.",
             "Heavy rain flooded the valley overnight."]
    pairs = near_duplicate_pairs(texts)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]


def test_assign_splits_keeps_stories_together(splits):
    rows = splits["train"][:600]
    out = assign_splits(rows, heldout_topics=[], seed=1)
    story_split: dict[str, set[str]] = {}
    for r in rows:
        story_split.setdefault(r.story_id, set()).add(out[r.article_id])
    assert all(len(v) == 1 for v in story_split.values())


def test_adding_a_collection_leaves_earlier_splits_unchanged(splits):
    first = [r for v in splits.values() for r in v if r.topic in {"health", "business"}]
    before = assign_splits(first, heldout_topics=[], seed=3)
    added = [dataclasses.replace(r, article_id="new-" + r.article_id, story_id="new-" + r.story_id,
                                 text=f"Fresh sentence number {k} about nothing in particular here.")
             for k, r in enumerate(first)]
    collection_of = {r.article_id: "" for r in first} | {r.article_id: "v2" for r in added}
    after = assign_splits(first + added, heldout_topics=[], seed=3, collection_of=collection_of)
    assert {a: after[a] for a in before} == before
    new_splits = Counter(after[r.article_id] for r in added)
    assert set(new_splits) == {"train", "dev", "test"}
    # without collections, the same additions reshuffle the first collection's stories
    mixed = assign_splits(first + added, heldout_topics=[], seed=3)
    assert {a: mixed[a] for a in before} != before


def test_near_duplicate_of_an_earlier_collection_joins_its_split(splits):
    first = [r for v in splits.values() for r in v if r.topic == "health"]
    before = assign_splits(first, heldout_topics=[], seed=3)
    src = next(r for r in first if len(r.text.split()) > 12 and before[r.article_id] == "dev")
    copy = dataclasses.replace(src, article_id="new-1", story_id="new-s1", sentence_index=0)
    after = assign_splits([*first, copy], heldout_topics=[], seed=3,
                          collection_of={r.article_id: "" for r in first} | {"new-1": "v2"})
    assert after["new-1"] == "dev"
    assert {a: after[a] for a in before} == before


def _write(tmp_path: Path, rows: list) -> Path:
    p = tmp_path / "x.jsonl"
    p.write_text("".join((json.dumps(r) if not isinstance(r, str) else r) + "\n" for r in rows),
                 encoding="utf-8")
    return p


GOOD = {"article_id": "a", "sentence_index": 0, "text": "It rained.", "certainty": "confirmed",
        "attribution": "none"}


@pytest.mark.parametrize(("row", "message"), [
    ({**GOOD, "certainty": "sure"},
     "x.jsonl:2: unknown certainty label 'sure' (expected one of: confirmed, believed, unclear)"),
    ({**GOOD, "text": "  "}, "x.jsonl:2: empty text"),
    ({k: v for k, v in GOOD.items() if k != "attribution"}, "x.jsonl:2: missing field(s) attribution"),
    ({**GOOD, "colour": "red"}, "x.jsonl:2: unknown field(s) colour"),
    ("{oops", "x.jsonl:2: invalid JSON"),
    ({**GOOD, "sentence_index": -1}, "x.jsonl:2: sentence_index must be a non-negative integer"),
    (GOOD, "x.jsonl:2: duplicate sentence a#0"),
])
def test_loader_errors_name_file_and_line(tmp_path: Path, row, message: str):
    p = _write(tmp_path, [GOOD, row])
    with pytest.raises(CorpusError) as exc:
        load_labelled(p)
    assert message in str(exc.value)


def test_loader_missing_and_empty(tmp_path: Path):
    with pytest.raises(CorpusError, match="no such file"):
        load_labelled(tmp_path / "none.jsonl")
    (tmp_path / "e.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no labelled rows"):
        load_labelled(tmp_path / "e.jsonl")


def test_collection_stats_cover_every_authored_article(splits):
    from stance.corpus import collection_stats

    cs = collection_stats(ROOT / "training/data/raw")
    raw = ROOT / "training/data/raw"
    assert set(cs) == {"(first)"} | {d.name for d in raw.iterdir() if d.is_dir() and any(d.glob("*.jsonl"))}
    assert sum(c["articles"] for c in cs.values()) == len({r.article_id for v in splits.values() for r in v})
    assert sum(c["sentences"] for c in cs.values()) == sum(len(v) for v in splits.values())


def test_split_rows_carry_their_collection(splits, tmp_path: Path):
    from stance.corpus import load_raw, write_labelled

    collection_of = {r.article_id: r.collection for r in load_raw(ROOT / "training/data/raw")}
    rows = [r for v in splits.values() for r in v]
    assert all(r.collection == collection_of[r.article_id] for r in rows)
    first = next(r for r in rows if not r.collection)
    later = next(r for r in rows if r.collection)
    write_labelled([first, later], tmp_path / "x.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "x.jsonl").read_text().splitlines()]
    assert "collection" not in lines[0]  # first-collection rows are written as before the field existed
    assert lines[1]["collection"] == later.collection
    assert load_labelled(tmp_path / "x.jsonl") == [first, later]
