"""The HTML report: structure, one span per sentence, hover probabilities, no network resources.

The data are built by hand (no model), so every property below is checked against known labels.
The browser test renders the page in headless Chromium via scripts/check_report.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from stance import aggregate
from stance.labels import ATTRIBUTION, AXES, CERTAINTY, UNCERTAIN
from stance.report import render_report

ROOT = Path(__file__).resolve().parents[1]
CHECK_SCRIPT = ROOT / "scripts" / "check_report.py"
CHROMIUM = Path("/usr/bin/chromium")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
SECTIONS = ["top", "charts", "matrix", "summary", "stories", "articles", "failures"]

# (outlet, article_id, story, title, [(paragraph, headline, text, certainty, attribution)])
ARTICLES: list[tuple[str, str, str | None, str | None, list[tuple[int, bool, str, str, str]]]] = [
    ("Daily Ledger", "dl-1", "budget", "Council passes budget after late-night session", [
        (0, True, "Council passes budget after late-night session", "confirmed", "none"),
        (1, False, "The council approved the budget on Tuesday by a vote of 7 to 2.",
         "confirmed", "none"),
        (1, False, "The mayor said the vote would go ahead as planned.", "confirmed", "named"),
        (2, False, "Two officials with knowledge of the talks said the deal was close.",
         "believed", "anonymous"),
        (2, False, "It is not yet clear how many posts will be cut, according to a council "
                   "source.", "unclear", "anonymous"),
        (3, False, "Critics say the plan is likely to raise fees for small shops.",
         "believed", "anonymous"),
    ]),
    ("Daily Ledger", "dl-2", "strike", None, [
        (0, False, "Dock workers walked off the job at dawn on Monday.", "confirmed", "none"),
        (0, False, "The union leader, Maria Okafor, said talks had collapsed.",
         "confirmed", "named"),
        (1, False, "The strike could spread to two other ports if talks stay frozen.",
         "unclear", "none"),
        (1, False, "People close to the negotiations expect a deal within days.",
         "believed", "anonymous"),
    ]),
    ("Northern Post & Courier", "np-1", "budget", "Budget vote: what we know <so far>", [
        (0, True, "Budget vote: what we know <so far>", "confirmed", "none"),
        (1, False, "Investigators believe the figures were revised twice, the auditor said.",
         "believed", "named"),
        (1, False, "A spokesperson for the ministry declined to comment.", "confirmed", "named"),
        (2, False, "The merger of two departments could be blocked by regulators.",
         "unclear", "none"),
        (2, False, "\"We have seen no sign of a slowdown,\" the treasurer told reporters & staff.",
         "confirmed", "named"),
    ]),
    ("Northern Post & Courier", "np-2", "strike", "Ports brace for a long strike", [
        (1, False, "Shipping lines reportedly diverted three vessels overnight.",
         "believed", "anonymous"),
        (1, False, "The port authority said cargo handling had stopped.", "confirmed", "named"),
        (2, False, "Whether the government will intervene remains to be seen.",
         UNCERTAIN, "none"),
    ]),
    ("Wire <Intl>", "wi-1", "budget", "Budget approved", [
        (1, False, "Lawmakers approved the spending plan late on Tuesday.", "confirmed", "none"),
        (1, False, "Officials said the savings were expected to reach 4 million.",
         "believed", "anonymous"),
        (2, False, "The finance chief, Lee Park, called the vote historic.", "confirmed", "named"),
    ]),
]
ERRORS = [("Wire <Intl>", "wi-2", "model failed: input was empty <after cleaning>")]
READ_ERRORS = [{"source": "feeds/broken.jsonl", "line": 7, "id": None,
                "error": "invalid JSON: Expecting value", "stage": "read"}]
PROBS = {"certainty": {"confirmed": 0.1, "believed": 0.2, "unclear": 0.3},
         "attribution": {"named": 0.05, "anonymous": 0.15, "none": 0.25}}


def _probs(axis: str, label: str, k: int) -> dict[str, Any]:
    """Distinct made-up probabilities per sentence: the label on top, or a weak top if uncertain."""
    labels = AXES[axis]
    top = "believed" if label == UNCERTAIN else label
    p_top = 0.41 if label == UNCERTAIN else round(0.6 + 0.013 * (k % 25), 4)
    rest = [lab for lab in labels if lab != top]
    first = round((1 - p_top) * (0.62 if label == UNCERTAIN else 0.7), 4)
    p = {top: p_top, rest[0]: first, rest[1]: round(1 - p_top - first, 4)}
    out: dict[str, Any] = {axis: label, f"{axis}_top": top, f"{axis}_prob": p_top}
    out.update({f"p_{axis}_{lab}": p[lab] for lab in labels})
    return out


def make_sentences(articles: list | None = None) -> pd.DataFrame:
    """The sentence table as the predictor writes it."""
    rows = []
    k = 0
    for outlet, aid, story, _title, sents in ARTICLES if articles is None else articles:
        pos = 0
        for i, (para, head, text, cert, attr) in enumerate(sents):
            row = {"article_id": aid, "outlet": outlet, "outlet_origin": "given", "story": story,
                   "source": f"data/{aid}.txt", "sentence_index": i, "start": pos,
                   "end": pos + len(text), "paragraph": para, "is_headline": head, "text": text}
            row.update(_probs("certainty", cert, k))
            row.update(_probs("attribution", attr, k + 7))
            rows.append(row)
            pos += len(text) + 1
            k += 1
    return pd.DataFrame(rows)


def make_ledger(sentences: pd.DataFrame, articles: list | None = None,
                errors: list | None = None) -> pd.DataFrame:
    """The per-article ledger as `score_inputs` builds it (stub rows merged with article stats)."""
    stubs = [{"article_id": aid, "outlet": outlet, "outlet_origin": "given", "story": story,
              "title": title, "source": f"data/{aid}.txt", "status": "scored", "error": None}
             for outlet, aid, story, title, _ in (ARTICLES if articles is None else articles)]
    stubs += [{"article_id": aid, "outlet": outlet, "outlet_origin": "given", "story": None,
               "title": None, "source": f"data/{aid}.txt", "status": "error", "error": err}
              for outlet, aid, err in (ERRORS if errors is None else errors)]
    ledger = pd.DataFrame(stubs)
    if len(sentences):
        per = aggregate.article_table(sentences).drop(columns=["outlet", "story", "source"])
        ledger = ledger.merge(per, on="article_id", how="left")
    return ledger


def make_meta(errors: list | None = None, read_errors: list | None = None) -> dict[str, Any]:
    errs = [{"source": f"data/{aid}.txt", "line": None, "id": aid, "error": e, "stage": "score"}
            for _, aid, e in (ERRORS if errors is None else errors)]
    errs += READ_ERRORS if read_errors is None else read_errors
    return {"model": "models/stance-minilm", "backend": "torch", "min_confidence": 0.5,
            "summary": {"articles_read": 6, "articles_failed": len(errs), "seconds": 1.23,
                        "truncated_sentences": 0, "errors": errs}}


def build(by_story: bool = True, n_boot: int = 200) -> tuple[pd.DataFrame, str]:
    sentences = make_sentences()
    outlets = aggregate.outlet_table(sentences, n_boot=n_boot)
    stories = aggregate.story_table(sentences, n_boot=n_boot) if by_story else None
    page = render_report(sentences, outlets, stories, make_ledger(sentences), make_meta())
    return sentences, page


class Page(HTMLParser):
    """Collects what the tests look at, and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.problems: list[str] = []
        self.spans: list[dict[str, Any]] = []
        self.svgs: list[list[str]] = []  # the ids of the enclosing elements of each <svg>
        self.sections: list[str] = []
        self.ids: list[str] = []
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.doctype = ""
        self._span: dict[str, Any] | None = None
        self.text_by_id: dict[str, list[str]] = {}

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self._element(tag, a)
        if tag not in VOID:
            self.stack.append((tag, a))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, {k: v or "" for k, v in attrs})

    def _element(self, tag: str, a: dict[str, str]) -> None:
        if "id" in a:
            self.ids.append(a["id"])
        for key in ("src", "href", "xlink:href", "action", "poster", "data"):
            if key in a:
                self.links.append((tag, key, a[key]))
        if tag == "svg":
            self.svgs.append([attrs.get("id", "") for _, attrs in self.stack])
        if tag == "section" and "id" in a and not any(t == "section" for t, _ in self.stack):
            self.sections.append(a["id"])
        if tag == "header" and "id" in a:
            self.sections.append(a["id"])
        if tag == "span" and "sent" in a.get("class", "").split() and "key" not in a["class"]:
            if self._span is not None:
                self.problems.append("nested sentence span")
            self._span = {"class": a["class"].split(), "title": a.get("title", ""), "text": "",
                          "data-certainty": a.get("data-certainty"),
                          "data-attribution": a.get("data-attribution"),
                          "in": [t for t, _ in self.stack]}
            self.spans.append(self._span)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            open_tag = self.stack[-1][0] if self.stack else "nothing"
            self.problems.append(f"</{tag}> closes <{open_tag}>")
            return
        self.stack.pop()
        if tag == "span" and self._span is not None:
            self._span = None

    def handle_data(self, data: str) -> None:
        if self._span is not None:
            self._span["text"] += data
        for _, a in self.stack:
            if "id" in a:
                self.text_by_id.setdefault(a["id"], []).append(data)

    def text_of(self, element_id: str) -> str:
        return " ".join(" ".join(self.text_by_id.get(element_id, [])).split())


def parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    return p


@pytest.fixture(scope="module")
def report() -> tuple[pd.DataFrame, str, Page]:
    sentences, page = build()
    return sentences, page, parse(page)


def test_page_is_well_formed_html(report: tuple[pd.DataFrame, str, Page]) -> None:
    _, page, p = report
    assert p.doctype.lower() == "doctype html"
    assert p.problems == []
    assert p.stack == [], f"unclosed: {[t for t, _ in p.stack]}"
    assert len(p.ids) == len(set(p.ids)), "duplicate ids (svg ids must be prefixed per chart)"
    assert page.count("<html") == 1 and page.count("<svg") == 3


def test_sections_in_order(report: tuple[pd.DataFrame, str, Page]) -> None:
    _, _, p = report
    assert p.sections == SECTIONS


def test_one_inline_svg_per_chart(report: tuple[pd.DataFrame, str, Page]) -> None:
    _, page, p = report
    for chart in ("chart-certainty", "chart-attribution", "chart-ci"):
        assert sum(chart in parents for parents in p.svgs) == 1, chart
    assert all("charts" in parents for parents in p.svgs)
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page and "<metadata" not in page
    # every label of each axis is in that axis' chart (its legend: the captions name no label),
    # and uncertain (present in the data) too
    cert, attr = p.text_of("chart-certainty"), p.text_of("chart-attribution")
    for label in CERTAINTY:
        assert label in cert
    for label in ATTRIBUTION:
        assert label in attr
    assert UNCERTAIN in cert + attr


