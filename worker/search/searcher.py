"""Searching the index: the manifest's segments from the local cache, newest copy of each document.

A Searcher keeps the segments of the manifest it last saw open. Before a search it checks the
manifest's etag (a HEAD, at most every `recheck` seconds); when it changed it downloads new
segments into the cache, closes retired ones and works out again which rows are superseded
by newer copies or tombstoned. Each segment is asked for its best rows (BM25, title weighted),
superseded rows are skipped, and the pages are merged by score.

Scores are BM25 with each segment's own term statistics, as Elasticsearch's default
query_then_fetch uses each shard's: background merges keep the number of segments small and
their statistics close to the whole index's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tasks.search import Filters, Segment, dead_rows, parse_query
from tasks.search.segment import day_of

from ..settings import Settings
from ..storage import NotFound, Store
from .catalog import Catalog, Manifest

#: Rows asked of a segment per round, as a multiple of the hits wanted.
PAGE_FACTOR = 2
MIN_PAGE = 20


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
        for attempt in range(5):
            manifest = self.catalog.read()
            try:
                self._load(manifest)
                return True
            except NotFound:
                # A segment was retired and collected since we read the manifest: read again.
                time.sleep(0.05 * (attempt + 1))
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
        self.refresh()
        parsed = parse_query(query)
        if not parsed.match and parsed.terms:
            return []  # only negated words: nothing to rank
        inline = parsed.filters
        filters = Filters(
            topic=topic or inline.get("topic"),
            language=language or inline.get("language"),
            since=_day_bound(since or inline.get("since"), "since"),
            until=_day_bound(until or inline.get("until"), "until"),
        )
        if not parsed.match and filters == Filters():
            return []
        candidates: list[tuple[float, str, int]] = []
        for name, seg in self._segments.items():
            candidates.extend((score, name, rowid) for rowid, score in self._best_live(name, seg, parsed.match, filters, limit))
        candidates.sort()
        hits = []
        for score, name, rowid in candidates[:limit]:
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


def _day_bound(value: str | None, what: str) -> str | None:
    if not value:
        return None
    day = day_of(value)
    if day is None:
        raise ValueError(f"--{what} wants a date as YYYY-MM-DD, got {value!r}")
    return day
