"""Speed, memory and int8 accuracy of stance's inference paths, in one run.

    python benchmarks/speed.py                       # full run on models/default
    python benchmarks/speed.py --quick               # smoke run on a small subset
    python benchmarks/speed.py --write docs/benchmarks.md

Every configuration runs in its own subprocess, so each peak RSS is that configuration's own
(the child's VmHWM: model, runtime and data included, nothing left over from another run),
and all of them score the same sentences: the seed articles plus every corpus article (train,
dev and test JSONL regrouped by article_id; speed does not depend on labels). Configurations:

1. reference: a randomly initialised BERT-base BertForSequenceClassification scoring one
   sentence at a time (batch 1, torch, no_grad) -- the naive way; timed on a subset.
2. stance end to end, torch fp32 backend (`score_inputs`: reading, cleaning, segmentation,
   tokenization, model, aggregation with bootstrap CIs).
3. stance end to end, onnx int8 backend (same call).
4. the int8 ONNX forward pass alone on pre-tokenized, pre-batched inputs: the ceiling for 3.

Model loading (and the one-time ONNX export) is outside the timed region and reported apart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from common import ROOT, replace_section  # benchmarks/common.py (the script's own directory)

SEEDS = ROOT / "seeds"
TEST = ROOT / "training" / "data" / "test.jsonl"
# speed does not depend on labels, so every corpus article is timed (several thousand sentences:
# steadier rates, and one-off costs such as the segmenter's regex compilation weigh what they
# would in a real batch); accuracy is checked on the test split and the seeds only
CORPUS = [ROOT / "training" / "data" / f"{split}.jsonl" for split in ("train", "dev", "test")]
RESULT = "RESULT "
SENTENCES_PER_PARAGRAPH = 3  # the corpus keeps sentences, not paragraphs; news paragraphs are short
QUICK_ARTICLES = 12
QUICK_ROWS = 300

CONFIGS = {
    "reference": "reference: BERT-base, one sentence at a time (torch fp32)",
    "torch": "stance end to end, torch fp32",
    "onnx": "stance end to end, onnx int8",
    "ceiling": "onnx int8 forward pass only (ceiling)",
    "ceiling_alone": "the same forward pass on sentences without their context",
}


# ---------------------------------------------------------------------------- data


def write_inputs(directory: Path, quick: bool) -> dict[str, Path]:
    """The benchmark inputs as files, so the end-to-end runs read them like users' files."""
    rows = [json.loads(line) for path in CORPUS
            for line in path.read_text(encoding="utf-8").splitlines() if line]
    by_article: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_article[r["article_id"]].append(r)
    records = []
    for aid, sents in by_article.items():
        sents.sort(key=lambda r: r["sentence_index"])
        title = next((r["text"] for r in sents if r.get("is_headline")), None)
        body = [r["text"] for r in sents if not r.get("is_headline")]
        paragraphs = [" ".join(body[i : i + SENTENCES_PER_PARAGRAPH])
                      for i in range(0, len(body), SENTENCES_PER_PARAGRAPH)]
        records.append({"id": aid, "title": title, "text": "\n\n".join(paragraphs),
                        "outlet": sents[0].get("outlet"), "story": sents[0].get("story_id")})
    if quick:
        records = records[:QUICK_ARTICLES]
    articles = directory / "corpus_articles.jsonl"
    articles.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    labelled = TEST
    if quick:
        labelled = directory / "test_subset.jsonl"
        test_rows = TEST.read_text(encoding="utf-8").splitlines()[:QUICK_ROWS]
        labelled.write_text("".join(line + "\n" for line in test_rows), encoding="utf-8")
    return {"articles": articles, "labelled": labelled}


def read_inputs(articles: Path) -> list[Any]:
    from stance.readers import Article, ReaderOptions, iter_articles

    return [a for a in iter_articles([SEEDS, articles], ReaderOptions()) if isinstance(a, Article)]


