"""Render the scoring results as one self-contained HTML page.

The page is meant to be opened from disk, archived or mailed around, so it fetches nothing: charts
are matplotlib figures inlined as SVG, styles are inline, and the certainty/attribution toggle of
the article view is pure CSS (radio buttons and sibling selectors), so it works with scripts off.
The only script is an optional "expand/collapse all" for long article lists.

Every chart is one figure for all outlets (never one per article), so the page stays quick to
build for hundreds of articles. All user-supplied text goes through `html.escape`.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from stance import aggregate
from stance.labels import ATTRIBUTION, AXES, CERTAINTY, UNCERTAIN

#: one colour per label, used by the charts, the matrix headers and the article text alike
COLOURS: dict[str, dict[str, str]] = {
    "certainty": {"confirmed": "#3a6ea5", "believed": "#ef8a17", "unclear": "#d1382f",
                  UNCERTAIN: "#c9c9c9"},
    "attribution": {"named": "#3f9142", "anonymous": "#7b4fae", "none": "#8a8f98",
                    UNCERTAIN: "#c9c9c9"},
}
HEDGED_COLOUR = COLOURS["certainty"]["believed"]
ANONYMOUS_COLOUR = COLOURS["attribution"]["anonymous"]
MATRIX_INK = (47, 75, 124)  # the heatmap ramp runs from white to this slate blue
OPEN_ARTICLES_UP_TO = 30  # longer lists start collapsed
CHART_NAME_CHARS = 28

#: copied from the stance.aggregate docstring, so the page and the tables agree
DEFINITIONS: list[tuple[str, str]] = [
    ("hedged share", "share of sentences labelled <code>believed</code> or "
                     "<code>unclear</code>."),
    ("hedging index", "(believed + 2 × unclear) / (2 × n): 0 = all confirmed, 1 = all unclear."),
    ("anonymous share", "share of sentences sourced to anonymous sources."),
    ("anonymous of attributed", "anonymous / (named + anonymous), the share of sourced sentences "
                                "whose source is unnamed (empty when nothing is sourced)."),
]

_AXIS_ABBR = {"certainty": "c", "attribution": "a"}


def render_report(sentences: pd.DataFrame, outlets: pd.DataFrame, stories: pd.DataFrame | None,
                  articles: pd.DataFrame, meta: dict) -> str:
    """Return the whole report as one HTML document (see the module docstring)."""
    sentences = sentences if sentences is not None else pd.DataFrame()
    outlets = outlets if outlets is not None else pd.DataFrame()
    articles = articles if articles is not None else pd.DataFrame()
    meta = meta or {}
    failures = _failure_rows(articles, meta)
    scored = len(sentences) > 0 and len(outlets) > 0
    parts = [_header(sentences, outlets, articles, meta, failures)]
    if scored:
        parts += [_charts(outlets), _matrices(sentences), _summary_table(outlets)]
        if stories is not None:
            parts.append(_stories(stories))
        parts.append(_articles(sentences, articles, outlets, meta))
    else:
        parts.append('<section id="nothing" class="notice"><h2>Nothing was scored</h2>'
                     "<p>No body sentences were scored, so there are no shares to compare."
                     + (" The failures are listed below." if failures else "") + "</p></section>")
    if failures:
        parts.append(_failures(failures))
    title = "stance report"
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n<style>\n{_css()}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(parts) + f"\n</main>\n{_SCRIPT}\n</body>\n</html>\n")


# --------------------------------------------------------------------------- small helpers


def _e(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape("" if _missing(value) else str(value), quote=True)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _flag(value: Any) -> bool:
    """A boolean column value; NaN (a missing flag) is False, not truthy."""
    return False if _missing(value) else bool(value)


def _name(outlet: Any) -> str:
    """Outlet label; grouping keeps missing outlets, so they need a readable name."""
    return "(unknown outlet)" if _missing(outlet) else str(outlet)


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _pct(value: Any, digits: int = 1) -> str:
    v = _num(value)
    return "—" if math.isnan(v) else f"{100 * v:.{digits}f}%"


def _ci(row: Mapping[str, Any], key: str, as_pct: bool = True) -> str:
    lo, hi = _num(row.get(f"{key}_lo")), _num(row.get(f"{key}_hi"))
    if math.isnan(lo) or math.isnan(hi):
        return ""
    text = f"{100 * lo:.1f}–{100 * hi:.1f}%" if as_pct else f"{lo:.3f}–{hi:.3f}"
    return f'<span class="ci">95% CI {text}</span>'


def _cls(label: Any) -> str:
    """A label as a safe CSS class fragment (labels are fixed, but be robust to odd input)."""
    return re.sub(r"[^a-z0-9_-]+", "-", str(label).lower()).strip("-") or "missing"


def _tint(colour: str, amount: float) -> str:
    """Mix `colour` with white; text backgrounds need the label colour but must stay readable."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    mix = [round(255 - (255 - c) * amount) for c in (r, g, b)]
    return "#" + "".join(f"{c:02x}" for c in mix)


