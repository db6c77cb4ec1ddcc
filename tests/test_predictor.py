from __future__ import annotations

from pathlib import Path

import pytest

from stance.predictor import Predictor, default_model_dir
from stance.readers import Article, read_articles
from tests.conftest import ROOT, SEEDS


def test_predict_mirrors_its_input(tiny_model: Path):
    p = Predictor.from_pretrained(tiny_model)
    one = p.predict("The mayor said the vote would go ahead.")
    assert isinstance(one, dict)
    assert one["certainty"] in {"confirmed", "believed", "unclear"}
    assert set(one["certainty_probs"]) == {"confirmed", "believed", "unclear"}
    assert sum(one["attribution_probs"].values()) == pytest.approx(1.0, abs=1e-5)
    many = p.predict(["One.", "Two.", "Three."])
    assert isinstance(many, list) and len(many) == 3 and [m["text"] for m in many] == ["One.", "Two.", "Three."]
    assert p.predict([]) == []
    with pytest.raises(ValueError, match="2 sentences but 1 contexts"):
        p.predict(["a", "b"], context=["x"])


def test_context_changes_the_input(tiny_model: Path):
    p = Predictor.from_pretrained(tiny_model)
    a = p.predict("“We will not stop,” he said.", context="")["certainty_probs"]
    ctx = "Two officials familiar with the plan spoke."
    b = p.predict("“We will not stop,” he said.", context=ctx)["certainty_probs"]
    assert a != b


def test_min_confidence_marks_uncertain(tiny_model: Path):
    p = Predictor.from_pretrained(tiny_model, min_confidence=0.999)
    r = p.predict("Something happened.")
    assert r["certainty"] == "uncertain" and r["attribution"] == "uncertain"


def test_score_articles_records_are_plain_data(tiny_model: Path):
    p = Predictor.from_pretrained(tiny_model)
    arts, _, _ = read_articles([SEEDS])
    records = p.score_articles(arts)
    assert {r["article_id"] for r in records} == {a.id for a in arts}
    r0 = records[0]
    assert {"article_id", "outlet", "sentence_index", "start", "end", "text", "certainty", "attribution",
            "p_certainty_confirmed", "p_attribution_none", "is_headline"} <= set(r0)
    assert all(isinstance(v, (str, int, float, bool, type(None))) for v in r0.values())
    df = p.score_articles(arts, as_frame=True)
    assert len(df) == len(records) and list(df.columns) == list(r0)
    single = p.score_article("It rained in Lagos on Monday. Officials said roads were closed.")
    assert [s["text"] for s in single] == ["It rained in Lagos on Monday.", "Officials said roads were closed."]


def test_bad_article_skipped_or_raised(tiny_model: Path):
    p = Predictor.from_pretrained(tiny_model)
    arts = [Article(id="ok", text="The bridge reopened."), Article(id="bad", text="Related Articles\n\n.")]
    with pytest.raises(ValueError, match="no sentences after cleaning"):
        p.score_articles(arts)
    assert {r["article_id"] for r in p.score_articles(arts, errors="skip")} == {"ok"}
    results = list(p.iter_scored(arts))
    assert [r.error is None for r in results] == [True, False]


def test_long_sentences_are_truncated_and_counted(tiny_model: Path):
    p = Predictor.from_pretrained(tiny_model)
    long = "The " + "very " * 400 + "long sentence ended."
    r = p.predict(long)
    assert r["certainty"] in {"confirmed", "believed", "unclear"}
    assert p.truncated == 1


def test_default_model_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    assert default_model_dir() == ROOT / "models" / "default"
    monkeypatch.setenv("STANCE_MODEL", str(tmp_path))
    assert default_model_dir() == tmp_path


@pytest.mark.slow
def test_shipped_default_model_loads_and_labels_the_codebook_examples():
    p = Predictor.from_pretrained()
    examples = [
        ("The council approved the budget on Tuesday by a vote of 7 to 2.", "confirmed", "none"),
        ("The mayor said the vote would go ahead as planned.", "confirmed", "named"),
        ("It is not yet clear how many people were on board, according to a police source.", "unclear", "anonymous"),
        ("The company reportedly laid off 300 workers last month.", "believed", "anonymous"),
        ("A spokesperson for the ministry declined to comment.", "confirmed", "named"),
    ]
    out = p.predict([e[0] for e in examples])
    got = [(o["certainty"], o["attribution"]) for o in out]
    assert sum(g == (c, a) for g, (_, c, a) in zip(got, examples, strict=True)) >= 4, got


def test_prepared_in_background_keeps_order_errors_and_stops_cleanly():
    from stance.predictor import _prepared

    arts = [Article(id=f"a{i}", text=f"Sentence number {i} is here.", outlet="X") for i in range(50)]
    arts[7].text = None  # prepare() fails on this one: reported, the rest go on
    out = list(_prepared(arts, ahead=4))
    assert [a.id for a, _, _ in out] == [a.id for a in arts]
    assert out[7][1] is None and out[7][2] and all(d is not None for i, (_, d, _) in enumerate(out) if i != 7)

    gen = _prepared(iter(arts), ahead=2)  # a consumer that stops early must not leave it hanging
    next(gen)
    gen.close()

    def broken():
        yield arts[0]
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        list(_prepared(broken()))
