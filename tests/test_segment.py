from __future__ import annotations

import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from stance.clean import boilerplate_rule, clean_text, normalize, repair_glue
from stance.document import prepare
from stance.readers import read_articles
from stance.segment import segment, split_sentences
from tests.conftest import SEEDS

# (body sentences, headlines) per seed file, and a few exact sentences each must contain
EXPECTED = {
    "000_6a4537974038aad6": (13, 1, [
        "U.S. officials view this as a significantly scaled-down version of the Chinese government's "
        "initial plan when the war in Ukraine started, which was to sell lethal weapons systems for "
        "Russia's use on the battlefield.",
        "The sources could not share what China's response was to the U.S. raising concerns, and could "
        "not provide specifics on the type of equipment Chinese companies have sold to Russia.",
        "Although Mr. Biden and Chinese President Xi Jinping have met many times in person and virtually "
        "before, November marked their first in-person meeting since Mr. Biden became president two years ago.",
    ]),
    "001_b466b2da8fae8e1c": (24, 0, [
        "US officials declined to provide details of communications between the Biden administration and Beijing.",
        "But China has scaled back those plans significantly since then, this person said — in what the "
        "Biden administration considers a victory.",
    ]),
    "002_325aec625226946b": (24, 1, [
        "“I know there’s some press reports out there talking about some trade deals,” Pentagon spokesman "
        "Brig. Gen. Patrick Ryder said, responding to the report at the time.",
        "“That in and of itself is not unusual.",
        "China and Russia share a trade relationship.",
        "“This plant could be fully operational early next year.”",
    ]),
    "003_6f19afad46f3fd0b": (19, 0, [
        "A spokesperson for National Security Council declined to comment.",
        "We have not yet seen them cross that line, but we don’t think they have taken it off the table,” "
        "according to a source familiar.",
    ]),
    "004_a039f286250d0bdd": (13, 2, [
        "However, it remains unknown if any of the rifles have made it to the battlefield.",
        "He urged Chinese counterparts to be vigilant in policing this matter.",
    ]),
}

BOILERPLATE = [
    "Leave a Reply", "Your email address will not be published", "Required fields are marked",
    "Related Content", "Related Articles", "CLICK HERE TO READ MORE", "Adblock Detected",
    "disabling your ad blocker", "© 2023", "Leah Millis", "APTOPIX", "Video Embed",
    "BIDEN FACES PROSPECT", "source: NBCNEWS", "Sponsored Content", "Back to top",
    "does not always share or support the views",
]


def _docs():
    arts, errs, _ = read_articles([SEEDS])
    assert errs == []
    return {a.id: prepare(a) for a in arts}


def test_seed_sentences_counts_and_exact_sentences():
    docs = _docs()
    assert set(docs) == set(EXPECTED)
    for aid, (n_body, n_head, must) in EXPECTED.items():
        sents = docs[aid].sentences
        body = [s.text for s in sents if not s.is_headline]
        assert (len(body), len(sents) - len(body)) == (n_body, n_head), aid
        for m in must:
            assert m in body, (aid, m)


def test_seed_boilerplate_removed_and_no_body_text_lost():
    for aid, doc in _docs().items():
        kept = " ".join(s.text for s in doc.sentences)
        for b in BOILERPLATE:
            assert b not in kept, (aid, b)
        raw = normalize((SEEDS / f"{aid}.txt").read_text(encoding="utf-8"))
        removed = {line for line, _ in doc.clean.removed}
        # every non-boilerplate word of the raw file survives (only whitespace and glue change)
        for line in raw.splitlines():
            line = line.strip()
            if not line or line in removed:
                continue
            words = re.findall(r"\w+", line)
            assert words == re.findall(r"\w+", " ".join(
                s.text for s in doc.sentences if s.paragraph == _paragraph_of(doc, line))), (aid, line[:50])


def _paragraph_of(doc, line: str) -> int:
    fixed, _ = repair_glue(line)
    for i, p in enumerate(doc.clean.paragraphs):
        if doc.clean.text[p.start:p.end] in (line, fixed):
            return i
    raise AssertionError(f"paragraph not found: {line[:60]}")