def test_every_sentence_once_in_a_coloured_span(report: tuple[pd.DataFrame, str, Page]) -> None:
    sentences, page, p = report
    assert len(p.spans) == len(sentences)
    for row in sentences.itertuples():
        hits = [s for s in p.spans if s["text"] == row.text]
        assert len(hits) == 1, row.text
        span = hits[0]
        assert {"sent", f"c-{row.certainty}", f"a-{row.attribution}"} <= set(span["class"])
        assert span["data-certainty"] == row.certainty
        assert span["data-attribution"] == row.attribution
        assert ("hl" in span["class"]) == row.is_headline
        assert ("h4" in span["in"]) == row.is_headline, "headlines are headings, body is <p>"
    # each class used has a colour rule under its toggle (the browser test checks the result)
    style = page[page.index("<style>"):page.index("</style>")]
    for radio, a, axis in (("cert", "c", "certainty"), ("attr", "a", "attribution")):
        for label in sentences[axis].unique():
            selector = rf"#colour-{radio}:checked~\.articles \.{a}-{label}\b"
            assert re.search(selector + r"[^{}]*\{background-color:#", style), (axis, label)


def test_hover_titles_carry_labels_and_probabilities(report: tuple[pd.DataFrame, str, Page]
                                                     ) -> None:
    sentences, _, p = report
    spans = {s["text"]: s for s in p.spans}
    for row in sentences.to_dict("records"):
        title = spans[row["text"]]["title"]
        for axis, labels in AXES.items():
            assert f"{axis}: {row[axis]}" in title
            for lab in labels:
                assert f"{lab} {row[f'p_{axis}_{lab}']:.2f}" in title
    unsure = sentences[sentences["certainty"] == UNCERTAIN].iloc[0]
    assert "best guess believed, p=0.41 < 0.5" in spans[unsure["text"]]["title"]


