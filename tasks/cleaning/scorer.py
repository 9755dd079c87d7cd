"""A learned judgement of trafilatura's blocks: keep or drop each, from features of the block,
its neighbours and the page (no keyword list, no site).

The model is a logistic regression over FEATURES, trained only on the extraction sets whose
licence allows shipping what is derived from them (scrapinghub MIT, Mozilla readability
Apache-2.0) by `python -m tasks.cleaning.build_scorer` (needs scikit-learn: `uv sync`), and read
here with the standard library: the weights are a small JSON file in tasks/models/.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

from .boilerplate import is_call_to_action, is_dateline, is_shard, repeats, words
from .result import Block

MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "block-scorer.json"
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


@lru_cache(maxsize=1)
def load_model(path: Path = MODEL_PATH) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def keep_scores(rows: list[list[float]], model: dict) -> list[float]:
    """Probability that each block belongs to the article (standardised features, logistic)."""
    mean, scale, coef, intercept = model["mean"], model["scale"], model["coef"], model["intercept"]
    scores = []
    for row in rows:
        z = intercept + sum(w * (x - m) / s for x, m, s, w in zip(row, mean, scale, coef, strict=True))
        scores.append(1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z)))))
    return scores
