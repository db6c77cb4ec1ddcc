from __future__ import annotations

import json
from pathlib import Path

import pytest

from stance.readers import (
    Article,
    ReaderOptions,
    ReadError,
    decode_bytes,
    iter_articles,
    read_articles,
)
from tests.conftest import SEEDS


def _split(items):
    arts = [i for i in items if isinstance(i, Article)]
    errs = [i for i in items if isinstance(i, ReadError)]
    return arts, errs


def test_seed_directory_uses_manifest_outlets_and_titles():
    arts, errs, summary = read_articles([SEEDS])
    assert errs == []
    assert summary.read == 5 and summary.skipped == 0
    outlets = {a.id: a.outlet for a in arts}
    assert outlets == {
        "000_6a4537974038aad6": "CBS News", "001_b466b2da8fae8e1c": "CNN",
        "002_325aec625226946b": "Washington Examiner", "003_6f19afad46f3fd0b": "NBC News",
        "004_a039f286250d0bdd": "Conservative News Daily",
    }
    assert all(a.outlet_origin == "manifest" for a in arts)
    assert {a.story for a in arts} == {"china-russia-aid"}


def test_outlets_inferred_from_text_without_manifest(tmp_path: Path):
    for f in SEEDS.glob("*.txt"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    arts, errs, _ = read_articles([tmp_path])
    assert errs == []
    got = {a.id[:3]: (a.outlet, a.outlet_origin) for a in arts}
    assert got == {"000": ("CBS News", "inferred"), "001": ("CNN", "inferred"),
                   "002": ("Washington Examiner", "inferred"), "003": ("NBC News", "inferred"),
                   "004": ("Conservative News Daily", "inferred")}
    assert all(any("inferred" in n for n in a.notes) for a in arts)


def test_outlet_from_parent_directory_and_unknown(tmp_path: Path):
    (tmp_path / "Daily Planet").mkdir()
    (tmp_path / "Daily Planet" / "a.txt").write_text("The mayor resigned on Friday.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Rain is expected tomorrow.", encoding="utf-8")
    arts, _errs, _ = read_articles([tmp_path])
    by_id = {a.id: a for a in arts}
    assert by_id["a"].outlet == "Daily Planet" and by_id["a"].outlet_origin == "directory"
    assert by_id["b"].outlet == "unknown" and by_id["b"].outlet_origin == "unknown"


def test_jsonl_with_custom_columns_and_bad_lines(tmp_path: Path):
    p = tmp_path / "in.jsonl"
    p.write_text(
        json.dumps({"body": "The minister resigned.", "src": "Wire A", "hed": "Resigns", "key": "x1"}) + "\n"
        + "{not json\n"
        + json.dumps({"src": "Wire B"}) + "\n"
        + json.dumps({"body": "   ", "key": "x4"}) + "\n"
        + "\n"
        + json.dumps({"body": "Prices rose.", "key": "x6"}) + "\n",
        encoding="utf-8")
    opts = ReaderOptions(text_column="body", outlet_column="src", title_column="hed", id_column="key",
                         infer_outlets=False)
    arts, errs = _split(list(iter_articles([p], opts)))
    assert [(a.id, a.outlet, a.title, a.outlet_origin) for a in arts] == [
        ("x1", "Wire A", "Resigns", "column"), ("x6", "unknown", None, "unknown")]
    assert [(e.line, e.message.split(":")[0].split(" (")[0]) for e in errs] == [
        (2, "invalid JSON"), (3, "missing text field 'body'"), (4, "empty text in field 'body'")]
    assert all(str(e).startswith(f"{p}:") for e in errs)


def test_csv_reader_and_missing_column(tmp_path: Path):
    good = tmp_path / "good.csv"
    good.write_text('id,outlet,text\n1,Paper,"He said, ""yes."""\n2,Paper,Second story.\n', encoding="utf-8")
    arts, errs = _split(list(iter_articles([good])))
    assert errs == [] and [a.text for a in arts] == ['He said, "yes."', "Second story."]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,body\n1,hello\n", encoding="utf-8")
    arts, errs = _split(list(iter_articles([bad])))
    assert arts == [] and len(errs) == 1
    assert str(errs[0]) == f"{bad}: no column 'text' (columns: id, body); set --text-column"


def test_html_reader_extracts_main_text_with_trafilatura(tmp_path: Path):
    body = " ".join(f"<p>Paragraph {i}: the harbour authority said on Monday that dredging of the "
                    f"eastern channel would resume after a survey of the silt found no contamination.</p>"
                    for i in range(4))
    page = (f"<html><head><title>Harbour dredging resumes</title>"
            f'<meta property="og:site_name" content="Harbour Times"></head><body>'
            f"<nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
            f"<article><h1>Harbour dredging resumes</h1>{body}</article>"
            f"<footer>© 2024 Harbour Times. All rights reserved. Subscribe to our newsletter</footer>"
            f"</body></html>")
    p = tmp_path / "story.html"
    p.write_text(page, encoding="utf-8")
    arts, errs = _split(list(iter_articles([p])))
    assert errs == [] and len(arts) == 1
    a = arts[0]
    assert a.is_html and a.title == "Harbour dredging resumes"
    assert "Paragraph 3: the harbour authority" in a.text
    assert "Home" not in a.text.split("\n") and "Subscribe" not in a.text
    assert a.outlet == "Harbour Times" and a.outlet_origin == "html-metadata"


def test_bad_files_each_give_one_line_and_batch_goes_on(tmp_path: Path):
    (tmp_path / "empty.txt").write_text("  \n\n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR")
    (tmp_path / "latin.txt").write_bytes("Le ministre a démissionné à Genève.".encode("cp1252"))
    (tmp_path / "ok.txt").write_text("The bridge reopened on Sunday.", encoding="utf-8")
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    arts, errs, summary = read_articles([tmp_path, tmp_path / "missing.txt"])
    assert sorted(a.id for a in arts) == ["latin", "ok"]
    latin = next(a for a in arts if a.id == "latin")
    assert "démissionné" in latin.text
    assert latin.notes and "not valid UTF-8" in latin.notes[0]
    msgs = sorted(str(e) for e in errs)
    assert msgs == sorted([
        f"{tmp_path / 'binary.txt'}: binary file (contains NUL bytes), not text",
        f"{tmp_path / 'empty.jsonl'}: empty file",
        f"{tmp_path / 'empty.txt'}: empty file",
        f"{tmp_path / 'missing.txt'}: no such file or directory",
    ])
    assert all("\n" not in m for m in msgs)
    assert summary.read == 2 and summary.skipped == 4
    assert "2 articles read, 4 skipped" in str(summary)


def test_unreadable_file(tmp_path: Path):
    import os

    p = tmp_path / "locked.txt"
    p.write_text("Text.", encoding="utf-8")
    p.chmod(0)
    try:
        if os.access(p, os.R_OK):
            pytest.skip("running as a user that can read mode-000 files (root)")
        arts, errs, _ = read_articles([p])
        assert arts == [] and errs[0].message.startswith("unreadable")
    finally:
        p.chmod(0o644)


def test_unreadable_directory_entry_is_reported_not_raised(tmp_path: Path):
    d = tmp_path / "dir.txt"
    d.mkdir()  # a directory with a text suffix and nothing readable in it
    arts, errs, _ = read_articles([d])
    assert arts == [] and "no readable files" in errs[0].message


def test_decode_fallback_is_declared():
    text, note = decode_bytes("café".encode())
    assert (text, note) == ("café", None)
    text, note = decode_bytes(b"caf\xe9 cr\xe8me")
    assert text == "café crème" and note is not None and "decoded as" in note


def test_stdin_text_and_jsonl(monkeypatch: pytest.MonkeyPatch):
    import io
    import sys

    class FakeStdin(io.TextIOWrapper):
        pass

    raw = io.BytesIO(b'{"text": "One.", "outlet": "X"}\n{"text": "Two."}\n')
    monkeypatch.setattr(sys, "stdin", FakeStdin(raw, encoding="utf-8"))
    arts, errs, _ = read_articles(["-"])
    assert [a.text for a in arts] == ["One.", "Two."] and errs == []
    monkeypatch.setattr(sys, "stdin", FakeStdin(io.BytesIO(b"Plain text story."), encoding="utf-8"))
    arts, errs, _ = read_articles(["-"])
    assert [a.text for a in arts] == ["Plain text story."]