def _ink(colour: str) -> str:
    """Black or white, whichever reads better on `colour`."""
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "#1b1f24" if 0.299 * r + 0.587 * g + 0.114 * b > 0.6 else "#ffffff"


def _present(outlets: pd.DataFrame, axis: str) -> list[str]:
    """Labels of an axis to show: the codebook ones, plus `uncertain` only when it occurs."""
    col = f"share_{axis}_{UNCERTAIN}"
    extra = [UNCERTAIN] if col in outlets and (outlets[col].fillna(0) > 0).any() else []
    return [*AXES[axis], *extra]


def _swatch(axis: str, label: str) -> str:
    return f'<i class="sw sw-{_AXIS_ABBR[axis]}-{_cls(label)}"></i>'


# --------------------------------------------------------------------------- header


def _header(sentences: pd.DataFrame, outlets: pd.DataFrame, articles: pd.DataFrame, meta: dict,
            failures: list[dict[str, Any]]) -> str:
    """Title, what was scored, the model, and how to read the numbers."""
    summary = meta.get("summary") or {}
    n_scored = (int(articles["status"].eq("scored").sum()) if "status" in articles
                else int(sentences["article_id"].nunique()) if "article_id" in sentences else 0)
    n_head = int(sentences["is_headline"].fillna(False).astype(bool).sum()) \
        if "is_headline" in sentences else 0
    stats = [("outlets", str(len(outlets))), ("articles scored", str(n_scored)),
             ("articles failed", str(len(failures))), ("sentences", str(len(sentences))),
             ("body sentences", str(len(sentences) - n_head)), ("headlines", str(n_head))]
    for axis in AXES:
        if axis in sentences:
            n_unc = int(sentences[axis].eq(UNCERTAIN).sum())
            if n_unc:
                stats.append((f"{axis} uncertain", str(n_unc)))
    if summary.get("truncated_sentences"):
        stats.append(("truncated sentences", str(summary["truncated_sentences"])))
    cards = "".join(f'<div class="stat"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for k, v in stats)
    model = [("model", meta.get("model")), ("backend", meta.get("backend")),
             ("min confidence", meta.get("min_confidence")),
             ("articles read", summary.get("articles_read")),
             ("run time", None if summary.get("seconds") is None else f"{summary['seconds']} s")]
    facts = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in model if not _missing(v))
    defs = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in DEFINITIONS)
    min_conf = _num(meta.get("min_confidence"))
    unc_note = (f" Sentences whose top label has probability below {min_conf:g} are labelled "
                "<code>uncertain</code> and stay in the denominator."
                if not math.isnan(min_conf) and min_conf > 0 else "")
    legend = " ".join(f"<span>{_swatch(ax, lab)}{_e(lab)}</span>"
                      for ax in AXES for lab in AXES[ax])
    legend += f' <span>{_swatch("certainty", UNCERTAIN)}{UNCERTAIN} (below min confidence)</span>'
    return f"""<header id="top">
<h1>How outlets hedge and source their reporting</h1>
<p class="lede">Every sentence was labelled on two axes: <b>certainty</b> (confirmed / believed /
unclear) and <b>attribution</b> (named / anonymous / none), then aggregated per outlet.</p>
<div class="stats">{cards}</div>
<dl class="facts">{facts}</dl>
<details class="howto" open><summary>How to read this</summary>
<p>Only body sentences count; headlines are labelled but kept out of the shares.
<code>share_&lt;axis&gt;_&lt;label&gt;</code> is that label's share of the body sentences.{unc_note}
Labels describe how a sentence <em>presents</em> its information, not whether it is true.</p>
<dl class="defs">{defs}</dl>
<p>Intervals are 95% percentile bootstrap intervals. They resample whole articles when an outlet
has at least {aggregate.MIN_ARTICLES_FOR_CLUSTER} articles (sentences of one article are not
independent) and single sentences otherwise; the “CI by” column says which. With few articles,
sentence-level intervals are too narrow: treat them as optimistic.</p>
<p class="legend">{legend}</p>
</details>
</header>"""


# --------------------------------------------------------------------------- charts


def _charts(outlets: pd.DataFrame) -> str:
    """Stacked label shares for both axes and the two headline indices with their CIs."""
    names = _chart_names(outlets)
    return f"""<section id="charts">
<h2>Label shares per outlet</h2>
<p class="note">Share of body sentences per label; each bar sums to 100%.</p>
<div class="chart-grid">
<figure class="chart" id="chart-certainty"><figcaption>Certainty</figcaption>
{_stacked_svg(outlets, names, "certainty")}</figure>
<figure class="chart" id="chart-attribution"><figcaption>Attribution</figcaption>
{_stacked_svg(outlets, names, "attribution")}</figure>
</div>
<figure class="chart wide" id="chart-ci"><figcaption>Hedged share and anonymous share, with 95%
confidence intervals</figcaption>
{_ci_svg(outlets, names)}</figure>
</section>"""


