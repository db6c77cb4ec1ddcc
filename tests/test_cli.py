"""The command line, end to end on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from stance.cli import app
from stance.cli import data as _data  # noqa: F401  (registers commands)
from stance.cli import evaluate as _evaluate  # noqa: F401
from stance.cli import export as _export  # noqa: F401
from stance.cli import score as _score  # noqa: F401
from stance.cli import train as _train  # noqa: F401
from tests.conftest import SEEDS, tiny_overrides

runner = CliRunner()


def _run(args: list[str], **kw):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, **kw)


def test_score_seeds_writes_every_output(tiny_model: Path, tmp_path: Path):
    out = tmp_path / "out"
    r = _run(["score", SEEDS, "--model", tiny_model, "-o", out, "--by", "story"])
    assert r.exit_code == 0, r.output
    for name in ("sentences.jsonl", "articles.csv", "outlets.csv", "stories.csv", "errors.jsonl", "report.html"):
        assert (out / name).is_file(), name
    sents = pd.read_json(out / "sentences.jsonl", lines=True)
    outlets = pd.read_csv(out / "outlets.csv")
    assert sorted(outlets["outlet"]) == ["CBS News", "CNN", "Conservative News Daily", "NBC News",
                                         "Washington Examiner"]
    assert outlets["n_sentences"].sum() == (~sents["is_headline"]).sum() == 93
    arts = pd.read_csv(out / "articles.csv")
    assert len(arts) == 5 and set(arts["status"]) == {"scored"}
    stories = pd.read_csv(out / "stories.csv")
    assert set(stories["story"]) == {"china-russia-aid"} and len(stories) == 5
    assert (out / "errors.jsonl").read_text() == ""
    assert "Per outlet" in r.output and "CBS News" in r.output
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temp files


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_score_formats(tiny_model: Path, tmp_path: Path, fmt: str):
    r = _run(["score", SEEDS / "000_6a4537974038aad6.txt", "--model", tiny_model, "-o", tmp_path,
              "--format", fmt, "--quiet", "--no-report"])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "sentences.csv") if fmt == "csv" else pd.read_parquet(tmp_path / "sentences.parquet")
    assert len(df) == 14 and df["outlet"].iloc[0] == "CBS News"


def test_mixed_good_and_bad_inputs(tiny_model: Path, tmp_path: Path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "good.txt").write_text("Officials said the port reopened on Monday. It is unclear why.", encoding="utf-8")
    (d / "empty.txt").write_text("", encoding="utf-8")
    (d / "binary.txt").write_bytes(b"\x00\x01\x02")
    (d / "boiler.txt").write_text("Related Articles\nLeave a Reply\n.", encoding="utf-8")
    (d / "rows.jsonl").write_text(json.dumps({"id": "j1", "text": "The vote was delayed.", "outlet": "Wire"})
                                  + "\n{bad json\n", encoding="utf-8")
    out = tmp_path / "out"
    r = _run(["score", d, tmp_path / "missing.txt", "--model", tiny_model, "-o", out, "--no-report"])
    assert r.exit_code == 1
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert sorted(Path(e["source"]).name for e in errors) == ["binary.txt", "boiler.txt", "empty.txt",
                                                               "missing.txt", "rows.jsonl"]
    jsonl_err = next(e for e in errors if e["source"].endswith("rows.jsonl"))
    assert jsonl_err["line"] == 2
    arts = pd.read_csv(out / "articles.csv")
    assert set(arts.loc[arts.status == "scored", "article_id"]) == {"good", "j1"}
    assert set(arts.loc[arts.status == "error", "article_id"]) == {"boiler"}
    sents = pd.read_json(out / "sentences.jsonl", lines=True)
    assert set(sents["article_id"]) == {"good", "j1"}
    # every input appears either scored or as an error, and each error is one line on stderr
    assert "skipped" in r.output and "Traceback" not in r.output
    r2 = _run(["score", d, "--model", tiny_model, "-o", out, "--no-report", "--allow-errors", "--quiet"])
    assert r2.exit_code == 0


def test_score_json_summary_and_stdin(tiny_model: Path, tmp_path: Path):
    r = _run(["score", "-", "--model", tiny_model, "-o", tmp_path, "--json", "--no-report"],
             input="The minister resigned on Friday, officials said.")
    assert r.exit_code == 0
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["articles_scored"] == 1 and summary["sentences"] == 1
    assert summary["outlets"][0]["outlet"] == "unknown"


def test_score_bad_model_and_options_are_one_line_errors(tmp_path: Path):
    r = runner.invoke(app, ["score", str(SEEDS), "--model", str(tmp_path / "nope"), "-o", str(tmp_path)])
    assert r.exit_code == 2
    assert r.output.strip().splitlines()[-1].startswith("stance: error:")
    assert "no such model directory" in r.output and "Traceback" not in r.output


def test_train_and_evaluate_commands(tiny_base: Path, tiny_corpus: Path, tmp_path: Path):
    out = tmp_path / "m"
    overrides = [o for o in tiny_overrides(tiny_base, tiny_corpus, out, epochs=1) if not o.startswith("output.dir")]
    cfg = tmp_path / "c.toml"
    cfg.write_text("[training]\nseed = 5\n", encoding="utf-8")
    r = _run(["train", cfg, *overrides, "-o", out, "--quiet"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "stance.json").read_text())["seed"] == 5
    ev = tmp_path / "ev"
    r = _run(["evaluate", out, tiny_corpus / "test.jsonl", "-o", ev, "--baselines",
              "--train-data", tiny_corpus / "train.jsonl"])
    assert r.exit_code == 0, r.output
    metrics = json.loads((ev / "metrics.json").read_text())
    assert set(metrics) >= {"certainty", "attribution", "mean_macro_f1"}
    assert len(metrics["certainty"]["confusion"]) == 3
    assert (ev / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    errors = [json.loads(x) for x in (ev / "errors.jsonl").read_text().splitlines()]
    n = metrics["certainty"]["n"]
    wrong_c = n - sum(metrics["certainty"]["confusion"][i][i] for i in range(3))
    wrong_a = n - sum(metrics["attribution"]["confusion"][i][i] for i in range(3))
    assert max(wrong_c, wrong_a) <= len(errors) <= wrong_c + wrong_a
    assert all(e["wrong"] and e["gold_certainty"] for e in errors)
    assert (ev / "rules" / "metrics.json").is_file() and (ev / "tfidf" / "metrics.json").is_file()
    assert "comparison" in r.output


def test_train_rejects_unknown_key(tmp_path: Path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[training]\nepoch = 3\n", encoding="utf-8")
    r = runner.invoke(app, ["train", str(cfg)])
    assert r.exit_code == 2 and "unknown key(s) in [training]: ['epoch']" in r.output


def test_data_stats_and_validate():
    r = _run(["data", "stats", "training/data", "--json"])
    assert r.exit_code == 0
    s = json.loads(r.stdout)
    assert s["train"]["sentences"] > 4000 and s["duplicates"]["cross_split_pairs"] == 0
    r = _run(["data", "validate", "seeds/labels.jsonl"])
    assert r.exit_code == 0 and "93 rows OK" in r.output
