"""Searching the index: the manifest's segments from the local cache, newest copy of each document.

A Searcher keeps the segments of the manifest it last saw open. Before a search it checks the
manifest's etag (a HEAD, at most every `recheck` seconds); when it changed it downloads new
segments into the cache, closes retired ones and works out again which rows are superseded
by newer copies or tombstoned, and the index's live statistics (documents, tokens).

Scores are BM25 with the statistics of the whole index, not of each segment (see
tasks/search/rank.py): the document frequency of each query phrase is summed over the live
rows of all segments, so how documents are split into segments (and merges) changes neither
the scores nor the order. Each segment is asked for its best rows by its own BM25; they are
rescored with the global statistics, and a segment is asked for more rows while one of its
unseen rows could still reach the top (a bound from the ratio of global to local idf and
average length). Ties are broken by document id, which is the same before and after a merge.
"""

from __future__ import annotations

import datetime as dt
import heapq
import re
import time
from dataclasses import dataclass
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_incrementing

from tasks.classification.labels import TOPIC_LABELS
from tasks.search import Filters, Segment, dead_rows, parse_query, rank
from tasks.search.segment import day_of

from ..settings import Settings
from ..storage import NotFound, Store
from .catalog import Catalog, Manifest

#: Rows asked of a segment per round, as a multiple of the hits wanted.
PAGE_FACTOR = 2
MIN_PAGE = 20
#: Reads of the manifest when its segments vanish while loading (a merge collected them).
LOAD_ATTEMPTS = 6