def _rc() -> dict[str, Any]:
    return {"font.family": "sans-serif", "font.size": 10, "svg.fonttype": "none",
            "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#8c959f",
            "xtick.color": "#57606a", "ytick.color": "#1f2328", "axes.labelcolor": "#1f2328",
            "hatch.linewidth": 0.7, "hatch.color": "#8c8c8c", "svg.hashsalt": "stance"}


def _chart_names(outlets: pd.DataFrame) -> list[str]:
    """Axis labels: the outlet (shortened if very long) and its number of body sentences."""
    out = []
    for name, n in zip(outlets["outlet"], outlets["n_sentences"], strict=True):
        name = _name(name)
        name = name if len(name) <= CHART_NAME_CHARS else name[:CHART_NAME_CHARS - 1] + "…"
        out.append(f"{name}  (n={n})")
    return out


def _fig_height(n: int) -> float:
    return 0.9 + 0.36 * max(n, 1)


def _stacked_svg(outlets: pd.DataFrame, names: list[str], axis: str) -> str:
    labels = _present(outlets, axis)
    shares = np.nan_to_num(np.array([outlets[f"share_{axis}_{lab}"].to_numpy(dtype=float)
                                     for lab in labels]).T)
    y = np.arange(len(names))
    with rc_context(_rc()):
        fig = Figure(figsize=(4.5, _fig_height(len(names))))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        left = np.zeros(len(names))
        for j, lab in enumerate(labels):
            colour = COLOURS[axis][lab]
            vals = shares[:, j]
            ax.barh(y, vals, left=left, height=0.66, color=colour, label=lab,
                    edgecolor="#8c8c8c" if lab == UNCERTAIN else "white",
                    linewidth=0.6, hatch="////" if lab == UNCERTAIN else None)
            for yi, v, x0 in zip(y, vals, left, strict=True):
                if v >= 0.06:
                    ax.text(x0 + v / 2, yi, f"{v:.0%}", ha="center", va="center", fontsize=9,
                            color=_ink(colour))
            left = left + vals
        ax.set_xlim(0, 1)
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.set_yticks(y, names)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        # right-aligned, so a long legend grows over the empty space above the outlet names
        # instead of widening the figure (which would shrink it on the page)
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(labels), frameon=False,
                  fontsize=9.5, handlelength=1.0, handleheight=1.0, columnspacing=1.0,
                  handletextpad=0.4, borderaxespad=0.3)
        return _svg(fig, f"fig-{axis}")


def _ci_svg(outlets: pd.DataFrame, names: list[str]) -> str:
    y = np.arange(len(names))
    panels = [("hedged_share", "Hedged share", HEDGED_COLOUR),
              ("anonymous_share", "Anonymous share", ANONYMOUS_COLOUR)]
    with rc_context(_rc()):
        fig = Figure(figsize=(9.6, _fig_height(len(names))))
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, 2, sharey=True)
        for ax, (key, title, colour) in zip(axes, panels, strict=True):
            v = outlets[key].to_numpy(dtype=float)
            lo = outlets.get(f"{key}_lo", pd.Series(np.nan, index=outlets.index)).to_numpy(float)
            hi = outlets.get(f"{key}_hi", pd.Series(np.nan, index=outlets.index)).to_numpy(float)
            lo, hi = np.where(np.isnan(lo), v, lo), np.where(np.isnan(hi), v, hi)
            err = np.nan_to_num(np.clip(np.vstack([v - lo, hi - v]), 0, None))
            ok = ~np.isnan(v)
            ax.errorbar(v[ok], y[ok], xerr=err[:, ok], fmt="o", color=colour, ecolor=colour,
                        elinewidth=1.8, capsize=3.5, markersize=6.5, markeredgecolor="white")
            top = np.nanmax(np.concatenate([hi, v])) if ok.any() else 0.0
            xmax = min(1.0, max(0.1, math.ceil((top + 0.05) * 10) / 10))
            for yi, vi in zip(y[ok], v[ok], strict=True):
                ax.text(vi, yi - 0.14, f"{vi:.0%}", ha="center", va="bottom", fontsize=9,
                        color="#1f2328")
            ax.set_xlim(0, xmax)
            ax.set_title(title, loc="left", fontsize=10.5, fontweight="bold", color=colour)
            ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            ax.grid(axis="x", color="#d8dee4", linewidth=0.6)
            ax.set_axisbelow(True)
            ax.tick_params(axis="y", length=0)
            ax.spines["left"].set_visible(False)
        axes[0].set_yticks(y, names)
        axes[0].set_ylim(len(names) - 0.5, -0.6)
        fig.subplots_adjust(wspace=0.16)
        return _svg(fig, "fig-ci")


_SVG_ID = re.compile(r'(\bid=")([^"]+)(")')
_SVG_REF = re.compile(r'(url\(#|href="#)([^)"]+)')


