"""Sentence segmentation with character offsets into the cleaned text.

pysbd (rule-based, handles "U.S.", "Mr.", "Brig. Gen.", quotes and ellipses) splits each paragraph;
sentences never cross paragraphs. Offsets are found by searching the cleaned text itself, so
`text[start:end] == sentence.text` always holds, whatever pysbd does internally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from stance.clean import CleanText, clean_text

# pysbd splits after a closing quote followed by a lowercase attribution ("...,” she said.") only
# rarely; these repair the splits it gets wrong on news copy.
_ABBREV_TAIL = re.compile(
    r"\b(?:Gen|Brig|Lt|Col|Maj|Capt|Sgt|Adm|Cmdr|Gov|Sen|Rep|Rev|Hon|Prof|Dr|Mr|Mrs|Ms|St|Mt|Ft|"
    r"Jr|Sr|No|Vol|Inc|Corp|Co|Ltd|Dept|Univ|Ave|Blvd|approx|est|vs|[A-Z])\.$"
)


@dataclass(frozen=True)
class Sentence:
    index: int
    start: int
    end: int
    text: str
    paragraph: int
    is_headline: bool


@lru_cache(maxsize=1)
def _segmenter():  # type: ignore[no-untyped-def]
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


_INNER_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[\"“‘']?[A-Z])")


def _split_inside_quotes(piece: str) -> list[str]:
    """pysbd keeps a multi-sentence quote whole; the codebook labels its sentences one by one."""
    out: list[str] = []
    start = 0
    for m in _INNER_BOUNDARY.finditer(piece):
        head = piece[start : m.start()]
        last = head.rsplit(None, 1)[-1] if head.strip() else ""
        if _ABBREV_TAIL.search(head) or re.search(r"\.\w+\.$", last) or len(head.split()) < 3:
            continue  # "U.S." / "Brig." / initials are not sentence ends
        out.append(head.strip())
        start = m.end()
    out.append(piece[start:].strip())
    return [p for p in out if p]


def _pysbd_sentences(par: str) -> list[str]:
    """pysbd's sentences, without its `segment()`: that finds each sentence again by compiling
    the sentence itself as a regex, a fresh pattern per sentence, which took more than half of
    all segmentation time. The sentences are located below with str.find instead; one that
    cannot be found is dropped, as `segment()` drops it."""
    if not par:
        return []
    return [s for s in _segmenter().processor(par).process() if s.strip()]


def _split_spans(par: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) within one paragraph."""
    pieces = [q for p in _pysbd_sentences(par) for q in _split_inside_quotes(p.strip())]
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in pieces:
        found = _locate(par, piece, cursor)
        if found is None:
            continue
        start, end = found
        cursor = end
        if spans and (
            _ABBREV_TAIL.search(par[spans[-1][0] : spans[-1][1]])  # "Brig." + "Gen. Patrick Ryder said"
            or piece[0].islower()  # "...,” + "the secretary said." (never a new sentence)
            or re.fullmatch(r"[\"'”’)\]]+", piece)  # a stray closing quote
        ):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _split_paragraph(par: str) -> list[str]:
    return [par[a:b] for a, b in _split_spans(par)]


def _locate(text: str, piece: str, cursor: int) -> tuple[int, int] | None:
    """Start/end of `piece` in `text` at or after `cursor`, tolerating whitespace differences."""
    idx = text.find(piece, cursor)
    if idx >= 0:
        return idx, idx + len(piece)
    pattern = r"\s*".join(re.escape(ch) for ch in piece if not ch.isspace())
    m = re.compile(pattern).search(text, cursor)
    return None if m is None else (m.start(), m.end())


def segment_clean(clean: CleanText) -> list[Sentence]:
    """Split a cleaned article into sentences, headlines included and marked."""
    out: list[Sentence] = []
    for p_idx, par in enumerate(clean.paragraphs):
        chunk = clean.text[par.start : par.end]
        spans = [(0, len(chunk))] if par.kind == "headline" else _split_spans(chunk)
        for a, b in spans:
            start, end = par.start + a, par.start + b
            out.append(Sentence(len(out), start, end, clean.text[start:end], p_idx,
                                par.kind == "headline"))
    return out


def segment(text: str, title: str | None = None) -> tuple[CleanText, list[Sentence]]:
    """Clean then segment raw article text."""
    clean = clean_text(text, title=title)
    return clean, segment_clean(clean)


def split_sentences(text: str) -> list[str]:
    """Plain sentence strings of a text, without boilerplate removal (for library users)."""
    return [s for par in re.split(r"\n\s*\n|\n", text) if par.strip() for s in _split_paragraph(par.strip())]
