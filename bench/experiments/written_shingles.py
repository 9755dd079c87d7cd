"""Shingle check for a round of developer-written articles (tasks/classification/data/README.md): the
largest share of a new article's 5-word shingles found in any one evaluation text (the written test files,
BBC, the Guardian 2022, AG News test, HuffPost; the German set is in another language) or already-written
training article.
A round drops every article at or over --limit (0.25, as round four did).

    .venv/bin/python bench/experiments/written_shingles.py NEW.jsonl [--limit 0.25]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tasks.classification import labels as data  # noqa: E402

N = 5


def shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + N]) for i in range(len(words) - N + 1)}


def references() -> dict[str, list[str]]:
    return {
        "news_en test": [t for t, _ in data.news_en("test")],
        "health_en test": [t for t, _ in data.health_en("test")],
        "news_en train": [t for t, _ in data.news_en("train")],
        "health_en train": [t for t, _ in data.health_en("train")],
        "bbc": [t for t, _ in data.bbc_news("train") + data.bbc_news("test")],
        "guardian": [t for t, _ in data.guardian("all")],
        "ag test": [t for t, _ in data.ag_news("test")],
        "huffpost": [t for t, _ in data.huffpost("all")],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("new", type=Path)
    parser.add_argument("--limit", type=float, default=0.25)
    args = parser.parse_args()
    new = [json.loads(line) for line in args.new.read_text().splitlines() if line.strip()]
    index: dict[tuple[str, ...], set[tuple[str, int]]] = defaultdict(set)
    for name, texts in references().items():
        for i, text in enumerate(texts):
            for s in shingles(text):
                index[s].add((name, i))
    worst_all = 0.0
    dropped = 0
    for k, row in enumerate(new):
        own = shingles(row["text"])
        counts: dict[tuple[str, int], int] = defaultdict(int)
        for s in own:
            for ref in index.get(s, ()):
                counts[ref] += 1
        best, share = max(counts.items(), key=lambda x: x[1], default=(None, 0))
        share = share / max(1, len(own))
        worst_all = max(worst_all, share)
        if share >= args.limit:
            dropped += 1
            print(f"OVER {k}: {share:.2f} with {best}: {row['text'][:80]!r}")
    print(f"{len(new)} articles; largest share of one article's 5-word shingles in one other text: {worst_all:.3f}; over {args.limit}: {dropped}")


if __name__ == "__main__":
    main()