def _svg(fig: Figure, prefix: str) -> str:
    """Figure -> inline <svg>: no XML prolog/DOCTYPE/metadata, ids prefixed so that several
    figures on one page cannot clash, and a viewBox-based size so it scales with the page."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=0.08,
                metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = _SVG_ID.sub(lambda m: f"{m[1]}{prefix}-{m[2]}{m[3]}", text)
    text = _SVG_REF.sub(lambda m: f"{m[1]}{prefix}-{m[2]}", text)
    head_end = text.index(">")
    head = text[:head_end]
    width = re.search(r'width="([\d.]+)pt"', head)
    head = re.sub(r'\s(?:xmlns(?::xlink)?|width|height)="[^"]*"', "", head)
    style = f' style="max-width:{float(width[1]):.0f}pt"' if width else ""
    return f'{head} class="chart-svg" role="img"{style}{text[head_end:]}'.strip()


# --------------------------------------------------------------------------- matrix


def _matrices(sentences: pd.DataFrame) -> str:
    """A certainty x attribution heatmap per outlet (body sentences; row % within certainty)."""
    body = aggregate.body_sentences(sentences)
    long = aggregate.matrix(sentences)
    certs = [*CERTAINTY, *([UNCERTAIN] if body["certainty"].eq(UNCERTAIN).any() else [])]
    attrs = [*ATTRIBUTION, *([UNCERTAIN] if body["attribution"].eq(UNCERTAIN).any() else [])]
    cards = []
    for outlet, df in long.groupby("outlet", sort=True, dropna=False):
        counts = {(c, a): int(n) for c, a, n in zip(df["certainty"], df["attribution"], df["n"],
                                                     strict=True)}
        head = "".join(f'<th scope="col">{_swatch("attribution", a)}{_e(a)}</th>' for a in attrs)
        rows = []
        for c in certs:
            row_n = sum(counts.get((c, a), 0) for a in attrs)
            cells = []
            for a in attrs:
                n = counts.get((c, a), 0)
                share = n / row_n if row_n else 0.0
                cells.append(_heat_cell(n, share))
            rows.append(f'<tr><th scope="row">{_swatch("certainty", c)}{_e(c)}</th>'
                        f'{"".join(cells)}<td class="tot">{row_n}</td></tr>')
        col_tot = "".join(f"<td class=\"tot\">{sum(counts.get((c, a), 0) for c in certs)}</td>"
                          for a in attrs)
        total = sum(counts.values())
        cards.append(f"""<div class="matrix-card"><h3>{_e(_name(outlet))}</h3>
<table class="matrix"><thead><tr><th class="corner">certainty ↓ / attribution →</th>{head}
<th scope="col">total</th></tr></thead><tbody>{"".join(rows)}
<tr class="tot"><th scope="row">total</th>{col_tot}<td class="tot">{total}</td></tr>
</tbody></table></div>""")
    return f"""<section id="matrix">
<h2>Certainty × attribution</h2>
<p class="note">Body sentences per combination of labels. Each cell shows the count and its share of
the certainty row (row %); darker = larger row share.</p>
<div class="matrix-grid">{"".join(cards)}</div>
</section>"""


def _heat_cell(n: int, share: float) -> str:
    r, g, b = (round(255 - (255 - c) * share * 0.9) for c in MATRIX_INK)
    ink = "#ffffff" if share > 0.5 else "#1f2328"
    return (f'<td style="background-color:#{r:02x}{g:02x}{b:02x};color:{ink}">'
            f'<b>{n}</b><small>{100 * share:.0f}%</small></td>')


# --------------------------------------------------------------------------- tables


def _summary_table(outlets: pd.DataFrame) -> str:
    """The main numbers per outlet, each with its interval."""
    rows = []
    for row in outlets.to_dict("records"):
        rows.append(
            f"<tr><th scope=\"row\">{_e(_name(row.get('outlet')))}</th>"
            f"<td class=\"n\">{_e(row.get('n_articles'))}</td>"
            f"<td class=\"n\">{_e(row.get('n_sentences'))}</td>"
            + f"<td>{_pct(row.get('hedged_share'))}{_ci(row, 'hedged_share')}</td>"
            + f"<td>{_fmt3(row.get('hedging_index'))}{_ci(row, 'hedging_index', as_pct=False)}</td>"
            + "".join(f"<td>{_pct(row.get(k))}{_ci(row, k)}</td>"
                      for k in ("anonymous_share", "anonymous_of_attributed"))
            + f"<td>{_e(row.get('ci_unit'))}</td></tr>")
    return f"""<section id="summary">