def test_text_is_grouped_by_paragraph(report: tuple[pd.DataFrame, str, Page]) -> None:
    _, page, _ = report
    article = page[page.index("Dock workers walked off"):]
    article = article[:article.index("</details>")]
    paragraphs = re.findall(r"<p>(.*?)</p>", article, flags=re.S)
    assert len(paragraphs) == 2
    assert "Dock workers" in paragraphs[0] and "Maria Okafor" in paragraphs[0]
    assert "could spread" in paragraphs[1] and "People close" in paragraphs[1]


def test_article_headers_match_article_table(report: tuple[pd.DataFrame, str, Page]) -> None:
    sentences, page, _ = report
    for row in aggregate.article_table(sentences).to_dict("records"):
        block = page[page.index(f'<span class="mono">{row["article_id"]}</span>'):]
        block = block[:block.index("</summary>")]
        assert (f"{row['n_sentences']} body sentences · hedged {100 * row['hedged_share']:.0f}%"
                f" · anonymous {100 * row['anonymous_share']:.0f}%") in block, row["article_id"]


def test_outlets_present_and_escaped(report: tuple[pd.DataFrame, str, Page]) -> None:
    sentences, page, p = report
    for outlet in sentences["outlet"].unique():
        for section in ("matrix", "summary", "articles"):
            assert outlet in p.text_of(section), (outlet, section)
    assert "Wire <Intl>" not in page and "Wire &lt;Intl&gt;" in page
    assert "<so far>" not in page
    # the article without a title is headed by its first sentence
    assert ('<span class="art-title">Dock workers walked off the job at dawn on Monday.</span>'
            in page)


def test_summary_table_numbers(report: tuple[pd.DataFrame, str, Page]) -> None:
    sentences, _, p = report
    outlets = aggregate.outlet_table(sentences, n_boot=200)
    text = p.text_of("summary")
    for row in outlets.to_dict("records"):
        assert f"{100 * row['hedged_share']:.1f}%" in text
        assert f"{100 * row['anonymous_share']:.1f}%" in text
        assert f"{row['hedging_index']:.3f}" in text
        assert f"95% CI {100 * row['hedged_share_lo']:.1f}–{100 * row['hedged_share_hi']:.1f}%" \
            in text


def test_matrix_counts_and_uncertain_row(report: tuple[pd.DataFrame, str, Page]) -> None:
    sentences, page, _ = report
    body = sentences[~sentences["is_headline"]]
    matrix = page[page.index('id="matrix"'):page.index('id="summary"')]
    cards = re.findall(r'<div class="matrix-card"><h3>(.*?)</h3>(.*?)</table>', matrix, flags=re.S)
    assert len(cards) == body["outlet"].nunique()
    for name, table in cards:
        outlet = name.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        n = int((body["outlet"] == outlet).sum())
        assert table.rstrip().endswith(f'<td class="tot">{n}</td></tr>\n</tbody>'), outlet
        # certainty has an uncertain sentence, attribution does not: a row but no column
        assert re.search(r'<tbody>.*<th scope="row"><i class="sw sw-c-uncertain">', table, re.S)
        assert "sw-a-uncertain" not in table
    northern = dict(cards)["Northern Post &amp; Courier"]
    row = re.search(r'sw-c-uncertain"></i>uncertain</th>(.*?)</tr>', northern).group(1)
    cells = re.findall(r"<b>(\d+)</b><small>(\d+)%</small>", row)
    assert cells == [("0", "0"), ("0", "0"), ("1", "100")]  # named, anonymous, none


