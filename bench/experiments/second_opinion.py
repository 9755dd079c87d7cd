"""readability-lxml as copydesk's second opinion (tasks/cleaning/second_opinion.py), leave-one-set-out.

For every page of the six sets: trafilatura's blocks (copydesk's options, full mode; fast mode
too with --fast) and readability-lxml's lines, read by second_opinion.FastDocument from copydesk's
parsed tree (bench/experiments/second_opinion_identity.py checks them against the stock Document's).
Then every configuration of a grid is scored on every set:
- the tail trim (the blocks after the last one readability also holds dropped when the shared
  blocks hold >= S of the words and the tail averages < W words per block), or no trim;
- adding readability's lines of >= N words of whose runs of 4 words < K occur in the blocks, or not;
- (--fast) trafilatura in full mode (with its own fallbacks) or fast mode.
For each set in turn, the configuration with the best mean F1 on the other five is scored on the
one left out. Also: the shipped values on every set, with the trim alone and the adding alone.

    nice -n 10 .venv/bin/python bench/experiments/second_opinion.py [--cached] [--fast]
    (bench group; the pages ~2 min quiet, the grid on cached pages a few minutes)
"""

import itertools
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "experiments"))

import trafilatura  # noqa: E402
from _extraction_data import SETS, cached_rows, page_counts, set_f1  # noqa: E402

from tasks.cleaning import agreement, second_opinion  # noqa: E402
from tasks.cleaning.html import EXTRACT_OPTIONS, MIN_ARTICLE_WORDS, body_blocks  # noqa: E402
from tasks.cleaning.markup import parse_html  # noqa: E402
from tasks.cleaning.result import Block  # noqa: E402

CACHE = ROOT / ".bench-cache" / "second-opinion.json"
TRIMS = [None, (0.1, 40), (0.2, 40), (0.3, 40), (0.2, 30), (0.2, 60)]
ADDS = [None, (10, 0.3), (15, 0.3), (20, 0.3), (30, 0.3), (20, 0.1), (20, 0.5)]


def page_row(html):
    tree = parse_html(html)
    if tree is None:
        return None
    texts = {}
    for mode, fast in (("full", False), ("fast", True)) if "--fast" in sys.argv else (("full", False),):
        document = trafilatura.bare_extraction(tree, **{**EXTRACT_OPTIONS, "fast": fast})
        kept = body_blocks(document.body) if document is not None and document.body is not None else []
        texts[mode] = [b.text for b in kept]
    lines = second_opinion.readability_lines(tree, lambda: parse_html(html))
    return {"texts": texts["full"], "fast": texts.get("fast"), "lines": lines}


def output(row, trim, add, mode="texts"):
    if row is None:
        return ""
    blocks = [Block(t) for t in row[mode]]
    block_words = [agreement.words(t) for t in row[mode]]
    ref = row.get("ref")
    if ref is None:
        ref = row["ref"] = agreement.Reference(agreement.words(" ".join(row["lines"])))
    saved = (agreement.TAIL_MIN_SHARED, agreement.TAIL_MAX_WORDS_PER_BLOCK,
             second_opinion.MISSING_MIN_WORDS, second_opinion.MISSING_MAX_KNOWN)
    try:
        if trim is not None:
            agreement.TAIL_MIN_SHARED, agreement.TAIL_MAX_WORDS_PER_BLOCK = trim
            blocks = agreement.trim_tail(blocks, block_words, ref)
        if add is not None:
            second_opinion.MISSING_MIN_WORDS, second_opinion.MISSING_MAX_KNOWN = add
            blocks = second_opinion.add_missing(blocks, block_words[: len(blocks)], row["lines"])
    finally:
        (agreement.TAIL_MIN_SHARED, agreement.TAIL_MAX_WORDS_PER_BLOCK,
         second_opinion.MISSING_MIN_WORDS, second_opinion.MISSING_MAX_KNOWN) = saved
    texts = [b.text for b in blocks]
    if sum(len(t.split()) for t in texts) < MIN_ARTICLE_WORDS:
        return ""
    return "\n\n".join(texts)


def main():
    rows, truths, set_of = cached_rows(CACHE, page_row, reuse="--cached" in sys.argv)
    rows = [dict(r) if r is not None else None for r in rows]
    index = {s: [i for i, x in enumerate(set_of) if x == s] for s in SETS}
    memo: dict[tuple[int, str], tuple[float, float, float]] = {}

    def counts(i, text):
        key = (i, text)
        if key not in memo:
            memo[key] = page_counts(text, truths[i])
        return memo[key]

    def f1(config, s):
        return set_f1(counts(i, output(rows[i], *config)) for i in index[s])

    modes = ("texts", "fast") if rows and any(r and r.get("fast") is not None for r in rows) else ("texts",)
    configs = list(itertools.product(TRIMS, ADDS, modes))
    table = {c: {s: f1(c, s) for s in SETS} for c in configs}

    def line(name, values):
        print(f"{name:<34}", " ".join(f"{values[s]:.4f}" for s in SETS), f"macro {statistics.mean(values.values()):.4f}")

    print(f"{'':<34}", " ".join(f"{s[:6]:>6}" for s in SETS))
    shipped_trim = (agreement.TAIL_MIN_SHARED, agreement.TAIL_MAX_WORDS_PER_BLOCK)
    shipped_add = (second_opinion.MISSING_MIN_WORDS, second_opinion.MISSING_MAX_KNOWN)
    for mode, name in (("texts", "full"), ("fast", "fast"))[: len(modes)]:
        line(f"{name}: trafilatura's blocks alone", table[(None, None, mode)])
        line(f"{name}: trim {shipped_trim}", table[(shipped_trim, None, mode)])
        line(f"{name}: add {shipped_add}", table[(None, shipped_add, mode)])
        line(f"{name}: trim + add", table[(shipped_trim, shipped_add, mode)])
    best_all = max(configs, key=lambda c: statistics.mean(table[c].values()))
    line("best on all six sets", table[best_all])
    print(f"  chosen: trim {best_all[0]}, add {best_all[1]}")
    print("top 8 on all six sets:")
    for c in sorted(configs, key=lambda c: -statistics.mean(table[c].values()))[:8]:
        line(f"  {c[0]} {c[1]}", table[c])
    loso = {}
    for held in SETS:
        others = [s for s in SETS if s != held]
        best = max(configs, key=lambda c: statistics.mean(table[c][s] for s in others))
        loso[held] = (table[best][held], best)
    line("leave-one-set-out", {s: v[0] for s, v in loso.items()})
    for s in SETS:
        trim, add, mode = loso[s][1]
        print(f"  {s:<20} chose trim {trim}, add {add}, trafilatura {'full' if mode == 'texts' else 'fast'}")
    full_only = [c for c in configs if c[2] == "texts"]
    for held in SETS:
        others = [s for s in SETS if s != held]
        best = max(full_only, key=lambda c: statistics.mean(table[c][s] for s in others))
        loso[held] = (table[best][held], best)
    line("leave-one-set-out, full mode only", {s: v[0] for s, v in loso.items()})


if __name__ == "__main__":
    main()