<h2>Per-outlet summary</h2>
<div class="scroll"><table class="data">
<thead><tr><th>Outlet</th><th>Articles</th><th>Body sentences</th><th>Hedged share</th>
<th>Hedging index</th><th>Anonymous share</th><th>Anonymous of attributed</th><th>CI by</th></tr>
</thead><tbody>{"".join(rows)}</tbody></table></div>
</section>"""


def _fmt3(value: Any) -> str:
    v = _num(value)
    return "—" if math.isnan(v) else f"{v:.3f}"


def _bar(row: Mapping[str, Any], key: str, colour: str) -> str:
    """A share as a CSS bar with its CI as a whisker: cheap enough for any number of stories."""
    v = _num(row.get(key))
    if math.isnan(v):
        return '<td class="barcell">—</td>'
    lo, hi = _num(row.get(f"{key}_lo")), _num(row.get(f"{key}_hi"))
    whisker = ""
    if not (math.isnan(lo) or math.isnan(hi)):
        whisker = (f'<span class="whisker" style="left:{100 * lo:.1f}%;'
                   f'width:{100 * max(hi - lo, 0):.1f}%"></span>')
    return (f'<td class="barcell"><span class="bar"><span class="fill" style="width:{100 * v:.1f}%;'
            f'background:{colour}"></span>{whisker}</span><span class="barval">{_pct(v)}</span>'
            f"{_ci(row, key)}</td>")


def _stories(stories: pd.DataFrame) -> str:
    """One comparison block per story: the outlets that covered it, next to each other."""
    blocks = []
    if len(stories) and "story" in stories:
        for i, (story, df) in enumerate(stories.groupby("story", sort=True, dropna=False)):
            rows = "".join(
                f"<tr><th scope=\"row\">{_e(_name(r.get('outlet')))}</th>"
                f"<td class=\"n\">{_e(r.get('n_articles'))}</td>"
                f"<td class=\"n\">{_e(r.get('n_sentences'))}</td>"
                f"{_bar(r, 'hedged_share', HEDGED_COLOUR)}"
                f"{_bar(r, 'anonymous_share', ANONYMOUS_COLOUR)}</tr>"
                for r in df.sort_values("outlet").to_dict("records"))
            blocks.append(f"""<section class="story" id="story-{i}">
<h3>{_e("(no story)" if _missing(story) else story)}
<span class="muted">{len(df)} outlet{"s" if len(df) != 1 else ""}</span></h3>
<table class="data story-table"><thead><tr><th>Outlet</th><th>Articles</th><th>Sentences</th>
<th>Hedged share</th><th>Anonymous share</th></tr></thead><tbody>{rows}</tbody></table>
</section>""")
    body = "".join(blocks) or '<p class="note">No story groups.</p>'
    return f"""<section id="stories">
<h2>Stories: outlets side by side</h2>
<p class="note">The same story as covered by each outlet. Bars show the share; the dark whisker
is the 95% interval.</p>
{body}
</section>"""


# --------------------------------------------------------------------------- articles


def _articles(sentences: pd.DataFrame, articles: pd.DataFrame, outlets: pd.DataFrame,
              meta: dict) -> str:
    """Every scored article, sentence by sentence, coloured by the label axis the reader picks."""
    per_article = ({r["article_id"]: r for r in aggregate.article_table(sentences).to_dict("records")}
                   if len(aggregate.body_sentences(sentences)) else {})
    ledger = {}
    if "article_id" in articles:
        ledger = {r["article_id"]: r for r in articles.to_dict("records")}
    order = _article_order(sentences, articles)
    by_article: dict[Any, list[dict[str, Any]]] = {}
    for rec in sentences.to_dict("records"):
        by_article.setdefault(rec.get("article_id"), []).append(rec)
    min_conf = _num(meta.get("min_confidence"))
    open_attr = " open" if len(order) <= OPEN_ARTICLES_UP_TO else ""
    outlet_blocks, toc = [], []
    for i, (outlet, ids) in enumerate(_group_by_outlet(order, by_article, ledger, outlets)):
        items = []
        for aid in ids:
            recs = by_article.get(aid, [])
            info = ledger.get(aid, {})
            items.append(_article_html(aid, recs, info, per_article.get(aid, {}), min_conf,
                                       open_attr))
        count = f'{len(ids)} article{"s" if len(ids) != 1 else ""}'
        toc.append(f'<a href="#outlet-{i}">{_e(outlet)} <span class="muted">{len(ids)}</span></a>')
        outlet_blocks.append(f'<section class="outlet" id="outlet-{i}"><h3>{_e(outlet)} '
                             f'<span class="muted">{count}</span></h3>{"".join(items)}</section>')
    legends = "".join(
        f'<span class="legend legend-{_AXIS_ABBR[axis]}">'
        + "".join(f'<span class="key sent {_AXIS_ABBR[axis]}-{_cls(lab)}">{_e(lab)}</span>'
                  for lab in (*AXES[axis], UNCERTAIN)) + "</span>"
        for axis in AXES)
    return f"""<section id="articles">
