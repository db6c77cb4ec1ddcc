"""Per-article and per-outlet aggregates of sentence labels, with bootstrap confidence intervals.

Definitions (used by every engine, local or Ray, and documented in docs/outputs.md):
- Only body sentences count; headlines are labelled but kept out of the shares.
- `share_<axis>_<label>`: that label's share of the body sentences (sentences below
  --min-confidence count as `uncertain` and are in the denominator).
- `hedged_share`: share of sentences labelled `believed` or `unclear`.
- `hedging_index`: (believed + 2 * unclear) / (2 * n), 0 = all confirmed, 1 = all unclear.
- `anonymous_share`: share of sentences sourced to anonymous sources.
- `anonymous_of_attributed`: anonymous / (named + anonymous), the share of sourced sentences
  whose source is unnamed (empty when nothing is sourced).
Per outlet, 95% percentile bootstrap intervals resample whole articles when the outlet has at
least `MIN_ARTICLES_FOR_CLUSTER` articles (sentences of one article are not independent), and
sentences otherwise; the `ci_unit` column says which.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from stance.labels import ATTRIBUTION, CERTAINTY, UNCERTAIN

CERT = (*CERTAINTY, UNCERTAIN)
ATTR = (*ATTRIBUTION, UNCERTAIN)
#: joint cells: certainty x attribution, uncertain included on both axes
CELLS = [(c, a) for c in CERT for a in ATTR]
MIN_ARTICLES_FOR_CLUSTER = 5
N_BOOT = 2000
INDEX_COLUMNS = ["hedged_share", "hedging_index", "anonymous_share", "anonymous_of_attributed"]


def _grouped_cell_counts(body: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """(first row of each group, joint cell counts per group in CELLS order), groups in order of
    first appearance. One vectorised pass: a groupby per article cost seconds on large runs."""
    cert = pd.Categorical(body["certainty"], categories=CERT).codes
    attr = pd.Categorical(body["attribution"], categories=ATTR).codes
    if (cert < 0).any() or (attr < 0).any():
        bad = sorted({str(x) for x in body["certainty"][cert < 0]} | {str(x) for x in body["attribution"][attr < 0]})
        raise ValueError(f"labels outside the schema: {bad}")
    grp = body.groupby(keys, sort=False, dropna=False)
    gid = grp.ngroup().to_numpy()
    counts = np.zeros((grp.ngroups, len(CELLS)), dtype=np.int64)
    np.add.at(counts, (gid, cert.astype(np.int64) * len(ATTR) + attr), 1)
    first = body[grp.cumcount().to_numpy() == 0]
    return first, counts


def measures(counts: np.ndarray) -> dict[str, np.ndarray]:
    """All shares from joint cell counts; `counts` has shape (..., len(CELLS))."""
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum(-1)
    safe_n = np.where(n > 0, n, np.nan)
    cert = {c: counts[..., [i for i, (cc, _) in enumerate(CELLS) if cc == c]].sum(-1) for c in CERT}
    attr = {a: counts[..., [i for i, (_, aa) in enumerate(CELLS) if aa == a]].sum(-1) for a in ATTR}
    out: dict[str, np.ndarray] = {}
    for c in CERT:
        out[f"share_certainty_{c}"] = cert[c] / safe_n
    for a in ATTR:
        out[f"share_attribution_{a}"] = attr[a] / safe_n
    out["hedged_share"] = (cert["believed"] + cert["unclear"]) / safe_n
    out["hedging_index"] = (cert["believed"] + 2 * cert["unclear"]) / (2 * safe_n)
    out["anonymous_share"] = attr["anonymous"] / safe_n
    sourced = attr["named"] + attr["anonymous"]
    out["anonymous_of_attributed"] = attr["anonymous"] / np.where(sourced > 0, sourced, np.nan)
    return out


def _count_columns(counts: np.ndarray) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in CERT:
        out[f"n_certainty_{c}"] = int(sum(counts[i] for i, (cc, _) in enumerate(CELLS) if cc == c))
    for a in ATTR:
        out[f"n_attribution_{a}"] = int(sum(counts[i] for i, (_, aa) in enumerate(CELLS) if aa == a))
    return out


def body_sentences(sentences: pd.DataFrame) -> pd.DataFrame:
    """The sentences that count: headlines are labelled but kept out of every share."""
    if "is_headline" not in sentences:
        return sentences
    return sentences[~sentences["is_headline"].fillna(False).astype(bool)]


def article_table(sentences: pd.DataFrame) -> pd.DataFrame:
    """One row per article: counts and shares of every label, and the indices."""
    first, counts = _grouped_cell_counts(body_sentences(sentences), ["article_id", "outlet"])
    rows = []
    for k, r in enumerate(first.to_dict("records")):
        m = measures(counts[k])
        row: dict[str, Any] = {"article_id": r["article_id"], "outlet": r["outlet"],
                               "story": r.get("story"), "source": r.get("source"),
                               "n_sentences": int(counts[k].sum())}
        row.update(_count_columns(counts[k]))
        row.update({name: float(v) for name, v in m.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def bootstrap_ci(groups: Sequence[np.ndarray], n_boot: int = N_BOOT, seed: int = 0,
                 level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile CIs of every measure, resampling the given units (articles or sentences),
    each a vector of joint cell counts."""
    rng = np.random.default_rng(seed)
    units = np.asarray(groups, dtype=np.float64)
    if len(units) == 0:
        return {}
    pick = rng.integers(0, len(units), size=(n_boot, len(units)))
    totals = units[pick].sum(axis=1)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    out = {}
    for k, v in measures(totals).items():
        if np.all(np.isnan(v)):
            out[k] = (float("nan"), float("nan"))
        else:
            out[k] = (float(np.nanquantile(v, lo_q)), float(np.nanquantile(v, hi_q)))
    return out


