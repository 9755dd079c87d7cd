"""Rules over where copydesk (clean stage v11) and readability-lxml disagree, leave-one-set-out
(none kept: see issue 10's session note, stop 21). Each is a grid; for each set left out the
configuration with the best mean F1 on the other five is scored on it.

- `drop`: copydesk's blocks readability lacks, in the head (before the first shared block), the
  head and inside, or everywhere, dropped when they average < W words a block, readability's
  4-grams are >= A inside copydesk's and the shared blocks hold >= S of its words; `rd`: the same
  gates, readability's whole reading taken instead (the tail-only form of this is the shipped trim).
- `links`: copydesk's blocks readability lacks dropped when >= L of their characters are link
  text of the page (the page's <a> texts found in the block, longest first) and they have < W
  words; readability's lack of the block is required, or (variant) not when readability has no
  reading.
- `dups`: copies of a block copydesk has fewer times than readability's lines of >= N words
  have it (trafilatura keeps one of a repeated paragraph) added after it.
- `fusion`: readability-lxml's lines with trafilatura's blocks of >= N words (of whose 4-grams
  < K are known) added, copydesk's output when readability holds < F of trafilatura's words.

    nice -n 10 .venv/bin/python bench/experiments/second_opinion.py   # builds the cache
    nice -n 10 .venv/bin/python bench/experiments/disagreement_rules.py
"""

import itertools
import json
import statistics
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "experiments"))
from _extraction_data import SETS, load_set, page_counts, set_f1  # noqa: E402
from lxml import etree  # noqa: E402

import second_opinion as so_exp  # noqa: E402
from opinion_chooser import rd_fusion  # noqa: E402
from tasks.cleaning import agreement, second_opinion  # noqa: E402
from tasks.cleaning.markup import parse_html  # noqa: E402
from tasks.cleaning.normalize import normalize_inline  # noqa: E402

CACHE = ROOT / ".bench-cache" / "second-opinion.json"
ANCHORS = etree.XPath("//a[not(ancestor::a)]")


def link_share(blocks, tree):
    anchors = set()
    if tree is not None:
        for a in ANCHORS(tree):
            text = normalize_inline(a.text_content())
            if text:
                anchors.add(text)
    longest = sorted(anchors, key=len, reverse=True)[:3000]
    shares = []
    for block in blocks:
        rest, covered = block, 0
        for a in longest:
            if len(a) <= len(rest) and a in rest:
                covered += len(a) * rest.count(a)
                rest = rest.replace(a, " ")
        shares.append(min(1.0, covered / max(1, len(block))))
    return shares


class Page:
    def __init__(self, row, own, html):
        self.own = own
        self.row = row
        self.blocks = own.split("\n\n") if own else []
        self.lines = row["lines"] if row else []
        words = [agreement.words(b) for b in self.blocks]
        self.nwords = [len(w) for w in words]
        line_words = [w for line in self.lines for w in agreement.words(line)]
        ref = agreement.Reference(line_words)
        self.shared = ref.shares(words) if ref and words else [None] * len(words)
        mine = Counter(tuple(x) for x in _runs([w for one in words for w in one]))
        theirs = Counter(tuple(x) for x in _runs(line_words))
        self.inside = sum((mine & theirs).values()) / max(1, sum(theirs.values()))
        n = sum(self.nwords)
        self.shared_share = sum(c for c, s in zip(self.nwords, self.shared, strict=True) if s) / n if n else 0.0
        idx = [i for i, s in enumerate(self.shared) if s]
        self.first, self.last = (idx[0], idx[-1]) if idx else (None, None)
        self.links = link_share(self.blocks, parse_html(html))


def _runs(ws):
    return [ws[i : i + 4] for i in range(len(ws) - 3)]


def disagree(page, op, max_wpb, min_inside, min_shared, where):
    if not page.lines or page.first is None or page.inside < min_inside or page.shared_share < min_shared:
        return page.own
    region = lambda j: "head" if j < page.first else "tail" if j > page.last else "inner"  # noqa: E731
    drop = [j for j, s in enumerate(page.shared) if not s and region(j) in where]
    if not drop or sum(page.nwords[j] for j in drop) >= max_wpb * len(drop):
        return page.own
    if op == "rd":
        return "\n\n".join(page.lines)
    gone = set(drop)
    return "\n\n".join(b for j, b in enumerate(page.blocks) if j not in gone)


