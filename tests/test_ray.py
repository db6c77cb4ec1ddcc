"""The Ray engine gives the local engine's tables, accounts for every article, and resumes.

One local Ray (2 CPUs) serves the whole module; each job starts its own actors, which load the
tiny model, so the module keeps the number of jobs small.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ray = pytest.importorskip("ray")

from stance.aggregate import N_BOOT  # noqa: E402
from stance.readers import ReaderOptions  # noqa: E402
from stance.scoring import ScoreOptions, score_inputs  # noqa: E402

pytestmark = pytest.mark.ray

OUTLETS = ["Daily Ledger", "Harbor Times", "Valley Post"]
CUES = [
    "The council approved budget item {i} on Tuesday by a vote of seven to two.",
    "Mayor Ana Ruiz said project {i} would go ahead as planned.",
    "Two officials familiar with project {i} said it was likely to be delayed.",
    "It is unclear whether project {i} could survive a court challenge.",
    "People close to the council say project {i} may be scrapped.",
    "Project {i} will probably cost more than expected.",
    "The governor said it remains to be seen whether project {i} is legal.",
    "Sources said the vote on project {i} had been rigged.",
]


def _text(i: int) -> str:
    n = 3 + i % 5
    return " ".join(CUES[(i * 3 + k) % len(CUES)].format(i=i) for k in range(n))


@pytest.fixture(scope="module")
def ray_local():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A JSONL file (three outlets, two stories, bad records, a repeated id) and a directory of
    text files whose outlets come from sub-directory names."""
    d = tmp_path_factory.mktemp("ray-inputs")
    with (d / "articles.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(30):
            rec = {"id": f"a{i:02d}", "text": _text(i), "outlet": OUTLETS[i % 3],
                   "title": f"Project {i} in the news"}
            if i % 4:
                rec["story"] = f"story-{i % 2}"
            fh.write(json.dumps(rec) + "\n")
        fh.write(json.dumps({"id": "empty", "text": "  ", "outlet": OUTLETS[0]}) + "\n")  # read error
        fh.write("{not json\n")  # read error; must not fail the job
        fh.write(json.dumps({"id": "ad", "text": "Advertisement", "outlet": OUTLETS[1]}) + "\n")
        fh.write(json.dumps({"id": "a03", "text": _text(99), "outlet": OUTLETS[2]}) + "\n")  # repeat
        fh.write(json.dumps({"text": _text(100), "outlet": OUTLETS[0]}) + "\n")  # default id
    texts = d / "texts"
    for k in range(8):
        sub = texts / ("Metro Daily" if k % 2 else "Coast Courier")
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"t{k}.txt").write_text(f"Headline {k}\n\n{_text(200 + k)}\n", encoding="utf-8")
    (texts / "Metro Daily" / "blank.txt").write_text("\n", encoding="utf-8")  # read error
    return [d / "articles.jsonl", texts]


@pytest.fixture(scope="module")
def opts(tiny_model: Path) -> ScoreOptions:
    return ScoreOptions(model=str(tiny_model), by_story=True, report=False, n_boot=300,
                        num_threads=1)


@pytest.fixture(scope="module")
def local(inputs, opts, tmp_path_factory):
    return score_inputs(inputs, tmp_path_factory.mktemp("local-out"), ReaderOptions(), opts)


@pytest.fixture(scope="module")
def ray_out(ray_local, inputs, opts, tmp_path_factory):
    from stance.distributed import score_with_ray

    out = tmp_path_factory.mktemp("ray-out")
    res = score_with_ray(inputs, out, ReaderOptions(), opts, num_actors=2, batch_articles=6)
    return out, res


