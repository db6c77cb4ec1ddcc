"""Aggregation maths on hand-computed examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stance import aggregate


def _sents(spec: list[tuple[str, str, str, str]], headline_first: bool = False) -> pd.DataFrame:
    rows = []
    for i, (aid, outlet, cert, attr) in enumerate(spec):
        rows.append({"article_id": aid, "outlet": outlet, "story": "s1", "source": f"{aid}.txt",
                     "sentence_index": i, "is_headline": False, "certainty": cert, "attribution": attr})
    df = pd.DataFrame(rows)
    if headline_first:
        df.loc[0, "is_headline"] = True
    return df


def test_article_shares_by_hand():
    # article a: 4 body sentences + 1 headline (ignored)
    df = _sents([("a", "X", "unclear", "named"),  # headline
                 ("a", "X", "confirmed", "named"), ("a", "X", "believed", "anonymous"),
                 ("a", "X", "unclear", "anonymous"), ("a", "X", "confirmed", "none")], headline_first=True)
    t = aggregate.article_table(df).iloc[0]
    assert t["n_sentences"] == 4
    assert t["n_certainty_confirmed"] == 2 and t["n_certainty_believed"] == 1 and t["n_certainty_unclear"] == 1
    assert t["share_certainty_confirmed"] == pytest.approx(0.5)
    assert t["hedged_share"] == pytest.approx(0.5)                  # (1 + 1) / 4
    assert t["hedging_index"] == pytest.approx((1 + 2 * 1) / 8)      # (believed + 2 unclear) / 2n
    assert t["anonymous_share"] == pytest.approx(0.5)               # 2 / 4
    assert t["anonymous_of_attributed"] == pytest.approx(2 / 3)      # 2 / (1 named + 2 anonymous)
    assert t["share_attribution_none"] == pytest.approx(0.25)


def test_anonymous_of_attributed_is_nan_when_nothing_sourced():
    t = aggregate.article_table(_sents([("a", "X", "confirmed", "none")])).iloc[0]
    assert np.isnan(t["anonymous_of_attributed"])


def test_uncertain_counts_in_denominator():
    df = _sents([("a", "X", "uncertain", "named"), ("a", "X", "confirmed", "uncertain")])
    t = aggregate.article_table(df).iloc[0]
    assert t["share_certainty_uncertain"] == pytest.approx(0.5) and t["hedged_share"] == 0.0
    assert t["share_attribution_uncertain"] == pytest.approx(0.5)


def test_outlet_pooling_and_degenerate_ci():
    spec = [("a", "X", "confirmed", "named")] * 3 + [("b", "X", "confirmed", "named")] * 2
    spec += [("c", "Y", "believed", "anonymous"), ("c", "Y", "confirmed", "none")]
    t = aggregate.outlet_table(_sents(spec), n_boot=500).set_index("outlet")
    assert t.loc["X", "n_articles"] == 2 and t.loc["X", "n_sentences"] == 5
    # every sentence of X is confirmed: any resample gives 0 hedged
    assert (t.loc["X", "hedged_share_lo"], t.loc["X", "hedged_share"], t.loc["X", "hedged_share_hi"]) == (0, 0, 0)
    assert t.loc["Y", "hedged_share"] == pytest.approx(0.5)
    assert t.loc["X", "ci_unit"] == "sentence"  # fewer than 5 articles


def test_sentence_bootstrap_matches_binomial_interval():
    # 200 sentences, 60 hedged: the percentile interval should match the normal approximation
    spec = [("a", "X", "believed", "none")] * 60 + [("a", "X", "confirmed", "none")] * 140
    row = aggregate.outlet_table(_sents(spec), n_boot=4000).iloc[0]
    p, se = 0.3, np.sqrt(0.3 * 0.7 / 200)
    assert row["hedged_share"] == pytest.approx(p)
    assert row["hedged_share_lo"] == pytest.approx(p - 1.96 * se, abs=0.012)
    assert row["hedged_share_hi"] == pytest.approx(p + 1.96 * se, abs=0.012)


def test_article_cluster_bootstrap_when_enough_articles():
    # 6 articles of 10 sentences; hedged counts 0,2,4,6,8,10 -> article-level variation dominates
    spec = []
    for k in range(6):
        spec += [(f"a{k}", "X", "believed", "none")] * (2 * k) + [(f"a{k}", "X", "confirmed", "none")] * (10 - 2 * k)
    row = aggregate.outlet_table(_sents(spec), n_boot=3000).iloc[0]
    assert row["ci_unit"] == "article"
    assert row["hedged_share"] == pytest.approx(0.5)
    # the cluster interval is much wider than the naive sentence interval (+-0.126 vs +-0.24)
    assert row["hedged_share_hi"] - row["hedged_share_lo"] > 0.35
    # and reproducible (fixed seed)
    again = aggregate.outlet_table(_sents(spec), n_boot=3000).iloc[0]
    assert again["hedged_share_lo"] == row["hedged_share_lo"]


def test_story_table_side_by_side():
    df = _sents([("a", "X", "confirmed", "named"), ("b", "Y", "unclear", "none")])
    df.loc[1, "story"] = "s2"
    t = aggregate.story_table(df, n_boot=100)
    assert list(zip(t["story"], t["outlet"], strict=True)) == [("s1", "X"), ("s2", "Y")]


def test_counts_path_equals_sentence_path():
    rng = np.random.default_rng(3)
    spec = [(f"a{rng.integers(8)}", f"O{rng.integers(3)}", rng.choice(["confirmed", "believed", "unclear"]),
             rng.choice(["named", "anonymous", "none"])) for _ in range(300)]
    df = _sents(spec)
    direct = aggregate.outlet_table(df, n_boot=300)
    via = aggregate.group_table_from_counts(aggregate.article_cell_counts(df), n_boot=300)
    pd.testing.assert_frame_equal(direct, via)


def test_articles_keep_their_order_and_counts_when_interleaved():
    # sentences of two articles interleaved (as a merged file may have them): each article is
    # counted whole, and articles come out in order of first appearance
    df = _sents([("b", "Y", "confirmed", "named"), ("a", "X", "unclear", "none"),
                 ("b", "Y", "believed", "anonymous"), ("a", "X", "unclear", "none")])
    t = aggregate.article_table(df)
    assert t["article_id"].tolist() == ["b", "a"]
    assert t["n_sentences"].tolist() == [2, 2]
    assert t["n_certainty_unclear"].tolist() == [0, 2]
    counts = aggregate.article_cell_counts(df).set_index("article_id")
    assert counts.loc["b", "cell_believed__anonymous"] == 1 and counts.loc["a", "cell_unclear__none"] == 2


def test_a_label_outside_the_schema_is_an_error():
    with pytest.raises(ValueError, match="outside the schema"):
        aggregate.article_table(_sents([("a", "X", "probable", "named")]))
