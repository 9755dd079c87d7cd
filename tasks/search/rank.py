"""BM25 with statistics of the whole index, so that scores do not depend on how documents are
split into segments (and a merge does not reorder hits).

The formula is FTS5's own bm25() (ext/fts5/fts5_aux.c), so that over one segment holding the
whole index the scores are exactly FTS5's: for each phrase i of the query,

    idf_i = ln((N - n_i + 0.5) / (n_i + 0.5)), at least IDF_FLOOR
    f_i   = sum over the phrase's hits in the row of the weight of the hit's column
    score = sum_i idf_i * f_i * (k1 + 1) / (f_i + k1 * (1 - b + b * D / avgdl))

with N the live documents of all segments, n_i the live documents matching phrase i in all
segments, D the row's length in tokens (all columns) and avgdl the mean of D over the live
documents. Only f_i and D belong to a document; N, n_i and avgdl are summed over segments.

FTS5's bm25() knows its own segment's statistics only, so the searcher reads f_i and D through
SQLite's supported interfaces instead (the fts5vocab table and the lengths a segment stores,
see tasks/search/segment.py) and scores here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Sequence

K1 = 1.2
B = 0.75
#: FTS5's floor for the idf of a phrase in more than half of the documents.
IDF_FLOOR = 1e-6


@dataclass(frozen=True)
class CorpusStats:
    docs: int
    tokens: int

    @property
    def avgdl(self) -> float:
        return self.tokens / self.docs if self.docs else 1.0


def idf(docs: int, hits: int) -> float:
    value = math.log((docs - hits + 0.5) / (hits + 0.5)) if docs else 0.0
    return value if value > 0.0 else IDF_FLOOR


def length_norm(length: float, avgdl: float) -> float:
    """The k1 * (1 - b + b * D / avgdl) term."""
    return K1 * (1.0 - B + B * length / avgdl)


def score(freqs: Sequence[float], idfs: Sequence[float], length: float, avgdl: float) -> float:
    """BM25 of one document (positive: higher is better)."""
    norm = length_norm(length, avgdl)
    return sum(w * f * (K1 + 1.0) / (f + norm) for f, w in zip(freqs, idfs, strict=True) if f > 0)


def bound_factor(
    global_idfs: Sequence[float], local_idfs: Sequence[float], global_avgdl: float, local_avgdl: float, max_length: float | None = None
) -> float:
    """C such that any row's global score <= C * its local score (in the same segment).

    Per phrase, global/local = (idf_g / idf_l) * (f + k_l) / (f + k_g), and the last factor
    lies between 1 and k_l / k_g, which grows with the row's length D from 1 (D = 0) towards
    avgdl_g / avgdl_l: its value at the segment's longest row bounds it. Used to stop fetching
    a segment's rows (best local first) once none left can enter the global top.
    """
    ratio = max((g / loc for g, loc in zip(global_idfs, local_idfs, strict=True)), default=1.0)
    if not local_avgdl:
        return ratio
    if max_length is None:
        return ratio * max(1.0, global_avgdl / local_avgdl)
    return ratio * max(1.0, length_norm(max_length, local_avgdl) / length_norm(max_length, global_avgdl))
