#!/usr/bin/env python3
"""Render a stance report.html in headless Chromium: save a screenshot and check it in a browser.

Unit tests can only read the HTML; this script checks what a reader sees:

1. a PNG screenshot of the page (`--png`), to look at;
2. a copy of the page with a small check script appended is loaded with `--dump-dom`; the script
   writes its findings into a hidden `<div id="selfcheck" data-...>`, which the dumped DOM shows:
   - the number of <svg> charts, and how many were laid out with a real size;
   - that every sentence span (`.sent`) has a computed background colour that is not transparent,
     first coloured by certainty, then again after clicking the "attribution" toggle, and that
     the toggle changed the colours;
   - that the page loaded no network resources (all charts and styles must be inline).
The report itself carries no check script; only the temporary copy does.

Needs Debian's Chromium (`apt-get install -y chromium chromium-driver`); run as root it needs
--no-sandbox, which is always passed. Every run uses a fresh temporary profile directory.

Usage:
    python scripts/check_report.py out/report.html [--png out/report.png]
        [--window-size 1400,4000] [--min-svgs 3] [--allow-empty] [--chromium /usr/bin/chromium]

Exit status: 0 when every check passes, 1 when a check fails, 2 when Chromium is missing or fails.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]

#: appended before </body> of a temporary copy; runs after the whole document has been parsed
CHECK_JS = """
<div id="selfcheck" hidden></div>
<script>
(function () {
  var out = document.getElementById('selfcheck');
  function bg(el) { return getComputedStyle(el).backgroundColor; }
  function coloured(c) {
    return !!c && c !== 'transparent' && !/^rgba\\(.*,\\s*0\\)$/.test(c);
  }
  var sents = Array.prototype.slice.call(document.querySelectorAll('.articles .sent'));
  var svgs = Array.prototype.slice.call(document.querySelectorAll('svg'));
  var sized = svgs.filter(function (s) {
    var r = s.getBoundingClientRect(); return r.width > 100 && r.height > 50;
  });
  var byCert = sents.map(bg);
  var toggle = document.getElementById('colour-attr');
  if (toggle) { toggle.click(); }
  var byAttr = sents.map(bg);
  var changed = sents.filter(function (s, i) { return byCert[i] !== byAttr[i]; });
  var remote = performance.getEntriesByType('resource').filter(function (e) {
    return /^(https?|wss?|ftp):/i.test(e.name);
  });
  out.setAttribute('data-svgs', svgs.length);
  out.setAttribute('data-svgs-sized', sized.length);
  out.setAttribute('data-sentences', sents.length);
  out.setAttribute('data-coloured-certainty', byCert.filter(coloured).length);
  out.setAttribute('data-coloured-attribution', byAttr.filter(coloured).length);
  out.setAttribute('data-toggle', toggle ? 'yes' : 'no');
  out.setAttribute('data-changed', changed.length);
  out.setAttribute('data-example', byCert.length ? byCert[0] + ' / ' + byAttr[0] : '');
  out.setAttribute('data-remote', remote.map(function (e) { return e.name; }).join(' '));
  out.setAttribute('data-done', '1');
})();
</script>
"""


class _SelfCheck(HTMLParser):
    """Pulls the attributes of <div id="selfcheck"> out of the dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "div" and a.get("id") == "selfcheck":
            self.found = a


def find_chromium(explicit: str | None) -> str | None:
    for cand in ([explicit] if explicit else ["/usr/bin/chromium", "chromium",
                                              "chromium-browser", "google-chrome"]):
        path = shutil.which(cand) if cand else None
        if path:
            return path
    return None