def test_seed_headlines_marked():
    docs = _docs()
    heads = {aid: [s.text for s in d.sentences if s.is_headline] for aid, d in docs.items()}
    assert heads["000_6a4537974038aad6"] == [
        "Biden administration has raised concerns with China about companies selling aid to Russia"]
    assert heads["002_325aec625226946b"] == [
        "US ‘concerned’ private Chinese companies could give military aid to Russia"]
    assert heads["004_a039f286250d0bdd"][1] == (
        "The U.S. Concerned About Chinese Companies’ Potential Aid to Russia in Ukraine")


def test_glue_repair():
    assert repair_glue("the war on Ukraine.The sources could not")[0] == "the war on Ukraine. The sources could not"
    assert repair_glue("the U.S. officials")[0] == "the U.S. officials"
    assert repair_glue("visit example.com today")[0] == "visit example.com today"
    _clean, sents = segment("Headline here\nThe war on Ukraine.The sources said so.")
    assert [s.text for s in sents][1:] == ["The war on Ukraine.", "The sources said so."]


def test_boilerplate_rules():
    for line, rule in [
        ("Leave a Reply", "comment form"), ("Related Articles", "related links"),
        ("Click here to read more", "read-more promo"), ("Adblock Detected", "ad-blocker notice"),
        ("© 2024 Example Media. All rights reserved.", "copyright line"), ("Video Embed", "video embed"),
        ("(Jane Doe/Reuters)", "photo caption"), (".", "lone punctuation"), ("— —", "lone punctuation"),
        ("source: NBCNEWS", "source line"),
    ]:
        assert boilerplate_rule(line) == rule, line
    for line in ["The ministry said it would comment later.", "Watchdogs said the deal was unusual.",
                 "Sources said the vote was close."]:
        assert boilerplate_rule(line) is None, line


def test_abbreviations_quotes_dashes():
    text = ("Headline\nMr. Ortiz met Brig. Gen. Ana Ruiz in the U.S. capital on Monday. "
            "“We are not there yet. We will be,” she said. "
            "The plan — approved in Jan. 2023 — stalled.")
    _, sents = segment(text)
    assert [s.text for s in sents if not s.is_headline] == [
        "Mr. Ortiz met Brig. Gen. Ana Ruiz in the U.S. capital on Monday.",
        "“We are not there yet.",
        "We will be,” she said.",
        "The plan — approved in Jan. 2023 — stalled.",
    ]


def test_split_sentences_plain_api():
    assert split_sentences("One here. Two there.\n\nThree now.") == ["One here.", "Two there.", "Three now."]


_word = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"), min_size=1, max_size=9)
_sentence = st.builds(
    lambda words, end, quote: (("“" if quote else "") + " ".join(words).capitalize() + end
                               + ("”" if quote else "")),
    st.lists(_word, min_size=3, max_size=12), st.sampled_from([".", "!", "?", ".", "."]), st.booleans())
_paragraph = st.lists(_sentence, min_size=1, max_size=5).map(" ".join)
_article = st.lists(_paragraph, min_size=1, max_size=5).map("\n\n".join)


@settings(max_examples=60, deadline=None)
@given(_article)
def test_offsets_slice_back_and_nothing_lost(text: str):
    clean, sents = segment(text)
    for s in sents:
        assert clean.text[s.start:s.end] == s.text
        assert s.text == s.text.strip() and s.text
    # sentences are ordered, disjoint, and together cover the cleaned text but for whitespace
    for a, b in itertools.pairwise(sents):
        assert a.end <= b.start
    covered = "".join(s.text for s in sents)
    from collections import Counter

    def squash(x: str) -> str:
        return re.sub(r"\s+", "", x)

    lines = Counter(squash(ln) for ln in normalize(text).split("\n") if ln.strip())
    kept = lines - Counter(squash(ln) for ln, _ in clean.removed)
    paragraphs = [clean.text[p.start:p.end] for p in clean.paragraphs]
    assert Counter(squash(p) for p in paragraphs) == kept
    expected = "".join(paragraphs)
    assert re.sub(r"\s+", "", covered) == re.sub(r"\s+", "", expected)


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_segmenter_never_crashes_and_offsets_hold_on_any_text(text: str):
    clean = clean_text(text)
    _, sents = segment(text)
    for s in sents:
        assert clean.text[s.start:s.end] == s.text