def sentence_pairs(articles: list[Any]) -> tuple[list[str], list[str]]:
    """(sentences, contexts) exactly as stance's pipeline makes them."""
    from stance.document import prepare

    texts: list[str] = []
    contexts: list[str] = []
    for art in articles:
        doc = prepare(art)
        texts += [s.text for s in doc.sentences]
        contexts += doc.contexts
    return texts, contexts


# ---------------------------------------------------------------------------- workers


def _peak_rss_mb() -> float:
    """This process's own high-water RSS. VmHWM belongs to the address space exec() made, while
    getrusage's ru_maxrss survives exec and so starts at the forking parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_reference(args: argparse.Namespace, inputs: dict[str, Path]) -> dict[str, Any]:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from stance.modeling import resolve_base_model

    torch.set_num_threads(args.threads)
    texts, _ = sentence_pairs(read_inputs(inputs["articles"]))
    texts = texts[: args.reference_n]
    t0 = time.perf_counter()
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(num_labels=3)).eval()
    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model("minilm"))  # BERT's uncased vocab
    load = time.perf_counter() - t0
    with torch.no_grad():
        model(**tokenizer(texts[0], return_tensors="pt"))  # warm-up
        t0 = time.perf_counter()
        for text in texts:
            enc = tokenizer(text, return_tensors="pt", truncation=True, max_length=128)
            model(**enc).logits.argmax(-1)
        seconds = time.perf_counter() - t0
    return {"sentences": len(texts), "seconds": seconds, "load_seconds": load}


def run_end_to_end(args: argparse.Namespace, inputs: dict[str, Path], backend: str
                   ) -> dict[str, Any]:
    from stance.predictor import Predictor
    from stance.readers import ReaderOptions
    from stance.scoring import ScoreOptions, score_inputs

    t0 = time.perf_counter()
    pred = Predictor(args.model, backend=backend, batch_size=args.batch_size,
                     num_threads=args.threads)
    load = time.perf_counter() - t0
    opts = ScoreOptions()  # the model options are the Predictor's, made above
    out_tmp = tempfile.TemporaryDirectory(prefix=f"stance-speed-{backend}-")  # removed at exit
    out_dir = Path(out_tmp.name)  # every output, the report too
    score_inputs([SEEDS / "000_6a4537974038aad6.txt"], None, ReaderOptions(), opts, pred)  # warm-up
    pred.truncated = 0
    profiler = None
    if args.profile_run:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    result = score_inputs([SEEDS, inputs["articles"]], out_dir, ReaderOptions(), opts, pred)
    seconds = time.perf_counter() - t0
    breakdown = None
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        breakdown = _breakdown(pstats.Stats(profiler))
        for key in ("tottime", "cumulative"):
            buf = io.StringIO()
            pstats.Stats(profiler, stream=buf).sort_stats(key).print_stats(25)
            print(f"\n=== {backend} end to end, top functions by {key} ===", file=sys.stderr)
            print(_trim_profile(buf.getvalue()), file=sys.stderr)
    return {"sentences": len(result.sentences), "articles": len(result.articles),
            "failed": result.n_failed, "seconds": seconds, "load_seconds": load,
            "breakdown": breakdown}


#: stages of `score_inputs` as (file suffix, function) whose cumulative profile time is theirs
STAGES = {
    "forward pass (onnxruntime)": ("onnxruntime_inference_collection.py", "run"),
    "tokenization": ("stance/modeling.py", "encode_pairs"),
    "cleaning and segmentation": ("stance/segment.py", "segment"),
    "reading files": ("stance/readers.py", "iter_articles"),
    "aggregation and CIs": ("stance/aggregate.py", "group_table_from_counts"),
    "per-article table": ("stance/aggregate.py", "article_table"),
    "writing outputs and report": ("stance/scoring.py", "write_outputs"),
}


def _breakdown(stats: Any) -> dict[str, float]:
    """Share of the profiled end-to-end time per stage (cProfile slows Python code more than
    native code, so Python stages come out somewhat larger than they are unprofiled)."""
    total = next((v[3] for (f, _, fn), v in stats.stats.items()
                  if f.endswith("stance/scoring.py") and fn == "score_inputs"), None)
    if not total:
        return {}
    out = {}
    for stage, (suffix, func) in STAGES.items():
        out[stage] = sum(v[3] for (f, _, fn), v in stats.stats.items()
                         if f.endswith(suffix) and fn == func) / total
    out["other"] = max(0.0, 1.0 - sum(out.values()))
    return out


def _trim_profile(text: str) -> str:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return "\n".join(re.sub(str(ROOT) + "/", "", line) for line in lines[start:] if line.strip())


def run_ceiling(args: argparse.Namespace, inputs: dict[str, Path], use_context: bool = True
                ) -> dict[str, Any]:
    import numpy as np

    from stance.backends import padded_arrays, threads
    from stance.export import load_onnx_session, output_name
    from stance.modeling import encode_pairs, read_meta

    t0 = time.perf_counter()
    session, tokenizer, axes = load_onnx_session(Path(args.model), None, threads(args.threads))
    load = time.perf_counter() - t0
    meta = read_meta(args.model)
    texts, contexts = sentence_pairs(read_inputs(inputs["articles"]))
    with_context = use_context and meta.get("use_context", True)
    enc = encode_pairs(tokenizer, texts, contexts if with_context else None,
                       int(meta.get("max_length", 128)))
    ids, types, lengths = padded_arrays(enc.input_ids, enc.token_type_ids,
                                        tokenizer.pad_token_id or 0)
    order = np.argsort(lengths, kind="stable")
    feeds = []
    for start in range(0, len(order), args.batch_size):
        idx = order[start : start + args.batch_size]
        width = int(lengths[idx[-1]])
        feeds.append({"input_ids": np.ascontiguousarray(ids[idx, :width]),
                      "token_type_ids": np.ascontiguousarray(types[idx, :width]),
                      "attention_mask": (np.arange(width) < lengths[idx, None]).astype(np.int64)})
    names = [output_name(a) for a in axes]
    session.run(names, feeds[0])  # warm-up
    t0 = time.perf_counter()
    for feed in feeds:
        session.run(names, feed)
    seconds = time.perf_counter() - t0
    return {"sentences": len(texts), "seconds": seconds, "load_seconds": load}


def run_accuracy(args: argparse.Namespace, inputs: dict[str, Path]) -> dict[str, Any]:
    from stance.corpus import load_labelled
    from stance.evaluation import evaluate
    from stance.predictor import Predictor

    out: dict[str, Any] = {}
    one = Predictor.from_pretrained(args.model, backend="onnx", batch_size=1)
    for name, data in (("test.jsonl", inputs["labelled"]), ("seeds/labels.jsonl", SEEDS / "labels.jsonl")):
        res = {b: evaluate(str(args.model), data, backend=b) for b in ("torch", "onnx")}
        # int8 dynamic quantization scales activations per batch tensor, so a sentence's label
        # can depend on its batch-mates: count labels that change between batch 1 and batch N
        rows = load_labelled(data)
        single = one.probabilities([r.text for r in rows], [r.context for r in rows])
        out[name] = {}
        for axis in res["torch"].predictions:
            a, b = res["torch"].predictions[axis], res["onnx"].predictions[axis]
            alone = [one.labels[axis][k] for k in single[axis].argmax(axis=1)]
            out[name][axis] = {
                "torch": res["torch"].metrics[axis]["macro_f1"],
                "onnx": res["onnx"].metrics[axis]["macro_f1"],
                "agreement": sum(x == y for x, y in zip(a, b, strict=True)) / max(1, len(a)),
                "batch_dependent": sum(x != y for x, y in zip(b, alone, strict=True)),
                "n": len(a),
            }
    return out


def worker(args: argparse.Namespace) -> None:
    inputs = {"articles": Path(args.articles), "labelled": Path(args.labelled)}
    if args.worker == "reference":
        res = run_reference(args, inputs)
    elif args.worker in ("torch", "onnx"):
        res = run_end_to_end(args, inputs, args.worker)
    elif args.worker == "ceiling":
        res = run_ceiling(args, inputs)
    elif args.worker == "ceiling_alone":  # what the text pair costs: same model, half the tokens
        res = run_ceiling(args, inputs, use_context=False)
    elif args.worker == "accuracy":
        res = run_accuracy(args, inputs)
    else:  # pragma: no cover - argparse choices
        raise SystemExit(f"unknown worker {args.worker}")
    res["peak_rss_mb"] = _peak_rss_mb()
    print(RESULT + json.dumps(res), flush=True)


# ---------------------------------------------------------------------------- parent


def spawn(name: str, args: argparse.Namespace, inputs: dict[str, Path], profile: bool = False
          ) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--model", str(args.model),
           "--threads", str(args.threads), "--batch-size", str(args.batch_size),
           "--reference-n", str(args.reference_n), "--articles", str(inputs["articles"]),
           "--labelled", str(inputs["labelled"])]
    if profile:
        cmd.append("--profile-run")
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "RAYON_NUM_THREADS": str(args.threads),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    print(f"[speed] {name} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env, check=False)
    print(f"[speed] {name} done in {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"benchmark worker {name!r} failed (exit {proc.returncode})")
    return json.loads(lines[-1][len(RESULT) :])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    import numpy
    import onnx
    import onnxruntime
    import tokenizers
    import torch
    import transformers

    import stance

    return {"python": platform.python_version(), "stance": stance.__version__,
            "torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "onnxruntime": onnxruntime.__version__,
            "onnx": onnx.__version__, "numpy": numpy.__version__}


def render(speed: dict[str, dict[str, Any]], acc: dict[str, Any] | None, args: argparse.Namespace,
           command: str) -> str:
    ref = speed["reference"]["sentences"] / speed["reference"]["seconds"]
    lines = ["| configuration | sentences | seconds | sentences/s | vs reference | peak RSS (MB) "
             "| load (s) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for key, label in CONFIGS.items():
        if key not in speed:
            continue
        r = speed[key]
        rate = r["sentences"] / r["seconds"]
        lines.append(f"| {label} | {r['sentences']} | {r['seconds']:.2f} | {rate:.1f} | "
                     f"{rate / ref:.1f}x | {r['peak_rss_mb']:.0f} | {r['load_seconds']:.1f} |")
    e2e = speed["onnx"]["sentences"] / speed["onnx"]["seconds"]
    ceil = speed["ceiling"]["sentences"] / speed["ceiling"]["seconds"]
    spread = "; ".join(f"{'ceiling' if k == 'ceiling' else 'end to end'}: "
                       + ", ".join(f"{x:.1f}" for x in speed[k].get("all_seconds", [])) + " s"
                       for k in ("onnx", "ceiling"))
    lines += ["", f"End to end (onnx int8) runs at {100 * e2e / ceil:.0f}% of the forward-pass "
              "ceiling; the rest is reading, cleaning, segmentation, tokenization and "
              f"aggregation. Medians of {args.repeat} alternating runs ({spread})."]
    if speed["onnx"].get("breakdown"):
        parts = ", ".join(f"{k} {100 * v:.0f}%" for k, v in speed["onnx"]["breakdown"].items())
        lines += ["", f"Where the end-to-end (onnx int8) time goes, by cProfile of the main thread: "
                  f"{parts}. Cleaning and segmentation run in a background thread while the "
                  "model works, so they show only where the main thread waits for them."]
    if acc:
        lines += ["", "| data | axis | torch fp32 macro-F1 | onnx int8 macro-F1 | difference "
                  "| label agreement | onnx labels that change with the batch | sentences |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for data, axes in acc.items():
            for axis, m in axes.items():
                lines.append(f"| {data} | {axis} | {m['torch']:.3f} | {m['onnx']:.3f} | "
                             f"{m['onnx'] - m['torch']:+.3f} | {100 * m['agreement']:.1f}% | "
                             f"{m['batch_dependent']} (batch 1 vs {args.batch_size}) | {m['n']} |")
    vers = ", ".join(f"{k} {v}" for k, v in versions().items())
    lines += [
        "",
        f"- model: `{args.model}`; batch size {args.batch_size}; {args.threads} thread(s)"
        + ("; **quick subset**" if args.quick else ""),
        f"- reference timed on the first {speed['reference']['sentences']} sentences "
        "(randomly initialised BERT-base: its speed, not its labels, is the point)",
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores",
        f"- versions: {vers}",
        f"- date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- command: `{command}`",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "models" / "default"), help="model directory")
    p.add_argument("--threads", type=int, default=None, help="default: all usable cores")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--quick", action="store_true", help="small subset: a smoke run")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of onnx end to end and the ceiling, alternating; medians reported")
    p.add_argument("--reference-n", type=int, default=None,
                   help="sentences for the batch-1 reference (default 300, --quick 30)")
    p.add_argument("--write", type=Path, default=None, metavar="MARKDOWN",
                   help="replace the speed section of this file (e.g. docs/benchmarks.md)")
    p.add_argument("--no-accuracy", action="store_true", help="skip the torch vs onnx F1 check")
    p.add_argument("--profile", action="store_true",
                   help="also profile the onnx end-to-end run (cProfile) and print top functions")
    # internal: one configuration in this process
    p.add_argument("--worker", choices=[*CONFIGS, "accuracy"], help=argparse.SUPPRESS)
    p.add_argument("--articles", help=argparse.SUPPRESS)
    p.add_argument("--labelled", help=argparse.SUPPRESS)
    p.add_argument("--profile-run", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads is None:
        from stance.backends import threads

        args.threads = threads(None)
    if args.reference_n is None:
        args.reference_n = 30 if args.quick else 300
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return
    command = "python benchmarks/speed.py " + " ".join(map(shlex.quote, sys.argv[1:]))
    from stance.export import load_onnx_session
    from stance.modeling import ModelLoadError, read_meta

    try:  # fail early with the loader's one-line message; export (once) before any timing
        load_onnx_session(Path(args.model), None, 1)
    except ModelLoadError as exc:
        raise SystemExit(f"speed.py: error: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="stance-speed-") as tmp:
        inputs = write_inputs(Path(tmp), args.quick)
        # what the text pair costs: only meaningful for a model that reads the preceding sentence
        first = ("reference", "torch") + (("ceiling_alone",) if read_meta(args.model).get("use_context", True)
                                          else ())
        speed = {name: spawn(name, args, inputs) for name in first}
        # the ratio the target is about (end to end vs ceiling) comes from runs taken in turn,
        # median of each, so a noisy neighbour on a shared machine hits both alike
        runs: dict[str, list[dict[str, Any]]] = {"onnx": [], "ceiling": []}
        for _ in range(args.repeat):
            for name in runs:
                runs[name].append(spawn(name, args, inputs))
        for name, rs in runs.items():
            rs.sort(key=lambda r: r["seconds"])
            speed[name] = {**rs[len(rs) // 2], "all_seconds": [r["seconds"] for r in rs],
                           "peak_rss_mb": max(r["peak_rss_mb"] for r in rs)}
        acc = None if args.no_accuracy else spawn("accuracy", args, inputs)
        if acc is not None:
            acc.pop("peak_rss_mb", None)
        if args.profile:
            speed["onnx"]["breakdown"] = spawn("onnx", args, inputs, profile=True)["breakdown"]
    body = render(speed, acc, args, command)
    print(body)
    if args.write is not None:
        replace_section(args.write, "speed", body)
        print(f"wrote the speed section of {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
