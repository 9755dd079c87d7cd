"""Tail agreement (tasks/cleaning/agreement.py), leave-one-set-out: trafilatura's blocks after the
last block that readability's algorithm (trafilatura's port) also keeps are dropped when the
shared blocks hold at least S of the words and the tail averages fewer than W words per block.

For every page of the six sets: copydesk's blocks before the trim, each block's words, and
whether readability's text holds it (the shipped functions). Then every (S, W) of a grid, plus
"off", is scored on every set; for each set in turn, the (S, W) with the best mean F1 on the other
five is scored on the one left out. Also: how often the reference has to run (some tail short
enough), and the shipped values on every set.

    .venv/bin/python bench/experiments/tail_agreement.py [--cached]
"""

import itertools
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import trafilatura  # noqa: E402
from _extraction_data import SETS, cached_rows, score  # noqa: E402

from lxml import html as lxml_html  # noqa: E402
from trafilatura.readability_lxml import Document as ReadabilityDocument  # noqa: E402

from tasks.cleaning import agreement  # noqa: E402
from tasks.cleaning.html import EXTRACT_OPTIONS, MIN_ARTICLE_WORDS, body_blocks  # noqa: E402
from tasks.cleaning.markup import parse_html  # noqa: E402
from tasks.cleaning.normalize import normalize_inline  # noqa: E402

CACHE = ROOT / ".bench-cache" / "tail-agreement.json"
#: The reference of clean stage v10: trafilatura's port of readability (v11 reads readability-lxml,
#: tasks/cleaning/second_opinion.py; bench/experiments/second_opinion.py is its leave-one-set-out).
#: Elements whose text is not glued to the text around them (inline ones are: "new<b>s</b>").
SEPARATE_TAGS = {
    "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "td", "th", "tr", "table", "h1", "h2", "h3", "h4",
    "h5", "h6", "br", "blockquote", "pre", "section", "article", "figcaption", "header", "footer",
}


def reference(tree):
    """trafilatura's port's text of the page. The port mutates the tree it is given: pass a copy."""
    try:
        summary = ReadabilityDocument(tree, min_text_length=25).summary()
        root = lxml_html.fragment_fromstring(summary, create_parent="div")
    except Exception:  # the port or the reparse failing is no opinion, not a failed page
        return agreement.Reference([])
    for element in root.iter(*SEPARATE_TAGS):
        element.text = " " + (element.text or "")
        element.tail = " " + (element.tail or "")
    # Normalised as copydesk's blocks are (soft hyphens and zero-width spaces out, NFC).
    return agreement.Reference(agreement.words(normalize_inline("".join(root.itertext()))))



S_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7)
W_GRID = (5, 8, 10, 12, 15, 20, 25, 30, 40, 60, float("inf"))


def page_row(html):
    tree = parse_html(html)
    if tree is None:
        return None
    document = trafilatura.bare_extraction(tree, **EXTRACT_OPTIONS)
    kept = body_blocks(document.body) if document is not None and document.body is not None else []
    block_words = [agreement.words(b.text) for b in kept]
    ref = reference(parse_html(html))
    return {
        "texts": [b.text for b in kept],
        "words": [len(w) for w in block_words],
        "shared": ref.shares(block_words) if ref else [False] * len(kept),
        "needed": agreement.droppable_tail(block_words),
    }


def trimmed(row, s_min, w_max):
    if row is None:
        return ""
    texts, counts, shared = row["texts"], row["words"], row["shared"]
    if s_min is not None and any(shared):
        last = max(i for i, x in enumerate(shared) if x)
        tail = counts[last + 1 :]
        total = sum(counts)
        in_shared = sum(c for c, x in zip(counts, shared, strict=True) if x)
        if tail and in_shared >= s_min * total and sum(tail) < w_max * len(tail):
            texts = texts[: last + 1]
    if sum(len(t.split()) for t in texts) < MIN_ARTICLE_WORDS:
        return ""
    return "\n\n".join(texts)


def main():
    """--cached: reuse the rows of the last run (.bench-cache/tail-agreement.json)."""
    rows, truths, set_of = cached_rows(CACHE, page_row, reuse="--cached" in sys.argv)
    index = {s: [i for i, x in enumerate(set_of) if x == s] for s in SETS}

    def per_set(s_min, w_max):
        preds = [trimmed(r, s_min, w_max) for r in rows]
        return {s: score([preds[i] for i in index[s]], [truths[i] for i in index[s]]).f1 for s in SETS}

    configs = [None, *itertools.product(S_GRID, W_GRID)]
    table = {c: per_set(*(c or (None, None))) for c in configs}
    off = table[None]
    print("set order:", " ".join(SETS))
    print(f"{'off':<14}", " ".join(f"{off[s]:.4f}" for s in SETS), f"macro {statistics.mean(off.values()):.4f}")
    shipped = (agreement.TAIL_MIN_SHARED, agreement.TAIL_MAX_WORDS_PER_BLOCK)
    for c in configs[1:]:
        if c == shipped or c[1] in (10, 30, 40, float("inf")):
            v = table[c]
            mark = " (shipped)" if c == shipped else ""
            print(
                f"S={c[0]:<4} W={c[1]:<5}", " ".join(f"{v[s] - off[s]:+.4f}" for s in SETS),
                f"macro {statistics.mean(v.values()):.4f}{mark}",
            )
    loso = {}
    for held in SETS:
        others = [s for s in SETS if s != held]
        best = max(configs, key=lambda c: statistics.mean(table[c][s] for s in others))
        loso[held] = (table[best][held], best)
    print("leave-one-set-out (chosen on the other five, scored on the one left out):")
    print(f"{'LOSO':<14}", " ".join(f"{loso[s][0]:.4f}" for s in SETS),
          f"macro {statistics.mean(v[0] for v in loso.values()):.4f}")
    for s in SETS:
        print(f"  {s:<20} chose {loso[s][1]}")
    needed = sum(bool(r and r["needed"]) for r in rows)
    print(f"reference needed on {needed} of {len(rows)} pages")


if __name__ == "__main__":
    main()