def run_chromium(chromium: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """One Chromium run with a fresh profile, so no state leaks between runs."""
    with tempfile.TemporaryDirectory(prefix="stance-chromium-") as profile:
        cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def screenshot(chromium: str, report: Path, png: Path, window: str, timeout: float) -> list[str]:
    """Take the picture; return the problems found (empty = fine)."""
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    proc = run_chromium(chromium, [f"--screenshot={png}", f"--window-size={window}",
                                   report.resolve().as_uri()], timeout)
    if proc.returncode != 0 or not png.exists():
        return [f"screenshot failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}"]
    width, height = png_size(png)
    print(f"screenshot: {png} ({png.stat().st_size} bytes, {width}x{height})")
    return []


def self_check(chromium: str, report: Path, timeout: float) -> dict[str, str] | str:
    """Load an instrumented copy of the page and return what its check script found."""
    page = report.read_text(encoding="utf-8")
    cut = page.lower().rfind("</body>")
    page = page[:cut] + CHECK_JS + page[cut:] if cut >= 0 else page + CHECK_JS
    with tempfile.TemporaryDirectory(prefix="stance-check-") as tmp:
        copy = Path(tmp) / "report.html"
        copy.write_text(page, encoding="utf-8")
        proc = run_chromium(chromium, ["--virtual-time-budget=5000", "--dump-dom",
                                       copy.as_uri()], timeout)
    if proc.returncode != 0:
        return f"--dump-dom failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}"
    parser = _SelfCheck()
    parser.feed(proc.stdout)
    if parser.found is None or parser.found.get("data-done") != "1":
        return "the check script did not run (no #selfcheck results in the dumped DOM)"
    return parser.found


def evaluate(found: dict[str, str], min_svgs: int, allow_empty: bool) -> list[str]:
    """Print every check and return the failed ones."""
    n_svg, n_sized = int(found["data-svgs"]), int(found["data-svgs-sized"])
    n_sent = int(found["data-sentences"])
    by_cert = int(found["data-coloured-certainty"])
    by_attr = int(found["data-coloured-attribution"])
    changed = int(found["data-changed"])
    remote = found.get("data-remote", "").split()
    print(f"svg elements: {n_svg} ({n_sized} laid out with a size)")
    print(f"sentence spans: {n_sent}")
    print(f"coloured by certainty: {by_cert}/{n_sent}; after the attribution toggle: "
          f"{by_attr}/{n_sent}, colour changed for {changed} (first span: "
          f"{found.get('data-example') or '-'})")
    print(f"network resources loaded: {len(remote)}")
    failed = []
    if n_sent == 0 and allow_empty:
        print("no sentences on the page (allowed by --allow-empty)")
        if n_svg:
            failed.append(f"an empty report should have no charts, found {n_svg} svg elements")
    else:
        if n_svg < min_svgs:
            failed.append(f"expected at least {min_svgs} svg charts, found {n_svg}")
        if n_sized < n_svg:
            failed.append(f"{n_svg - n_sized} svg charts were laid out without a visible size")
        if n_sent == 0:
            failed.append("no sentence spans (.articles .sent) on the page")
        if by_cert < n_sent:
            failed.append(f"{n_sent - by_cert} sentences have no background colour (certainty)")
        if found.get("data-toggle") != "yes":
            failed.append("no attribution toggle (#colour-attr)")
        elif by_attr < n_sent:
            failed.append(f"{n_sent - by_attr} sentences have no background colour (attribution)")
        elif changed == 0:
            failed.append("the attribution toggle did not change any sentence colour")
    if remote:
        failed.append(f"the page loaded network resources: {' '.join(remote[:5])}")
    return failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report", type=Path, help="the report.html to check")
    ap.add_argument("--png", type=Path, help="screenshot path (default: next to the report)")
    ap.add_argument("--window-size", default="1400,4000", help="WIDTH,HEIGHT of the screenshot")
    ap.add_argument("--min-svgs", type=int, default=3, help="charts the page must contain")
    ap.add_argument("--allow-empty", action="store_true",
                    help="accept a report without sentences (a run where nothing was scored)")
    ap.add_argument("--chromium", help="Chromium binary (default: /usr/bin/chromium)")
    ap.add_argument("--timeout", type=float, default=180, help="seconds per Chromium run")
    args = ap.parse_args(argv)

    if not args.report.is_file():
        print(f"no such file: {args.report}", file=sys.stderr)
        return 2
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("Chromium not found; install it with: apt-get install -y chromium chromium-driver",
              file=sys.stderr)
        return 2
    png = args.png or args.report.with_suffix(".png")
    print(f"report: {args.report.resolve()}")
    print(f"browser: {chromium}")
    try:
        problems = screenshot(chromium, args.report, png, args.window_size, args.timeout)
        found = self_check(chromium, args.report, args.timeout)
    except subprocess.TimeoutExpired as exc:
        print(f"Chromium timed out after {exc.timeout:.0f}s", file=sys.stderr)
        return 2
    if isinstance(found, str):
        print(f"FAILED: {found}", file=sys.stderr)
        return 2
    problems += evaluate(found, args.min_svgs, args.allow_empty)
    for p in problems:
        print(f"FAILED: {p}")
    if problems:
        return 1
    print("OK: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
