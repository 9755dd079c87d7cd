"""Page-level choice between copydesk's output (clean stage v11: trafilatura's blocks with the
second opinion's tail trim and added lines) and another reading of the page, learned from
features of where the two disagree; leave-one-set-out, nested (not shipped: see the figures in
the session note of issue 10, stop 21).

Candidates for the other reading:
- `readability`: readability-lxml's whole reading (second_opinion.readability_lines);
- `rd-fusion`: readability-lxml's lines with trafilatura's blocks of >= 30 words that they lack
  (second_opinion.add_missing with the roles swapped), copydesk's output when readability holds
  fewer than 0.2 of trafilatura's words (the best of a small grid on all six sets, so this
  candidate is a little optimistic).

Features of a page (features()): both outputs' words and blocks; the share of each one's word
4-grams (as multisets) found in the other; the share of copydesk's words in blocks readability
also holds, and of readability's in lines copydesk holds; where copydesk's unshared words sit
(before the first shared block, after the last, between); words, blocks, words per block,
sentence-ended blocks and long-block share of copydesk's unshared blocks, of readability's
unshared lines, and of each whole output.

Model: ridge regression (standardised features, alpha 10 or 1) of F1(other) - F1(copydesk) per
page; the other reading is taken where the prediction exceeds a threshold. For each set left out,
in turn, and only on the other five: the features are picked by forward selection (up to 6) and
the threshold from a grid, both maximising the other five sets' mean F1; the model is trained on
the shippable sets (scrapinghub, readability) other than the one left out ("shippable": what
could ship) or on all five others ("all-others": measurement only). Also printed: the per-page
oracle of the two.

    nice -n 10 .venv/bin/python bench/experiments/second_opinion.py   # builds the cache
    nice -n 10 .venv/bin/python bench/experiments/opinion_chooser.py  # ~2 min
"""

import json
import math
import statistics
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "experiments"))
import numpy as np  # noqa: E402
from _extraction_data import SETS, SHIPPABLE_SETS, load_set, page_counts  # noqa: E402

import second_opinion as so_exp  # noqa: E402
from tasks.cleaning import agreement, second_opinion  # noqa: E402
from tasks.cleaning.result import Block  # noqa: E402

CACHE = ROOT / ".bench-cache" / "second-opinion.json"
ENDS = tuple('.!?"”’)')
THRESHOLDS = (0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15)
MAX_FEATURES = 6


def block_stats(texts):
    ws = [len(agreement.words(t)) for t in texts]
    n = sum(ws)
    if not texts:
        return [0.0] * 5
    ended = sum(t.rstrip().endswith(ENDS) for t in texts) / len(texts)
    long_share = sum(w for w in ws if w >= 20) / n if n else 0.0
    return [math.log1p(n), math.log1p(len(texts)), n / len(texts), ended, long_share]


def runs_of(ws):
    return Counter(tuple(ws[i : i + 4]) for i in range(len(ws) - 3))


def features(own_texts, lines):
    own_words = [agreement.words(t) for t in own_texts]
    line_words = [agreement.words(t) for t in lines]
    n_own, n_rd = sum(map(len, own_words)), sum(map(len, line_words))
    ref = agreement.Reference([w for one in line_words for w in one])
    shared = ref.shares(own_words) if ref and own_words else [False] * len(own_words)
    back = agreement.Reference([w for one in own_words for w in one])
    rd_shared = back.shares(line_words) if back and line_words else [False] * len(line_words)
    own_runs = runs_of([w for one in own_words for w in one])
    rd_runs = runs_of([w for one in line_words for w in one])
    inter = sum((own_runs & rd_runs).values())
    shared_own = sum(len(w) for w, s in zip(own_words, shared, strict=True) if s)
    shared_rd = sum(len(w) for w, s in zip(line_words, rd_shared, strict=True) if s)
    idx = [i for i, s in enumerate(shared) if s]
    first, last = (idx[0], idx[-1]) if idx else (len(own_words), len(own_words))
    head = sum(len(w) for w in own_words[:first])
    tail = sum(len(w) for w in own_words[last + 1 :])
    inner = n_own - shared_own - head - tail
    share = lambda x, n: x / n if n else 0.0  # noqa: E731
    return [
        share(inter, sum(own_runs.values())), share(inter, sum(rd_runs.values())),
        math.log1p(n_own), math.log1p(n_rd), max(-3.0, min(3.0, math.log1p(n_rd) - math.log1p(n_own))),
        share(shared_own, n_own), share(shared_rd, n_rd),
        share(head, n_own), share(tail, n_own), share(inner, n_own), float(n_rd == 0),
        *block_stats([t for t, s in zip(own_texts, shared, strict=True) if not s]),
        *block_stats([t for t, s in zip(lines, rd_shared, strict=True) if not s]),
        *block_stats(own_texts), *block_stats(lines),
    ]


def rd_fusion(row, own, min_words=30, max_known=0.3, min_share=0.2):
    lines, texts = row["lines"], row["texts"]
    n_rd = sum(len(agreement.words(line)) for line in lines)
    if n_rd < 5 or n_rd < min_share * sum(len(agreement.words(t)) for t in texts):
        return own
    saved = (second_opinion.MISSING_MIN_WORDS, second_opinion.MISSING_MAX_KNOWN)
    second_opinion.MISSING_MIN_WORDS, second_opinion.MISSING_MAX_KNOWN = min_words, max_known
    try:
        fused = second_opinion.add_missing([Block(x) for x in lines], [agreement.words(x) for x in lines], texts)
    finally:
        second_opinion.MISSING_MIN_WORDS, second_opinion.MISSING_MAX_KNOWN = saved
    return "\n\n".join(b.text for b in fused)


