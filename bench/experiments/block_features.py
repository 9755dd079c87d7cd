"""Features of a learned keep/drop judgement of trafilatura's blocks (the block, its neighbours,
the page; no keyword list, no site), for block_scorer.py. Not shipped: in the leave-one-set-out
figures it did not beat keeping every block (issue 10), so nothing in tasks/ uses it.
"""

from __future__ import annotations

import math

from tasks.cleaning.boilerplate import is_call_to_action, is_dateline, is_shard, repeats, words
from tasks.cleaning.result import Block

KINDS = ("p", "heading", "item", "row", "quote")
PUNCTUATION = frozenset(".,;:!?")
SENTENCE_ENDS = frozenset(".!?")

FEATURES = (
    "log_words", "log_chars", "link_share", *(f"kind_{k}" for k in KINDS),
    "relative_position", "first", "last", "log_index", "log_from_end",
    "punctuation_share", "sentence_ends_per_word", "ends_sentence", "digit_share", "upper_share",
    "title_overlap", "repeats_title", "repeats_h1", "is_description",
    "call_to_action", "dateline", "shard",
    "prev_log_words", "next_log_words", "prev_link_share", "next_link_share", "prev_shard", "next_shard",
    "log_blocks", "page_word_share", "log_page_words",
)


def block_features(
    blocks: list[Block], title: str | None, description: str | None, headline: str | None
) -> list[list[float]]:
    """One feature vector (in FEATURES order) per block."""
    n = len(blocks)
    counts = [len(b.text.split()) for b in blocks]
    page_words = sum(counts) or 1
    title_words = {w.lower() for w in words(title or "")}
    description_words = words(description or "")
    shards = [is_shard(b.text) for b in blocks]
    rows = []
    for i, block in enumerate(blocks):
        text = block.text
        chars = len(text) or 1
        letters = [c for c in text if c.isalpha()]
        mine = words(text)
        lowered = {w.lower() for w in mine}
        overlap = len(lowered & title_words) / len(lowered | title_words) if lowered and title_words else 0.0
        prev_i, next_i = i - 1, i + 1
        rows.append([
            math.log1p(counts[i]),
            math.log1p(len(text)),
            block.link_share,
            *(float(block.kind == k) for k in KINDS),
            i / max(1, n - 1),
            float(i == 0),
            float(i == n - 1),
            math.log1p(i),
            math.log1p(n - 1 - i),
            sum(c in PUNCTUATION for c in text) / chars,
            sum(c in SENTENCE_ENDS for c in text) / max(1, counts[i]),
            float(text.rstrip()[-1:] in SENTENCE_ENDS),
            sum(c.isdigit() for c in text) / chars,
            sum(c.isupper() for c in letters) / (len(letters) or 1),
            overlap,
            float(repeats(text, title)),
            float(repeats(text, headline)),
            float(bool(description_words) and mine == description_words),
            float(is_call_to_action(text)),
            float(is_dateline(text)),
            float(shards[i]),
            math.log1p(counts[prev_i]) if prev_i >= 0 else 0.0,
            math.log1p(counts[next_i]) if next_i < n else 0.0,
            blocks[prev_i].link_share if prev_i >= 0 else 0.0,
            blocks[next_i].link_share if next_i < n else 0.0,
            float(shards[prev_i]) if prev_i >= 0 else 0.0,
            float(shards[next_i]) if next_i < n else 0.0,
            math.log1p(n),
            counts[i] / page_words,
            math.log1p(page_words),
        ])
    return rows