def _sorted(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return df.sort_values(by).reset_index(drop=True)


def _assert_same_tables(local, res) -> None:
    pd.testing.assert_frame_equal(_sorted(res.outlets, ["outlet"]), _sorted(local.outlets, ["outlet"]),
                                  check_exact=True)
    pd.testing.assert_frame_equal(_sorted(res.stories, ["story", "outlet"]),
                                  _sorted(local.stories, ["story", "outlet"]), check_exact=True)


def _shard_rows(out: Path) -> pd.DataFrame:
    """Every sentence row on disk, from every complete shard, without any de-duplication."""
    import pyarrow.parquet as pq

    parts = [pq.read_table(p, columns=["article_id", "sentence_index"]).to_pandas()
             for p in sorted((out / "sentences").glob("part-*.parquet"))]
    return pd.concat(parts, ignore_index=True)


def test_tables_identical_to_local_engine(local, ray_out):
    out, res = ray_out
    _assert_same_tables(local, res)
    for name in ("outlets.csv", "stories.csv"):  # byte for byte, as written
        assert (out / name).read_bytes() == (Path(local.files["outlets"]).parent / name).read_bytes()
    pd.testing.assert_frame_equal(res.articles, local.articles, check_dtype=False)
    ls, rs = local.sentences, res.sentences
    labels = ["article_id", "outlet", "outlet_origin", "source", "sentence_index", "start", "end",
              "paragraph", "is_headline", "text", "certainty", "attribution"]
    pd.testing.assert_frame_equal(rs[labels], ls[labels], check_dtype=False)
    probs = [c for c in ls if c.startswith("p_")]
    pd.testing.assert_frame_equal(rs[probs], ls[probs], check_exact=False, atol=1e-4)
    assert list(rs.columns) == list(ls.columns)


def test_every_article_scored_or_in_errors(local, ray_out):
    out, res = ray_out
    scored = set(res.articles.loc[res.articles["status"] == "scored", "article_id"])
    failed_read = [e for e in res.errors if e["stage"] == "read"]
    failed_score = {e["id"] for e in res.errors if e["stage"] == "score"}
    assert failed_score == {"ad"}
    assert {(e["id"], e["line"]) for e in failed_read} >= {("empty", 31), (None, 32)}
    assert any(e["source"].endswith("blank.txt") for e in failed_read)
    assert scored.isdisjoint(failed_score)
    # the local engine's ids: a repeated id gets a suffix, a record without one gets <stem>-<line>
    assert {"a03", "a03~2", "articles-35", "t0", "t7"} <= scored
    assert len(scored) + len(failed_score) == res.read.read == local.read.read == 30 + 3 + 8
    assert res.errors == local.errors
    assert [json.loads(x) for x in (out / "errors.jsonl").read_text().splitlines()] == res.errors
    rows = _shard_rows(out)
    assert not rows.duplicated().any() and set(rows["article_id"]) == scored


def test_resume_after_interruption(local, ray_out, inputs, opts, tmp_path):
    from stance.distributed import _complete_shards, score_with_ray

    src, first = ray_out
    out = tmp_path / "resumed"
    shutil.copytree(src, out)
    shards = sorted((out / "sentences").glob("part-*.parquet"))
    assert len(shards) >= 4
    lost, kept = shards[::2], shards[1::2]
    for p in lost:  # the interruption: these blocks never committed ...
        p.unlink()
    stale = out / "sentences" / f".{lost[0].name}.x1y2.tmp"  # ... one was half written
    stale.write_bytes(b"PAR1 half a shard")
    before = {p.name: p.stat().st_mtime_ns for p in kept}
    kept_ids = {s["article_id"] for sh in _complete_shards(out / "sentences") for s in sh.stubs}
    progress: list[tuple[int, int]] = []
    res = score_with_ray(inputs, out, ReaderOptions(), opts, num_actors=2, batch_articles=6,
                         progress=lambda _, done, total: progress.append((done, total)))
    assert not stale.exists()
    assert {p.name: p.stat().st_mtime_ns for p in kept} == before  # done blocks untouched
    n_lost = first.read.read - len(kept_ids)  # only the lost articles were scored again
    assert progress[-1] == (n_lost, n_lost)
    rows = _shard_rows(out)
    assert not rows.duplicated().any()
    expected = local.sentences[["article_id", "sentence_index"]]
    assert set(map(tuple, rows.to_numpy())) == set(map(tuple, expected.to_numpy()))
    _assert_same_tables(local, res)
    assert res.errors == local.errors
    pd.testing.assert_frame_equal(res.articles, local.articles, check_dtype=False)

    with pytest.raises(ValueError, match="other settings"):  # never mix two models' labels
        other = ScoreOptions(**{**opts.__dict__, "min_confidence": 0.5})
        score_with_ray(inputs, out, ReaderOptions(), other)


def test_parquet_input_and_cli(ray_local, inputs, opts, local, tmp_path):
    """The CLI's --engine ray on Parquet: same outlet table as the local engine on the JSONL."""
    from typer.testing import CliRunner

    from stance.cli import app, data, evaluate, export, score, train  # noqa: F401  (as main())

    lines = inputs[0].read_text(encoding="utf-8").splitlines()[:30]  # the good records
    ref_in = tmp_path / "ref.jsonl"
    ref_in.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ref_opts = ScoreOptions(**{**opts.__dict__, "n_boot": N_BOOT})  # the CLI's default
    score_inputs([ref_in], tmp_path / "ref", ReaderOptions(), ref_opts)
    pq_path = tmp_path / "articles.parquet"
    pd.DataFrame([json.loads(x) for x in lines]).to_parquet(pq_path, index=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "score", str(pq_path), "-o", str(out), "-m", opts.model, "--engine", "ray", "--actors", "1",
        "--threads", "1", "--json", "--no-report", "--by", "story"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["articles_scored"] == 30 and summary["errors"] == []
    for name in ("outlets.csv", "stories.csv"):
        assert (out / name).read_bytes() == (tmp_path / "ref" / name).read_bytes()
    assert sorted((out / "sentences").glob("part-*.parquet"))

def test_local_engine_does_not_import_ray(inputs, opts, tmp_path):
    out = tmp_path / "o"
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from stance.cli import app, data, evaluate, export, score, train\n"
        f"r = CliRunner().invoke(app, ['score', {str(inputs[1])!r}, '-m', {opts.model!r}, "
        f"'-o', {str(out)!r}, '-q', '--no-report', '--threads', '1'])\n"
        "assert r.exit_code == 1 and 'blank.txt' in r.output, r.output\n"
        "assert 'ray' not in sys.modules, 'the local engine imported ray'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "outlets.csv").is_file()
