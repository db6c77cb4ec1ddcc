"""Validate one raw corpus batch (one article per JSONL line) and print its label counts.

Used by corpus authors while writing; stdlib only so it runs anywhere.
"""
from __future__ import annotations

import collections
import itertools
import json
import re
import sys

CERTAINTY = {"confirmed", "believed", "unclear"}
ATTRIBUTION = {"named", "anonymous", "none"}
TOPICS = {
    "diplomacy", "conflict", "elections", "courts and crime", "business", "technology",
    "health", "science and climate", "local government", "sports", "disasters", "culture",
}
STYLES = {
    "wire service", "broadsheet", "cable-news web copy", "tabloid", "local paper",
    "business press", "partisan site", "aggregator rewrite",
}
KEYS = {"article_id", "story_id", "outlet", "outlet_style", "topic", "sentences"}
SKEYS = {"text", "headline", "certainty", "attribution"}


def shingles(text: str) -> set[str]:
    toks = re.findall(r"[a-z0-9']+", text.lower())
    return {" ".join(toks[i : i + 3]) for i in range(max(1, len(toks) - 2))}


def main(paths: list[str]) -> int:
    errors = 0
    combos: collections.Counter[tuple[str, str]] = collections.Counter()
    topics: collections.Counter[str] = collections.Counter()
    styles: collections.Counter[str] = collections.Counter()
    ids: set[str] = set()
    sents: list[tuple[str, str]] = []
    n_articles = 0
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    art = json.loads(line)
                except json.JSONDecodeError as exc:
                    print(f"{where}: invalid JSON: {exc}")
                    errors += 1
                    continue
                if set(art) != KEYS:
                    print(f"{where}: keys must be exactly {sorted(KEYS)}, got {sorted(art)}")
                    errors += 1
                    continue
                n_articles += 1
                if art["article_id"] in ids:
                    print(f"{where}: duplicate article_id {art['article_id']}")
                    errors += 1
                ids.add(art["article_id"])
                if art["topic"] not in TOPICS:
                    print(f"{where}: unknown topic {art['topic']!r}")
                    errors += 1
                if art["outlet_style"] not in STYLES:
                    print(f"{where}: unknown outlet_style {art['outlet_style']!r}")
                    errors += 1
                topics[art["topic"]] += 1
                styles[art["outlet_style"]] += 1
                if not 6 <= len(art["sentences"]) <= 40:
                    print(f"{where}: article has {len(art['sentences'])} sentences (want 6-40)")
                    errors += 1
                for i, s in enumerate(art["sentences"]):
                    if set(s) != SKEYS:
                        print(f"{where}: sentence {i}: keys must be {sorted(SKEYS)}")
                        errors += 1
                        continue
                    if s["certainty"] not in CERTAINTY or s["attribution"] not in ATTRIBUTION:
                        print(f"{where}: sentence {i}: bad label {s['certainty']}/{s['attribution']}")
                        errors += 1
                    if not isinstance(s["headline"], bool):
                        print(f"{where}: sentence {i}: headline must be true/false")
                        errors += 1
                    if not s["text"].strip():
                        print(f"{where}: sentence {i}: empty text")
                        errors += 1
                    if not s["headline"]:
                        combos[(s["certainty"], s["attribution"])] += 1
                    sents.append((art["article_id"], s["text"]))
    print(f"articles: {n_articles}  body sentences: {sum(combos.values())}")
    for c in sorted(CERTAINTY):
        print("  " + "  ".join(f"{c}/{a}: {combos[(c, a)]:4d}" for a in sorted(ATTRIBUTION)))
    print("topics:", dict(topics))
    print("styles:", dict(styles))
    sh = [(aid, t, shingles(t)) for aid, t in sents]
    near = 0
    for (a1, t1, s1), (a2, t2, s2) in itertools.combinations(sh, 2):
        if len(s1) < 3 or len(s2) < 3:
            continue
        j = len(s1 & s2) / len(s1 | s2)
        if j >= 0.5:
            near += 1
            if near <= 20:
                print(f"near-duplicate ({j:.2f}): [{a1}] {t1!r} ~ [{a2}] {t2!r}")
    print(f"near-duplicate pairs (3-gram Jaccard >= 0.5): {near}")
    print(f"errors: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