CELL_COLUMNS = [f"cell_{c}__{a}" for c, a in CELLS]


def article_cell_counts(sentences: pd.DataFrame) -> pd.DataFrame:
    """Per article: outlet, story and the joint cell counts of its body sentences.

    Every group statistic is computed from this table alone, so a distributed engine only has to
    ship these few numbers per article to get exactly the local results."""
    first, counts = _grouped_cell_counts(body_sentences(sentences), ["article_id"])
    out = pd.DataFrame({"article_id": first["article_id"].to_numpy(),
                        "outlet": first["outlet"].to_numpy(),
                        "story": first["story"].to_numpy() if "story" in first else None})
    for j, col in enumerate(CELL_COLUMNS):
        out[col] = counts[:, j]
    return out[["article_id", "outlet", "story", *CELL_COLUMNS]]


def group_table_from_counts(counts: pd.DataFrame, by: Sequence[str] = ("outlet",),
                            n_boot: int = N_BOOT, seed: int = 0) -> pd.DataFrame:
    """One row per group from per-article cell counts: counts, shares and 95% bootstrap CIs."""
    rows = []
    counts = counts.sort_values("article_id", kind="stable")
    for key, df in counts.groupby(list(by), sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        per_article = df[CELL_COLUMNS].to_numpy(dtype=np.int64)
        total = per_article.sum(axis=0)
        if len(per_article) >= MIN_ARTICLES_FOR_CLUSTER:
            units, unit = per_article, "article"
        else:  # one unit per sentence, rebuilt from the counts
            units, unit = np.repeat(np.eye(len(CELLS), dtype=np.int64), total, axis=0), "sentence"
        ci = bootstrap_ci(list(units), n_boot=n_boot, seed=seed)
        row: dict[str, Any] = dict(zip(by, key, strict=True))
        row.update({"n_articles": len(per_article), "n_sentences": int(total.sum())})
        row.update(_count_columns(total))
        for k, v in measures(total).items():
            row[k] = float(v)
            lo, hi = ci.get(k, (float("nan"), float("nan")))
            row[f"{k}_lo"], row[f"{k}_hi"] = lo, hi
        row["ci_unit"] = unit
        rows.append(row)
    return pd.DataFrame(rows)


def group_table(sentences: pd.DataFrame, by: Sequence[str] = ("outlet",), n_boot: int = N_BOOT,
                seed: int = 0) -> pd.DataFrame:
    return group_table_from_counts(article_cell_counts(sentences), by, n_boot=n_boot, seed=seed)


def outlet_table(sentences: pd.DataFrame, **kw: Any) -> pd.DataFrame:
    return group_table(sentences, ("outlet",), **kw)


def story_table(sentences: pd.DataFrame, **kw: Any) -> pd.DataFrame:
    return story_table_from_counts(article_cell_counts(sentences), **kw)


def story_table_from_counts(counts: pd.DataFrame, **kw: Any) -> pd.DataFrame:
    counts = counts.copy()
    counts["story"] = counts["story"].fillna("(no story)")
    return group_table_from_counts(counts, ("story", "outlet"), **kw)


def matrix(sentences: pd.DataFrame) -> pd.DataFrame:
    """Certainty x attribution counts (body sentences) per outlet, long format."""
    body = body_sentences(sentences)
    return body.groupby(["outlet", "certainty", "attribution"]).size().rename("n").reset_index()