class Pages:
    """Per page: precision and recall of copydesk's output and of the other reading (None where
    the metric leaves the page out of that average), their F1 difference, and the features."""

    def __init__(self, rows, truths, set_of, other):
        trim = (agreement.TAIL_MIN_SHARED, agreement.TAIL_MAX_WORDS_PER_BLOCK)
        add = (second_opinion.MISSING_MIN_WORDS, second_opinion.MISSING_MAX_KNOWN)
        feats, own_pr, alt_pr = [], [], []
        for i, row in enumerate(rows):
            own = so_exp.output(dict(row) if row else None, trim, add)
            alt = "" if row is None else "\n\n".join(row["lines"]) if other == "readability" else rd_fusion(row, own)
            feats.append(features(own.split("\n\n") if own else [], alt.split("\n\n") if alt else []))
            own_pr.append(pr(own, truths[i]))
            alt_pr.append(pr(alt, truths[i]))
        self.X = np.array(feats)
        self.S = np.array(set_of)
        nan = lambda v: np.nan if v is None else v  # noqa: E731
        self.own = np.array([[nan(p), nan(r)] for p, r in own_pr])
        self.alt = np.array([[nan(p), nan(r)] for p, r in alt_pr])
        f1 = lambda m: np.nan_to_num(2 * m[:, 0] * m[:, 1] / (m[:, 0] + m[:, 1]))  # noqa: E731
        self.gain = f1(self.alt) - f1(self.own)
        self.index = {s: np.where(s == self.S)[0] for s in SETS}

    def f1(self, set_name, choose):
        i = self.index[set_name]
        m = np.where(choose[i, None], self.alt[i], self.own[i])
        p, r = np.nanmean(m[:, 0]), np.nanmean(m[:, 1])
        return 2 * p * r / (p + r) if p + r else 0.0


def pr(text, gold):
    tp, fp, fn = page_counts(text, gold)
    return (tp / (tp + fp) if tp + fp else None, tp / (tp + fn) if tp + fn else None)


def ridge(X, y, alpha):
    mu, sd = X.mean(0), X.std(0) + 1e-9
    Z = np.hstack([(X - mu) / sd, np.ones((len(X), 1))])
    reg = alpha * np.eye(Z.shape[1])
    reg[-1, -1] = 0.0
    w = np.linalg.solve(Z.T @ Z + reg, Z.T @ y)
    return lambda A: ((A - mu) / sd) @ w[:-1] + w[-1]


def nested_loso(pages, regime, alpha):
    never = np.zeros(len(pages.S), bool)
    result, notes = {}, {}
    for held in SETS:
        others = [s for s in SETS if s != held]
        train = np.isin(pages.S, [s for s in (SHIPPABLE_SETS if regime == "shippable" else SETS) if s != held])

        def fitted(cols, train=train):
            model = ridge(pages.X[train][:, cols], pages.gain[train], alpha)
            return model(pages.X[:, cols])

        def value(cols, others=others):
            predicted = fitted(cols)
            return max((statistics.mean(pages.f1(s, predicted > t) for s in others), t) for t in THRESHOLDS)

        chosen: list[int] = []
        best = (statistics.mean(pages.f1(s, never) for s in others), None)
        while len(chosen) < MAX_FEATURES:
            (score, t), col = max((value([*chosen, c]), c) for c in range(pages.X.shape[1]) if c not in chosen)
            if score <= best[0] + 1e-4:
                break
            best = (score, t)
            chosen.append(col)
        choose = fitted(chosen) > best[1] if chosen else never
        result[held] = pages.f1(held, choose)
        notes[held] = (chosen, best[1], int(choose[pages.index[held]].sum()))
    return result, notes


def main():
    rows = json.loads(CACHE.read_text())
    truths, set_of = [], []
    for s in SETS:
        for page in load_set(s):
            truths.append(page.body)
            set_of.append(s)

    def line(name, values):
        print(f"{name:<40}", " ".join(f"{values[s]:.4f}" for s in SETS), f"macro {statistics.mean(values.values()):.4f}",
              flush=True)

    print(f"{'':<40}", " ".join(f"{s[:6]:>6}" for s in SETS))
    for other in ("readability", "rd-fusion"):
        pages = Pages(rows, truths, set_of, other)
        never = np.zeros(len(set_of), bool)
        line(f"{other}: copydesk v11", {s: pages.f1(s, never) for s in SETS})
        line(f"{other}: the other reading", {s: pages.f1(s, ~never) for s in SETS})
        line(f"{other}: per-page oracle", {s: pages.f1(s, pages.gain > 0) for s in SETS})
        for regime in ("shippable", "all-others"):
            for alpha in (10.0, 1.0):
                result, notes = nested_loso(pages, regime, alpha)
                line(f"{other}: LOSO {regime}, alpha {alpha:g}", result)
                for s in SETS:
                    cols, t, n = notes[s]
                    print(f"    {s:<20} features {cols} threshold {t} chose the other on {n} pages")


if __name__ == "__main__":
    main()
