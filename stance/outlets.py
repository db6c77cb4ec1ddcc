"""Guess an article's outlet from signatures in its text, for inputs without a manifest.

Every guess carries its evidence, and readers mark it `inferred`, so a researcher can tell a
given outlet from a guessed one. Publisher signatures (a republisher's disclaimer, a copyright
line, a "source:" line) outweigh self-references ("told CNN"), which outweigh nothing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

#: spellings seen in bylines, source lines and shouting promo text -> the outlet's usual name
ALIASES: dict[str, str] = {
    "nbcnews": "NBC News", "nbc news": "NBC News", "nbc": "NBC News",
    "cbsnews": "CBS News", "cbs news": "CBS News", "cbs": "CBS News",
    "cnn": "CNN", "abc news": "ABC News", "abcnews": "ABC News",
    "fox news": "Fox News", "foxnews": "Fox News", "msnbc": "MSNBC",
    "washington examiner": "Washington Examiner", "the washington examiner": "Washington Examiner",
    "washington post": "The Washington Post", "the washington post": "The Washington Post",
    "new york times": "The New York Times", "the new york times": "The New York Times",
    "wall street journal": "The Wall Street Journal", "the wall street journal": "The Wall Street Journal",
    "reuters": "Reuters", "associated press": "Associated Press", "ap": "Associated Press",
    "bbc": "BBC", "bbc news": "BBC", "politico": "Politico", "bloomberg": "Bloomberg",
    "the guardian": "The Guardian", "npr": "NPR", "axios": "Axios", "the hill": "The Hill",
    "conservative news daily": "Conservative News Daily",
}

_OUTLETISH = r"(?:[A-Z][\w&'-]*(?: [A-Z][\w&'-]*){0,4})"
_NEWSY = re.compile(
    r"^(?:[A-Z]{2,6}|.*\b(?:News|Times|Post|Journal|Examiner|Daily|Herald|Tribune|Gazette|Press|"
    r"Wire|Chronicle|Courier|Dispatch|Beacon|Ledger|Review|Observer|Telegraph|Globe|Star|Mail|"
    r"Standard|Report|Today|Network))$"
)

# (pattern, weight, kind). The named group `name` is the outlet.
_SIGNATURES: list[tuple[re.Pattern[str], float, str]] = [
    (re.compile(rf"(?P<name>{_OUTLETISH}) does not (?:always )?(?:share|endorse|support)"), 5.0,
     "republisher disclaimer"),
    (re.compile(r"(?:©|\(c\)|Copyright)\s*(?:\d{4}(?:\s*[-–]\s*\d{4})?\s*,?\s*)?"
                rf"(?P<name>{_OUTLETISH})", re.I), 4.0, "copyright line"),
    (re.compile(r"^\s*source:\s*(?P<name>[\w .&'-]{2,40}?)\s*$", re.I | re.M), 4.0, "source line"),
    (re.compile(r"READ MORE FROM (?:THE )?(?P<name>[A-Z][A-Z .&'-]{1,40}[A-Z])"), 3.0,
     "read-more promo"),
    (re.compile(rf"\b(?:told|tell|tells|telling)\s+(?:the\s+)?(?P<name>{_OUTLETISH})"), 2.0,
     "self-reference"),
    (re.compile(rf"(?P<name>{_OUTLETISH})\s+(?:has|have)\s+(?:confirmed|learned|contacted|obtained|"
                r"reached out|reviewed|verified)"), 2.0, "self-reference"),
]


@dataclass(frozen=True)
class OutletGuess:
    outlet: str
    evidence: str
    score: float


def canonical_outlet(name: str) -> str | None:
    """Map a captured name to an outlet name, or None when it does not look like an outlet."""
    name = re.sub(r"^(?:the)\s+", "The ", name.strip(" .,'\"-"), flags=re.I)
    key = name.lower()
    if key in ALIASES:
        return ALIASES[key]
    bare = re.sub(r"^the\s+", "", key)
    if bare in ALIASES:
        return ALIASES[bare]
    if not _NEWSY.match(name):
        return None
    if name.isupper() and len(name) > 6:  # shouting promo text: "WASHINGTON EXAMINER"
        name = name.title()
    return name


def infer_outlet(text: str) -> OutletGuess | None:
    """The best-supported outlet signature in `text`, or None."""
    scores: dict[str, float] = defaultdict(float)
    evidence: dict[str, list[str]] = defaultdict(list)
    for pattern, weight, kind in _SIGNATURES:
        for m in pattern.finditer(text):
            outlet = canonical_outlet(m.group("name"))
            if outlet is None:
                continue
            scores[outlet] += weight
            snippet = " ".join(m.group(0).split())[:60]
            evidence[outlet].append(f'{kind} "{snippet}"')
    if not scores:
        return None
    best = max(scores, key=lambda k: scores[k])
    return OutletGuess(best, "; ".join(dict.fromkeys(evidence[best])), scores[best])