<h2>Articles</h2>
<p class="note">Each sentence is coloured by its label; hover over it for both labels and all
probabilities. Headlines are shown as headings and are not counted in the shares.</p>
<input type="radio" name="colour-by" id="colour-cert" checked>
<input type="radio" name="colour-by" id="colour-attr">
<div class="controls"><span class="muted">Colour by</span>
<label for="colour-cert">certainty</label><label for="colour-attr">attribution</label>
{legends}
<span class="expand"><button type="button" data-open="1">expand all</button>
<button type="button" data-open="0">collapse all</button></span></div>
<nav class="toc">{"".join(toc)}</nav>
<div class="articles">
{"".join(outlet_blocks)}
</div>
</section>"""


def _article_order(sentences: pd.DataFrame, articles: pd.DataFrame) -> list[Any]:
    """Scored articles in ledger order, then any article that only the sentence table knows."""
    order: list[Any] = []
    if "article_id" in articles:
        scored = articles if "status" not in articles else articles[articles["status"] == "scored"]
        order = list(dict.fromkeys(scored["article_id"]))
    known = set(order)
    extra = [a for a in dict.fromkeys(sentences["article_id"]) if a not in known]
    return order + extra


def _group_by_outlet(order: list[Any], by_article: dict[Any, list[dict[str, Any]]],
                     ledger: dict[Any, dict[str, Any]], outlets: pd.DataFrame
                     ) -> list[tuple[str, list[Any]]]:
    """Articles per outlet, outlets in the order of the outlet table (alphabetical)."""
    groups: dict[str, list[Any]] = {}
    for aid in order:
        recs = by_article.get(aid)
        outlet = recs[0].get("outlet") if recs else ledger.get(aid, {}).get("outlet")
        groups.setdefault(_name(outlet), []).append(aid)
    rank = {_name(o): i for i, o in enumerate(outlets.get("outlet", []))}
    return sorted(groups.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def _article_html(aid: Any, recs: list[dict[str, Any]], info: Mapping[str, Any],
                  stats: Mapping[str, Any], min_conf: float, open_attr: str) -> str:
    recs = sorted(recs, key=lambda r: (_num(r.get("sentence_index")), _num(r.get("start"))))
    title = info.get("title")
    if _missing(title) or not str(title).strip():
        title = recs[0]["text"] if recs else str(aid)
    facts = [f'<span class="mono">{_e(aid)}</span>']
    source = info.get("source", recs[0].get("source") if recs else None)
    if not _missing(source):
        facts.append(f'<span class="mono">{_e(source)}</span>')
    if stats:
        facts.append(f"{_e(stats.get('n_sentences'))} body sentences")
        facts.append(f"hedged {_pct(stats.get('hedged_share'), 0)}")
        facts.append(f"anonymous {_pct(stats.get('anonymous_share'), 0)}")
    origin = info.get("outlet_origin", recs[0].get("outlet_origin") if recs else None)
    if origin == "inferred":
        facts.append("outlet inferred from the text")
    story = info.get("story", recs[0].get("story") if recs else None)
    if not _missing(story):
        facts.append(f"story: {_e(story)}")
    body = _paragraphs(recs, min_conf) if recs else '<p class="muted">No sentences.</p>'
    return (f'<details class="article"{open_attr}><summary><span class="art-title">{_e(title)}'
            f'</span><span class="art-meta">{" · ".join(facts)}</span></summary>'
            f'<div class="text">{body}</div></details>')


def _paragraphs(recs: list[dict[str, Any]], min_conf: float) -> str:
    """Sentences grouped by paragraph; runs of headline sentences become headings."""
    out = []
    for _, para in _runs(recs, lambda r: _num(r.get("paragraph"))):
        for is_head, run in _runs(para, lambda r: _flag(r.get("is_headline"))):
            spans = " ".join(_sentence_span(r, min_conf) for r in run)
            out.append(f'<h4 class="headline">{spans}</h4>' if is_head else f"<p>{spans}</p>")
    return "\n".join(out)


def _runs(items: Iterable[dict[str, Any]], key: Any) -> list[tuple[Any, list[dict[str, Any]]]]:
    """Consecutive items with an equal key (NaN paragraph numbers count as equal)."""
    runs: list[tuple[Any, list[dict[str, Any]]]] = []
    for item in items:
        k = key(item)
        same = runs and (runs[-1][0] == k or (isinstance(k, float) and math.isnan(k)
                                               and isinstance(runs[-1][0], float)
                                               and math.isnan(runs[-1][0])))
        if same:
            runs[-1][1].append(item)
        else:
            runs.append((k, [item]))
    return runs


def _sentence_span(rec: Mapping[str, Any], min_conf: float) -> str:
    cert, attr = rec.get("certainty"), rec.get("attribution")
    classes = f"sent c-{_cls(cert)} a-{_cls(attr)}"
    if _flag(rec.get("is_headline")):
        classes += " hl"
    return (f'<span class="{classes}" data-certainty="{_e(cert)}" data-attribution="{_e(attr)}" '
            f'title="{_e(_hover(rec, min_conf))}">{_e(rec.get("text"))}</span>')


def _hover(rec: Mapping[str, Any], min_conf: float) -> str:
    """Both labels and every probability, for the tooltip."""
    lines = []
    for axis, labels in AXES.items():
        label = rec.get(axis)
        top, p_top = rec.get(f"{axis}_top"), _num(rec.get(f"{axis}_prob"))
        if label == UNCERTAIN and not _missing(top):
            bound = f" < {min_conf:g}" if min_conf > 0 else ""  # NaN compares False
            head = f"{axis}: {UNCERTAIN} (best guess {top}, p={p_top:.2f}{bound})"
        else:
            head = f"{axis}: {label}" + ("" if math.isnan(p_top) else f" (p={p_top:.2f})")
        probs = [f"{lab} {_num(rec.get(f'p_{axis}_{lab}')):.2f}" for lab in labels
                 if not math.isnan(_num(rec.get(f"p_{axis}_{lab}")))]
        lines.append(head + ("\n  " + " · ".join(probs) if probs else ""))
    if _flag(rec.get("is_headline")):
        lines.append("headline (not counted in the shares)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- failures


def _failure_rows(articles: pd.DataFrame, meta: dict) -> list[dict[str, Any]]:
    """Articles that failed to score (ledger) plus inputs that failed to read (only in meta)."""
    rows: list[dict[str, Any]] = []
    if "status" in articles:
        for r in articles[articles["status"] == "error"].to_dict("records"):
            rows.append({"outlet": r.get("outlet"), "id": r.get("article_id"),
                         "source": r.get("source"), "stage": "score", "error": r.get("error")})
    seen = {r["id"] for r in rows}
    for err in (meta.get("summary") or {}).get("errors") or []:
        if err.get("stage") == "score" and err.get("id") in seen:
            continue
        rows.append({"outlet": None, "id": err.get("id"), "source": err.get("source"),
                     "line": err.get("line"), "stage": err.get("stage", "read"),
                     "error": err.get("error")})
    return rows


def _failures(rows: list[dict[str, Any]]) -> str:
    body = "".join(
        f"<tr><td>{_e(r.get('outlet'))}</td><td class=\"mono\">{_e(r.get('id'))}</td>"
        f"<td class=\"mono\">{_e(r.get('source'))}"
        + (f":{_e(r['line'])}" if not _missing(r.get("line")) else "")
        + f"</td><td>{_e(r.get('stage'))}</td><td class=\"err\">{_e(r.get('error'))}</td></tr>"
        for r in rows)
    return f"""<section id="failures">