@dataclass
class Hit:
    id: str
    score: float
    title: str | None
    published: str | None
    topics: list[str]
    language: str | None
    source_key: str | None
    url: str | None
    snippet: str
    etag: str | None
    segment: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Searcher:
    def __init__(self, store: Store, settings: Settings, catalog: Catalog | None = None, recheck: float = 0.0):
        self.catalog = catalog or Catalog(store, settings)
        self.recheck = recheck
        self._etag: str | None = None
        self._checked_at = 0.0
        self._segments: dict[str, Segment] = {}
        self._dead: dict[str, set[int]] = {}
        #: segment name → its (rows, tokens) as FTS5 counts them, dead rows included.
        self._totals: dict[str, tuple[int, int]] = {}
        #: segment name → tokens of its longest row (tightens the score bound).
        self._max_length: dict[str, int] = {}
        #: The live documents of the whole index and their tokens.
        self.stats = rank.CorpusStats(0, 0)
        #: phrase → (live rows matching it in the index, {segment: rows matching it there}).
        self._hits: dict[str, tuple[int, dict[str, int]]] = {}
        self.manifest = Manifest()

    # -- cache -----------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> bool:
        """Load the current manifest's segments if it changed; True when something changed."""
        now = time.monotonic()
        if not force and self._checked_at and now - self._checked_at < self.recheck:
            return False
        self._checked_at = now
        etag = self.catalog.manifest_etag()
        if not force and etag == self._etag and (etag is not None or not self._segments):
            return False
        # A segment retired and collected since the manifest was read is NotFound: read it again.
        for attempt in Retrying(retry=retry_if_exception_type(NotFound), stop=stop_after_attempt(LOAD_ATTEMPTS),
                                wait=wait_incrementing(start=0.05, increment=0.05), reraise=True):
            with attempt:
                self._load(self.catalog.read())
        return True

    def _load(self, manifest: Manifest) -> None:
        wanted = {entry["name"]: entry for entry in manifest.segments}
        opened = dict(self._segments)
        for name, entry in wanted.items():
            if name not in opened:
                opened[name] = Segment(self.catalog.fetch(entry))
        for name in set(opened) - set(wanted):
            opened.pop(name).close()
        self._segments = opened
        self._dead = dead_rows({name: seg.versions() for name, seg in opened.items()}, manifest.tombstones)
        self._totals = {name: seg.totals() for name, seg in opened.items()}
        self._max_length = {}  # filled on first use: a pass over the segment's row sizes
        docs = tokens = 0
        for name, seg in opened.items():
            rows, seg_tokens = self._totals[name]
            dead = self._dead.get(name) or ()
            docs += rows - len(dead)
            tokens += seg_tokens - (sum(seg.lengths(dead).values()) if dead else 0)
        self.stats = rank.CorpusStats(docs, tokens)
        self._hits = {}
        self.manifest = manifest
        self._etag = manifest.etag
        self.catalog.prune_cache(set(wanted))

    def close(self) -> None:
        for seg in self._segments.values():
            seg.close()
        self._segments = {}

    # -- search ----------------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        topic: str | None = None,
        language: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 10,
    ) -> list[Hit]:
        """The best `limit` hits; QueryError when the query or a filter is malformed or empty."""
        parsed = parse_query(query)
        inline = parsed.filters
        filters = _checked_filters(
            topic or inline.get("topic"),
            language or inline.get("language"),
            since or inline.get("since"),
            until or inline.get("until"),
        )
        if not parsed.match and not parsed.terms and filters == Filters():
            raise QueryError("empty query: give words to search for, or a filter (--topic, --lang, --since, --until)")
        self.refresh()
        if not parsed.match and parsed.terms:
            return []  # only negated words: nothing to rank
        if parsed.match:
            candidates = self._ranked(parsed.match, parsed.phrases, filters, limit)
        else:
            candidates = self._newest(filters, limit)
        hits = []
        for score, _doc_id, name, rowid in candidates[:limit]:
            doc = self._segments[name].fetch(rowid, parsed.match)
            hits.append(
                Hit(
                    id=doc["id"],
                    score=round(-score, 4) if parsed.match else 0.0,
                    title=doc.get("title"),
                    published=doc.get("published"),
                    topics=doc.get("topics") or [],
                    language=doc.get("language"),
                    source_key=doc.get("source_key"),
                    url=doc.get("url"),
                    snippet=doc.get("snippet") or "",
                    etag=doc.get("etag"),
                    segment=name,
                )
            )
        return hits

    # -- ranking ---------------------------------------------------------------------------
    def _phrase_hits(self, phrases: list[str]) -> list[tuple[int, dict[str, int]]]:
        """For each phrase: live rows matching it in the whole index, and all rows matching it
        per segment (cached until the manifest changes)."""
        missing = [p for p in dict.fromkeys(phrases) if p not in self._hits]
        if missing:
            live = dict.fromkeys(missing, 0)
            per_segment: dict[str, dict[str, int]] = {p: {} for p in missing}
            for name, seg in self._segments.items():
                dead = self._dead.get(name)
                for phrase, count in zip(missing, seg.hits_of(missing), strict=True):
                    per_segment[phrase][name] = count
                    live[phrase] += count - (seg.hits(phrase, among=dead) if dead and count else 0)
            for phrase in missing:
                self._hits[phrase] = (live[phrase], per_segment[phrase])
        return [self._hits[p] for p in phrases]

    def _longest(self, name: str) -> int:
        if name not in self._max_length:
            self._max_length[name] = self._segments[name].max_length()
        return self._max_length[name]

    def _ranked(self, match: str, phrases: list[str], filters: Filters, limit: int) -> list[tuple[float, str, str, int]]:
        """(-global score, id, segment, rowid) of the best live rows, best first (the first
        `limit` are exact; any after them may be incomplete).

        Rows come from each segment best local score first. A row's global score is at most
        its segment's bound factor times its local score, so rows are rescored (which costs
        queries) in the order of that upper bound, and only while the bound can still reach
        the current `limit`-th score; a segment is asked for more rows on the same test.
        """
        hits = self._phrase_hits(phrases)
        global_idfs = [rank.idf(self.stats.docs, live) for live, _ in hits]
        avgdl = self.stats.avgdl
        factors: dict[str, float] = {}
        for name in self._segments:
            # A row matches only if it holds one of the phrases: skip segments holding none.
            if any(per_segment.get(name) for _, per_segment in hits):
                rows_all, tokens_all = self._totals[name]
                local_idfs = [rank.idf(rows_all, per_segment[name]) for _, per_segment in hits]
                factors[name] = rank.bound_factor(
                    global_idfs, local_idfs, avgdl, tokens_all / rows_all if rows_all else 1.0, self._longest(name)
                )
        first_page = max(MIN_PAGE, limit * PAGE_FACTOR)
        to_fetch = {name: (0, first_page) for name in factors}  # segment → (offset, page)
        more: dict[str, tuple[float, int, int]] = {}  # segment → (bound of its unseen rows, offset, page)
        waiting: list[tuple[float, str, int]] = []  # (bound, segment, rowid)
        scored: dict[tuple[str, int], tuple[float, str, str, int]] = {}

        cached_floor = [0, -1.0]  # (rows scored when computed, floor)

        def floor() -> float:
            if len(scored) < limit:
                return -1.0
            if cached_floor[0] != len(scored):
                kth = heapq.nsmallest(limit, scored.values())[-1]
                cached_floor[:] = [len(scored), -kth[0] / (1 + 1e-9)]  # ties must be looked at too
            return cached_floor[1]

        while to_fetch:
            for name, (offset, page) in to_fetch.items():
                rows = self._segments[name].search_scored(match, filters, page, offset)
                dead = self._dead.get(name, ())
                waiting.extend((factors[name] * local, name, rowid) for rowid, local in rows if rowid not in dead)
                more.pop(name, None)
                if len(rows) == page:  # the segment may hold more matches
                    more[name] = (factors[name] * rows[-1][1], offset + page, page * 2)
            # Rescore the waiting rows, highest bound first, while a bound reaches the floor.
            waiting.sort(reverse=True)
            while waiting and waiting[0][0] >= floor():
                # Until `limit` rows are scored, the `limit` best bounds; then every row whose
                # bound reaches the floor, at once (fewer, larger queries).
                bar = floor()
                cut = limit if bar < 0 else next((i for i, w in enumerate(waiting) if w[0] < bar), len(waiting))
                batch, waiting = waiting[:cut], waiting[cut:]
                by_segment: dict[str, list[int]] = {}
                for _, name, rowid in batch:
                    by_segment.setdefault(name, []).append(rowid)
                for name, rowids in by_segment.items():
                    self._score_rows(name, self._segments[name], rowids, phrases, global_idfs, avgdl, scored)
            bar = floor()
            to_fetch = {name: (offset, page) for name, (bound, offset, page) in more.items() if bound >= bar}
        return sorted(scored.values())

    def _score_rows(self, name, seg, live, phrases, global_idfs, avgdl, scored) -> None:
        """Global scores of live rows of one segment, from each phrase's frequency in them."""
        ids_lengths = seg.ids_and_lengths(live)
        per_phrase = [seg.phrase_freqs(p, live) for p in phrases]
        for rowid in live:
            doc_id, length = ids_lengths[rowid]
            freqs = [found.get(rowid, 0.0) for found in per_phrase]
            score = rank.score(freqs, global_idfs, length, avgdl)
            scored[(name, rowid)] = (-score, doc_id, name, rowid)

    def _newest(self, filters: Filters, limit: int) -> list[tuple[float, str, str, int]]:
        """Filter-only: newest published first, then by id."""
        candidates: list[tuple[float, str, str, int]] = []
        for name, seg in self._segments.items():
            best = self._best_live(name, seg, "", filters, limit)
            ids = seg.ids([rowid for rowid, _ in best])
            candidates.extend((score, ids[rowid], name, rowid) for rowid, score in best)
        candidates.sort()
        return candidates

    def _best_live(self, name: str, seg: Segment, match: str, filters: Filters, limit: int) -> list[tuple[int, float]]:
        dead = self._dead.get(name, ())
        page = max(MIN_PAGE, limit * PAGE_FACTOR)
        live: list[tuple[int, float]] = []
        offset = 0
        while len(live) < limit:
            rows = seg.search(match, filters, page, offset)
            live.extend((rowid, score) for rowid, score in rows if rowid not in dead)
            if len(rows) < page:
                break
            offset += page
            page *= 2
        return live[:limit]

    def live_documents(self):
        """(segment, Row) of every live document, for export."""
        self.refresh()
        for name, seg in self._segments.items():
            dead = self._dead.get(name, set())
            for rowid, row in seg.rows_with_ids():
                if rowid not in dead:
                    yield name, row


class QueryError(ValueError):
    """The query or a filter cannot mean anything: a usage error, not 'no hits'."""


_LANGUAGE = re.compile(r"[a-z]{2,3}")


def _day_bound(value: str | None, what: str) -> str | None:
    if not value:
        return None
    day = day_of(value)
    try:
        if day is None:
            raise ValueError
        dt.date.fromisoformat(day)
    except ValueError:
        raise QueryError(f"{what} wants a date as YYYY-MM-DD, got {value!r}") from None
    return day


def _checked_filters(topic: str | None, language: str | None, since: str | None, until: str | None) -> Filters:
    if topic is not None and topic not in TOPIC_LABELS:
        raise QueryError(f"unknown topic {topic!r}: one of {', '.join(TOPIC_LABELS)}")
    if language is not None and not _LANGUAGE.fullmatch(language):
        raise QueryError(f"language wants an ISO 639-1 code such as en, got {language!r}")
    filters = Filters(topic=topic, language=language, since=_day_bound(since, "since"), until=_day_bound(until, "until"))
    if filters.since and filters.until and filters.since > filters.until:
        raise QueryError(f"since ({filters.since}) is after until ({filters.until})")
    return filters