def test_story_section_only_with_stories() -> None:
    _, with_stories = build(by_story=True)
    _, without = build(by_story=False)
    p = parse(with_stories)
    assert "stories" in p.sections and 'class="story"' in with_stories
    assert p.text_of("stories").count("Hedged share") == 2  # budget and strike
    assert "budget" in p.text_of("stories") and "strike" in p.text_of("stories")
    assert "stories" not in parse(without).sections and 'class="story"' not in without


def test_failed_articles_listed(report: tuple[pd.DataFrame, str, Page]) -> None:
    _, page, p = report
    failures = p.text_of("failures")
    assert "wi-2" in failures and "model failed: input was empty <after cleaning>" in failures
    assert "feeds/broken.jsonl:7" in failures and "invalid JSON" in failures
    assert failures.count("model failed") == 1, "a score error is in the ledger and in meta: once"
    assert "&lt;after cleaning&gt;" in page
    # a failed article is not shown as a scored one
    assert "wi-2" not in p.text_of("articles")


def test_no_network_resources(report: tuple[pd.DataFrame, str, Page]) -> None:
    _, page, p = report
    for tag, attr, value in p.links:
        assert not re.match(r"\s*(https?:)?//", value, re.I), (tag, attr, value)
    assert not re.search(r"""<(link|iframe|img|object|embed)\b|<script[^>]*\bsrc=""", page, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", page, re.I)
    assert "http://" not in page and "https://" not in page


def test_empty_run_says_nothing_was_scored() -> None:
    meta = make_meta()
    ledger = make_ledger(pd.DataFrame(), articles=[])
    page = render_report(pd.DataFrame(), pd.DataFrame(), None, ledger, meta)
    p = parse(page)
    assert p.problems == [] and p.stack == []
    assert p.sections == ["top", "nothing", "failures"]
    assert "Nothing was scored" in page and "<svg" not in page and p.spans == []
    assert "wi-2" in p.text_of("failures")
    bare = render_report(pd.DataFrame(), pd.DataFrame(), None, pd.DataFrame(), {})
    assert parse(bare).sections == ["top", "nothing"]


def test_single_outlet() -> None:
    one = [a for a in ARTICLES if a[0] == "Daily Ledger"]
    sentences = make_sentences(one)
    outlets = aggregate.outlet_table(sentences, n_boot=100)
    stories = aggregate.story_table(sentences, n_boot=100)
    page = render_report(sentences, outlets, stories, make_ledger(sentences, one, []),
                         make_meta([], []))
    p = parse(page)
    assert p.problems == [] and p.stack == []
    assert p.sections == SECTIONS[:-1]  # nothing failed: no failures section
    assert page.count("<svg") == 3 and len(p.spans) == len(sentences)
    assert "sw-c-uncertain" not in page[page.index('id="matrix"'):page.index('id="summary"')]


def test_hundreds_of_articles_render_quickly() -> None:
    many = [(f"Outlet {i % 12:02d}", f"a{i}", f"story {i % 5}", f"Title {i}",
             [(p, False, f"Sentence {j} of article {i}.", CERTAINTY[(i + j) % 3],
               ATTRIBUTION[(i * j) % 3]) for p in range(3) for j in range(p * 4, p * 4 + 4)])
            for i in range(300)]
    sentences = make_sentences(many)
    outlets = aggregate.outlet_table(sentences, n_boot=50)
    t0 = time.perf_counter()
    page = render_report(sentences, outlets, None, make_ledger(sentences, many, []), make_meta([]))
    seconds = time.perf_counter() - t0
    p = parse(page)
    assert len(p.spans) == len(sentences) == 3600
    assert page.count("<svg") == 3 and page.count('<details class="article"') == 300
    assert ' open>' not in page[page.index('id="articles"'):], "long lists start collapsed"
    assert seconds < 20, f"render took {seconds:.1f}s"


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_renders_in_headless_chromium(tmp_path: Path) -> None:
    _, page = build()
    html_path = tmp_path / "report.html"
    html_path.write_text(page, encoding="utf-8")
    png = tmp_path / "report.png"
    proc = subprocess.run([sys.executable, str(CHECK_SCRIPT), str(html_path), "--png", str(png)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "svg elements: 3" in proc.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