<h2>Failed articles <span class="muted">{len(rows)}</span></h2>
<p class="note">These inputs are not in any share above.</p>
<div class="scroll"><table class="data"><thead><tr><th>Outlet</th><th>Article</th><th>Source</th>
<th>Stage</th><th>Error</th></tr></thead><tbody>{body}</tbody></table></div>
</section>"""


# --------------------------------------------------------------------------- style and script


def _css() -> str:
    """Static layout rules plus one colour rule per label and axis, generated from COLOURS."""
    rules = []
    for axis, colours in COLOURS.items():
        a = _AXIS_ABBR[axis]
        radio = "#colour-cert" if axis == "certainty" else "#colour-attr"
        for label, colour in colours.items():
            c = _cls(label)
            rules.append(f".sw-{a}-{c}{{background:{colour}}}")
            tint = _tint(colour, 0.30 if label != UNCERTAIN else 0.45)
            stripes = ("background-image:repeating-linear-gradient(135deg,transparent 0 3px,"
                       "rgba(255,255,255,.75) 3px 6px);" if label == UNCERTAIN else "")
            style = f"background-color:{tint};{stripes}border-bottom-color:{colour}"
            rules.append(f"{radio}:checked~.articles .{a}-{c},.legend-{a} .{a}-{c}{{{style}}}")
    return _BASE_CSS + "\n".join(rules) + "\n"


_BASE_CSS = """
:root{--ink:#1f2328;--muted:#59636e;--line:#d0d7de;--soft:#f6f8fa;--accent:#2f4b7c}
*{box-sizing:border-box}
body{margin:0;background:#fff;color:var(--ink);
 font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 32px 64px}
h1{font-size:28px;line-height:1.2;margin:0 0 8px}
h2{font-size:21px;margin:44px 0 6px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:18px 0 8px}
code,.mono{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono",Menlo,Consolas,monospace;
 font-size:.86em}
.mono{color:var(--muted);word-break:break-all}
.muted{color:var(--muted);font-weight:normal;font-size:.85em}
.lede{font-size:16px;color:#30363d;margin:0 0 16px;max-width:820px}
.note{color:var(--muted);margin:4px 0 14px;font-size:14px;max-width:860px}
.stats{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.stat{border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:104px;
 background:var(--soft)}
.stat b{display:block;font-size:21px;line-height:1.2}
.stat span{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:10px 0;
 font-size:14px}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;word-break:break-all}
.howto{border:1px solid var(--line);border-radius:8px;padding:10px 16px;margin-top:14px;
 font-size:14px;background:#fbfcfd}
.howto summary{font-weight:600;cursor:pointer}
dl.defs{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:8px 0}
dl.defs dt{font-weight:600}dl.defs dd{margin:0}
.legend{display:inline-flex;flex-wrap:wrap;gap:4px 12px;align-items:center}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;
 vertical-align:-1px}
.sw-c-uncertain,.sw-a-uncertain{background-image:repeating-linear-gradient(135deg,transparent 0 2px,
 rgba(255,255,255,.8) 2px 4px)}
.chart-grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:18px}
figure.chart{margin:0;border:1px solid var(--line);border-radius:8px;padding:10px 12px;
 overflow-x:auto}
figure.chart.wide{margin-top:18px}
figure.chart figcaption{font-weight:600;font-size:14px;margin-bottom:4px}
svg.chart-svg{display:block;width:100%;height:auto}
.matrix-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:16px}
.matrix-card{border:1px solid var(--line);border-radius:8px;padding:4px 12px 12px}
.matrix-card h3{margin:10px 0 8px}
table{border-collapse:collapse}
table.matrix{font-size:12.5px;width:100%}
table.matrix th,table.matrix td{border:1px solid #fff;padding:4px 6px;text-align:center}
table.matrix thead th{font-weight:600;font-size:12px;background:var(--soft)}
table.matrix th.corner{font-weight:normal;color:var(--muted);font-size:11px;text-align:left}
table.matrix tbody th{text-align:left;background:var(--soft);font-weight:600;white-space:nowrap}
table.matrix td b{display:block;font-size:13.5px}
table.matrix td small{opacity:.85}
table.matrix td.tot{background:var(--soft);color:var(--muted)}
table.matrix tr.tot th{color:var(--muted);font-weight:normal}
.scroll{overflow-x:auto}
table.data{width:100%;font-size:14px}
table.data th,table.data td{border-bottom:1px solid var(--line);padding:7px 10px;text-align:left;
 vertical-align:top}
table.data thead th{background:var(--soft);font-size:12px;text-transform:uppercase;
 letter-spacing:.02em;color:#424a53;vertical-align:bottom}
table.data td.n{font-variant-numeric:tabular-nums;text-align:right}
table.data tbody th{min-width:9em}
table.data td.err{color:#a40e26}
.ci{display:block;font-size:12px;color:var(--muted);white-space:nowrap}
.story{margin-bottom:8px}
.story-table td.barcell{min-width:230px}
.bar{position:relative;display:inline-block;width:150px;height:12px;background:#eef1f4;
 border-radius:3px;vertical-align:middle;margin-right:8px}
.bar .fill{position:absolute;left:0;top:0;bottom:0;border-radius:3px;opacity:.85}
.bar .whisker{position:absolute;top:5px;height:2px;background:#1f2328}
.barval{font-variant-numeric:tabular-nums;font-weight:600}
#colour-cert,#colour-attr{position:absolute;opacity:0;pointer-events:none}
.controls{position:sticky;top:0;z-index:5;display:flex;flex-wrap:wrap;gap:8px 14px;
 align-items:center;background:rgba(255,255,255,.96);border-bottom:1px solid var(--line);
 padding:10px 0;font-size:14px}
.controls label{border:1px solid var(--line);border-radius:16px;padding:3px 12px;cursor:pointer;
 user-select:none}
#colour-cert:checked~.controls label[for=colour-cert],
#colour-attr:checked~.controls label[for=colour-attr]{background:var(--accent);color:#fff;
 border-color:var(--accent)}
#colour-cert:focus-visible~.controls label[for=colour-cert],
#colour-attr:focus-visible~.controls label[for=colour-attr]{outline:2px solid var(--accent)}
.controls .legend{gap:6px}
.controls .key{padding:1px 7px;font-size:13px}
.legend-a{display:none}
#colour-attr:checked~.controls .legend-c{display:none}
#colour-attr:checked~.controls .legend-a{display:inline-flex}
.expand{margin-left:auto}
.expand button{font:inherit;font-size:13px;border:1px solid var(--line);background:#fff;
 border-radius:6px;padding:2px 10px;cursor:pointer}
.toc{display:flex;flex-wrap:wrap;gap:4px 16px;margin:12px 0;font-size:14px}
.toc a{color:var(--accent);text-decoration:none}
.outlet>h3{font-size:18px;margin-top:28px;padding-bottom:4px;border-bottom:2px solid var(--ink)}
details.article{border:1px solid var(--line);border-radius:8px;margin:10px 0;background:#fff}
details.article>summary{cursor:pointer;padding:10px 14px 10px 34px;background:var(--soft);
 border-radius:8px;list-style:none;position:relative}
details.article>summary::-webkit-details-marker{display:none}
details.article>summary::before{content:"";position:absolute;left:14px;top:17px;
 border:5px solid transparent;border-left:7px solid var(--muted);transition:transform .1s;
 transform-origin:2px 5px}
details.article[open]>summary::before{transform:rotate(90deg)}
details.article[open]>summary{border-bottom:1px solid var(--line);border-radius:8px 8px 0 0}
.art-title{font-weight:600;font-size:15.5px}
.art-meta{display:block;font-size:12.5px;color:var(--muted);margin-top:2px}
.text{padding:6px 18px 12px;max-width:900px;font-size:15.5px;line-height:1.85}
.text p{margin:8px 0}
.text h4.headline{font-size:19px;line-height:1.5;margin:10px 0 6px}
.sent{border-bottom:2px solid transparent;border-radius:2px;padding:1px 1px;
 -webkit-box-decoration-break:clone;box-decoration-break:clone}
.sent:hover{outline:1px solid #1f2328}
"""

_SCRIPT = """<script>
document.querySelectorAll('.expand button').forEach(function (b) {
  b.addEventListener('click', function () {
    var open = b.getAttribute('data-open') === '1';
    document.querySelectorAll('details.article').forEach(function (d) { d.open = open; });
  });
});
</script>"""
