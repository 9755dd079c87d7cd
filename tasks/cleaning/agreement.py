"""A second opinion on where the article ends: trafilatura's blocks after the last one that
readability's algorithm also keeps are dropped when they look like a list of short items.

trafilatura, in full mode, often runs on past the article into what follows it on the page:
"Leave a Reply", "Related stories", a list of offers, comment headers, "Subscribe to:". The
readability algorithm (readability-lxml, read by second_opinion.py; until clean stage v10
trafilatura's own port of it) picks the page's main container by a different method: scores of
paragraphs summed into their parents, scaled by link density. Where the two agree on the
article, the blocks trafilatura adds after the last block they share are dropped when they are
short on average (navigation and teasers, not prose): fewer than TAIL_MAX_WORDS_PER_BLOCK words
per block. Nothing is dropped when the two agree on less than TAIL_MIN_SHARED of trafilatura's
words (they found different things: no opinion), nor before the last shared block (the
article's inside and its head are trafilatura's alone).

Both thresholds were chosen leave-one-set-out over the six extraction sets, together with the
adding of readability's long lines (bench/experiments/second_opinion.py): S 0.2 was picked for
five of the six sets left out (0.1 for google-trends-2017), W 40 and 60 tie. With trafilatura's
port (clean stage v10) S 0.3 had been picked (bench/experiments/tail_agreement.py).

A block is shared when its words occur in a row in readability's text (string search, bounded
by MAX_SEARCH; beyond, word runs looked up in sets: linear).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from .result import Block

#: Blocks after the last shared one are dropped only when they average fewer words than this.
TAIL_MAX_WORDS_PER_BLOCK = 40
#: ... and only when the shared blocks hold at least this share of the blocks' words.
TAIL_MIN_SHARED = 0.2
#: Blocks x reference characters above which blocks are matched by word runs, not searched.
MAX_SEARCH = 20_000_000
#: Words compared as runs of this many, on pages beyond MAX_SEARCH.
NGRAM = 4

#: Words as the benchmark's metric counts them. Python's `re` here, not RE2 (linear.py): one
#: character class repeated, nothing after it, so no backtracking and each character is read once;
#: RE2's Python wrapper builds every match in Python and cost 5x the whole trim.
WORDS_RE = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The text's words (`\\w+`), each lowercased on its own."""
    lowered = text.lower()
    # Lowercasing the whole text first (one pass in C) gives the same words when it maps each
    # character to one character (equal lengths: no character lowercases to nothing) and no
    # capital sigma is in it: no character's lowercase differs from it in being a word character
    # (true of every code point; tests/unit/test_clean_agreement.py checks), and final sigma is
    # the only lowercasing that depends on the characters around (it looks past apostrophes and
    # other case-ignorable characters into the next word).
    if len(lowered) == len(text) and "\u03a3" not in text:
        return WORDS_RE.findall(lowered)
    return [w.lower() for w in WORDS_RE.findall(text)]


def ngrams(sequence: Sequence[str], n: int) -> Iterator[tuple[str, ...]]:
    """The runs of n items in a row, in order: tuple(sequence[i : i + n]) for each i (one zip in C
    rather than a slice and a tuple per run)."""
    return zip(*(sequence[k:] for k in range(n)), strict=False)


class Reference:
    """readability's text of a page as words, for `shares`."""

    def __init__(self, text_words: Sequence[str]):
        self.words = list(text_words)
        self.text = " " + " ".join(self.words) + " "
        self._runs: dict[int, set[tuple[str, ...]]] = {}

    def __bool__(self) -> bool:
        return bool(self.words)

    def shares(self, blocks_words: Sequence[Sequence[str]]) -> list[bool]:
        """For each block, whether readability's text holds it: its words in a row. Searched
        as a string (C speed) when that costs at most MAX_SEARCH characters compared; beyond,
        each block's runs of NGRAM words (or all its words, when fewer) are looked up in sets of
        readability's runs, linear whatever the page (a looser test: the runs need not follow
        each other there)."""
        if len(blocks_words) * len(self.text) <= MAX_SEARCH:
            return [bool(w) and f" {' '.join(w)} " in self.text for w in blocks_words]
        # A block of fewer than NGRAM words has one run, all its words: held when they occur in
        # a row, which the string search tells alike. Searched while the short blocks' searches
        # stay within MAX_SEARCH: no sets of shorter runs to build (most of the time here).
        short = sum(1 for w in blocks_words if len(w) < NGRAM)
        if short * len(self.text) <= MAX_SEARCH:
            return [
                bool(w) and f" {' '.join(w)} " in self.text if len(w) < NGRAM else self._holds_runs(w)
                for w in blocks_words
            ]
        return [self._holds_runs(w) for w in blocks_words]

    def _holds_runs(self, block_words: Sequence[str]) -> bool:
        n = min(NGRAM, len(block_words))
        if n == 0:
            return False
        runs = self._runs.get(n)
        if runs is None:
            runs = self._runs[n] = set(ngrams(self.words, n))
        return runs.issuperset(ngrams(block_words, n))


def droppable_tail(block_words: Sequence[Sequence[str]]) -> bool:
    """Whether some tail of the blocks (not the first block) averages fewer than
    TAIL_MAX_WORDS_PER_BLOCK words: if none does, no reference is needed."""
    total = 0
    for count, block in enumerate(reversed(block_words[1:]), start=1):
        total += len(block)
        if total < TAIL_MAX_WORDS_PER_BLOCK * count:
            return True
    return False


def trim_tail(blocks: list[Block], block_words: Sequence[Sequence[str]], ref: Reference) -> list[Block]:
    """The blocks without the short tail after the last block readability also keeps."""
    if not ref:
        return blocks
    shared = ref.shares(block_words)
    if not any(shared):
        return blocks
    last = max(i for i, s in enumerate(shared) if s)
    tail = block_words[last + 1 :]
    if not tail:
        return blocks
    all_words = sum(len(w) for w in block_words)
    shared_words = sum(len(w) for w, s in zip(block_words, shared, strict=True) if s)
    tail_words = sum(len(w) for w in tail)
    if shared_words < TAIL_MIN_SHARED * all_words or tail_words >= TAIL_MAX_WORDS_PER_BLOCK * len(tail):
        return blocks
    return blocks[: last + 1]