def dups(page, min_words):
    key = lambda text: " ".join(agreement.words(text))  # noqa: E731
    theirs = Counter(key(line) for line in page.lines if len(agreement.words(line)) >= min_words)
    mine = Counter(key(b) for b in page.blocks)
    merged = []
    for block in page.blocks:
        merged.append(block)
        k = key(block)
        if theirs.get(k, 0) > mine[k]:
            merged.extend([block] * (theirs[k] - mine[k]))
            mine[k] = theirs[k]
    return "\n\n".join(merged) if merged else page.own


def links(page, min_link, max_words, need_reading):
    keep = [
        b for b, s, share, n in zip(page.blocks, page.shared, page.links, page.nwords, strict=True)
        if not ((s is False or (s is None and not need_reading)) and share >= min_link and n < max_words)
    ]
    return "\n\n".join(keep) if sum(len(b.split()) for b in keep) >= 5 else page.own


def main():
    rows = json.loads(CACHE.read_text())
    trim = (agreement.TAIL_MIN_SHARED, agreement.TAIL_MAX_WORDS_PER_BLOCK)
    add = (second_opinion.MISSING_MIN_WORDS, second_opinion.MISSING_MAX_KNOWN)
    pages, truths, set_of = [], [], []
    for set_name in SETS:
        for page in load_set(set_name):
            row = rows[len(pages)]
            pages.append(Page(row, so_exp.output(dict(row) if row else None, trim, add), page.html))
            truths.append(page.body)
            set_of.append(set_name)
    families = {
        "drop": [("v11",)] + [
            (op, w, a, s, where) for op in ("drop", "rd") for w in (5, 8, 10, 15, 20, 30) for a in (0.0, 0.8, 0.9, 0.95)
            for s in (0.0, 0.2, 0.5) for where in (("head",), ("head", "inner"), ("head", "inner", "tail"))
        ],
        "links": [("v11",)] + [
            ("links", m, w, r) for m in (0.5, 0.7, 0.8, 0.9, 0.99) for w in (10, 20, 40, 10**9) for r in (True, False)
        ],
        "dups": [("v11",)] + [("dups", n) for n in (5, 10, 20, 30)],
        "fusion": [("v11",)] + [("fusion", n, k, f) for n, k, f in itertools.product((10, 20, 30), (0.3, 0.5), (0.0, 0.2, 0.4, 0.6))],
    }
    memo = {}

    def output(i, config):
        page = pages[i]
        if config[0] == "v11" or page.row is None:
            return page.own
        if config[0] == "links":
            return links(page, *config[1:])
        if config[0] == "dups":
            return dups(page, *config[1:])
        if config[0] == "fusion":
            return rd_fusion(page.row, page.own, *config[1:])
        return disagree(page, *config)

    def counts(i, config):
        text = output(i, config)
        if (i, text) not in memo:
            memo[(i, text)] = page_counts(text, truths[i])
        return memo[(i, text)]

    def f1(config, set_name):
        return set_f1(counts(i, config) for i, s in enumerate(set_of) if s == set_name)

    def line(name, values):
        print(f"{name:<52}", " ".join(f"{values[s]:.4f}" for s in SETS), f"macro {statistics.mean(values.values()):.4f}",
              flush=True)

    print(f"{'':<52}", " ".join(f"{s[:6]:>6}" for s in SETS))
    for family, configs in families.items():
        table = {c: {s: f1(c, s) for s in SETS} for c in configs}
        line(f"{family}: v11", table[("v11",)])
        best = max(configs, key=lambda c: statistics.mean(table[c].values()))
        line(f"{family}: best on all six {best}", table[best])
        loso = {}
        for held in SETS:
            others = [s for s in SETS if s != held]
            pick = max(configs, key=lambda c: statistics.mean(table[c][s] for s in others))
            loso[held] = table[pick][held]
            print(f"    {held:<20} chose {pick}")
        line(f"{family}: leave-one-set-out", loso)


if __name__ == "__main__":
    main()
