"""Ray engine scaling on this machine: local engine vs Ray with 1 and 2 actors, one thread each.

    python benchmarks/ray_scaling.py --write docs/ray.md      # needs pip install -e '.[ray]'

Every run scores the same corpus articles (JSONL, as `benchmarks/speed.py` builds them) with the
shipped model into a fresh directory, through the `stance score` command itself; the table gives
the job time from its --json summary, the wall time of the command (Ray start-up included) and
whether its outlets.csv is byte-identical to the local engine's.
"""

from __future__ import annotations

import argparse
import datetime
import filecmp
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, replace_section  # benchmarks/common.py (the script's own directory)
from speed import cpu_model, write_inputs

RUNS = {
    "local engine, 1 thread": [],
    "Ray, 1 actor x 1 thread": ["--engine", "ray", "--actors", "1"],
    "Ray, 2 actors x 1 thread": ["--engine", "ray", "--actors", "2"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "default"))
    ap.add_argument("--articles", type=int, default=150, help="corpus articles to score")
    ap.add_argument("--write", default=None, help="replace the ray-scaling section of this file")
    args = ap.parse_args()
    stance = str(Path(sys.executable).with_name("stance"))
    with tempfile.TemporaryDirectory(prefix="stance-ray-") as tmp:
        corpus = write_inputs(Path(tmp), quick=False)["articles"]
        lines = corpus.read_text(encoding="utf-8").splitlines()[: args.articles]
        articles = Path(tmp) / "articles.jsonl"
        articles.write_text("\n".join(lines) + "\n", encoding="utf-8")
        rows = []
        for k, (name, extra) in enumerate(RUNS.items()):
            out = Path(tmp) / f"run{k}"  # fresh: a Ray run resumes from shards already there
            cmd = [stance, "score", str(articles), "-m", args.model, "-o", str(out), "--threads", "1",
                   "--no-report", "--json", "-q", *extra]
            print(f"[ray] {name} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                                  env={**os.environ, "RAY_DEDUP_LOGS": "0"})
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                raise SystemExit(f"{name}: exit {proc.returncode}: {proc.stderr.strip()[-500:]}")
            summary = json.loads(proc.stdout)
            rows.append((name, summary["sentences"], summary["seconds"], wall, out / "outlets.csv"))
        same = [filecmp.cmp(rows[0][4], r[4], shallow=False) for r in rows]  # before tmp goes
    table = ["| run | sentences | job time (`seconds` in the summary) | wall time | outlets.csv as local |",
             "|---|---:|---:|---:|---|"]
    for (name, n, job, wall, _), eq in zip(rows, same, strict=True):
        table.append(f"| {name} | {n} | {job:.1f} s | {wall:.1f} s | {'identical' if eq else 'DIFFERS'} |")
    body = "\n".join(table) + (
        f"\n\n{args.articles} corpus articles, model `{Path(args.model).name}`; CPU: {cpu_model()}, "
        f"{os.cpu_count()} logical cores; {datetime.date.today()}. Produced by "
        f"`python benchmarks/ray_scaling.py --write docs/ray.md`.\n")
    print(body)
    if args.write:
        replace_section(args.write, "ray-scaling", body)


if __name__ == "__main__":
    main()
