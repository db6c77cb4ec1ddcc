"""Cleaning: strip the web boilerplate real pages carry, mark headlines, repair obvious glue.

Works paragraph by paragraph (a line of the input), because boilerplate comes in whole lines:
comment forms, "Related articles", promo headlines, captions. Every removed line is kept in
`CleanText.removed` with the rule that removed it, so a user can audit what was dropped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Whole-line boilerplate: (rule name, pattern matched against the stripped line)
_LINE_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("comment form", re.compile(
        r"^(?:leave a (?:reply|comment)|post a comment|add a comment|\d+ comments?|comments?|"
        r"your email address will not be published.*|required fields are marked.*|"
        r"cancel reply|(?:name|email|website)\s*\*?|save my name, email.*)$", re.I)),
    ("related links", re.compile(
        r"^(?:related(?: articles| content| stories| posts| coverage| news)?|more from .{0,40}|"
        r"recommended(?: for you| stories)?|trending(?: now)?|read (?:more|next|also)|"
        r"(?:you may|you might) also like|sponsored(?: content| stories)?|"
        r"advertisement|ad|back to top(?: button)?|share this(?: article| story)?:?|"
        r"(?:share|tweet|email|print)(?:\s*[|/·]\s*(?:share|tweet|email|print|facebook|twitter))*|"
        r"skip to (?:main )?content|sign up for .{0,60}|subscribe(?: now| today)?.{0,40})$", re.I)),
    ("read-more promo", re.compile(r"^(?:click here|read more|watch|listen)\b.{0,80}$", re.I)),
    ("ad-blocker notice", re.compile(
        r"^(?:ad-?block(?:er)? detected|.*(?:disabl\w+|turn\w* off|whitelist\w*) (?:your |the )?"
        r"ad[- ]?block\w*.*|.*ad[- ]?blocker.*)$", re.I)),
    ("copyright line", re.compile(r"^(?:©|\(c\)|copyright\b|all rights reserved).{0,120}$", re.I)),
    ("source line", re.compile(r"^source:\s*\S.{0,40}$", re.I)),
    ("disclaimer", re.compile(
        r".{0,80}\b(?:does not (?:always )?(?:share|endorse|support)(?: or (?:share|endorse|support))? the views|"
        r"views (?:and opinions )?"
        r"expressed (?:here|in this article) are (?:those|solely)).{0,160}$", re.I)),
    ("video embed", re.compile(r"^(?:video embed|embedded video|video|watch(?: the)? video|"
                               r"play video|\[?embed\]?)$", re.I)),
    ("photo slug", re.compile(r"^APTOPIX\b.*$|^(?:photo|image|file photo)s?:.{0,200}$", re.I)),
    ("photo caption", re.compile(
        r".*\((?=[^()]*/)[^()]*(?:photo|AP|Reuters|AFP|Getty|Pool|Images|via)[^()]*\).{0,60}$"
        r"|.*\b(?:Getty Images|AP Photo|Reuters/[A-Z][\w ]+|[A-Z][a-z]+ [A-Z][a-z]+/(?:AP|AFP|Reuters))$")),
    ("lone punctuation", re.compile(r"^[\W_]+$")),
]

_SENT_END = re.compile(r"[.!?…][\"'”’)\]]*$")
_GLUE = re.compile(r"(?<=[a-z0-9]{2}[.!?])([\"'”’]?)(?=[A-Z][a-z])")


@dataclass
class Paragraph:
    start: int
    end: int
    kind: str  # "headline" | "body"


@dataclass
class CleanText:
    """The cleaned text (paragraphs joined by blank lines), its paragraphs, and what was removed."""

    text: str
    paragraphs: list[Paragraph] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)  # (line, rule)
    repairs: int = 0


def normalize(text: str) -> str:
    """NFC, unified newlines, no-break and zero-width spaces made plain."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u200b", "").replace("\ufeff", "")
    return re.sub(r"[ \t\f\v]+", " ", text)


def boilerplate_rule(line: str) -> str | None:
    """The name of the boilerplate rule a whole line matches, or None for real content."""
    for name, pattern in _LINE_RULES:
        if pattern.match(line):
            return name
    return None


def _words(line: str) -> int:
    return len(line.split())


def _is_title_like(line: str) -> bool:
    """A headline: short, one line, no sentence-final punctuation."""
    return _words(line) <= 25 and not _SENT_END.search(line)


def _is_shouting(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return _words(line) >= 3 and len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.9


def repair_glue(line: str) -> tuple[str, int]:
    """Insert the space missing after a full stop ("Ukraine.The sources" -> "Ukraine. The sources")."""
    new, n = _GLUE.subn(lambda m: m.group(1) + " ", line)
    return new, n


def clean_text(text: str, title: str | None = None, known_outlets: tuple[str, ...] = ()) -> CleanText:
    """Clean one article. `title`, when given, is recognised and kept as the headline."""
    lines = [ln.strip() for ln in normalize(text).split("\n")]
    out = CleanText(text="")
    kept: list[tuple[str, str]] = []
    seen: set[str] = set()
    body_started = False
    outlet_names = {o.lower() for o in known_outlets}
    for line in lines:
        if not line:
            continue
        rule = boilerplate_rule(line)
        key = re.sub(r"\W+", " ", line.lower()).strip()
        if rule is None and key in seen:
            rule = "duplicate line"
        if rule is None and body_started and _is_shouting(line) and _is_title_like(line):
            rule = "promo headline"
        if rule is None and not body_started and _words(line) <= 4 and _is_title_like(line) and (
            line.lower() in outlet_names or _looks_like_outlet_credit(line)
        ):
            rule = "outlet credit"
        if rule is not None:
            out.removed.append((line, rule))
            continue
        seen.add(key)
        is_head = (title is not None and key == re.sub(r"\W+", " ", title.lower()).strip()) or (
            (_is_title_like(line) and not _is_shouting(line)) or (not body_started and _is_shouting(line))
        ) or (not body_started and _words(line) <= 15 and _single_sentence(line) and kept == [])
        if is_head:
            kept.append((line, "headline"))
            continue
        fixed, n = repair_glue(line)
        out.repairs += n
        kept.append((fixed, "body"))
        body_started = True
    if kept and all(kind == "headline" for _, kind in kept):
        # nothing but "headlines" means a short text (one line from stdin, a tweet-sized item):
        # its lines are the content, not headlines of a body that is missing
        kept = [(repair_glue(line)[0], "body") for line, _ in kept]
    pos = 0
    parts: list[str] = []
    for line, kind in kept:
        if parts:
            parts.append("\n\n")
            pos += 2
        out.paragraphs.append(Paragraph(pos, pos + len(line), kind))
        parts.append(line)
        pos += len(line)
    out.text = "".join(parts)
    return out


def _single_sentence(line: str) -> bool:
    return len(re.findall(r"[.!?](?:\s|$)", line)) <= 1


def _looks_like_outlet_credit(line: str) -> bool:
    from stance.outlets import canonical_outlet

    return canonical_outlet(line) is not None
