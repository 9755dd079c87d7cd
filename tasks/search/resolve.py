"""Which copy of a document is live when several segments hold it: the newest wins.

A document (stable id) can sit in several segments: it was reprocessed, or two indexers raced
and both indexed it. The copy with the greatest (version, read_at, etag) is the live one;
version is when the index document was written, read_at when the indexer read it (a later read
never sees an older document). A tombstone (id → time of deletion) hides every copy whose
version is not newer than the deletion, so an input deleted and later uploaded again comes back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from .segment import Row

VersionRow = tuple[int, str, float, float, "str | None"]  # rowid, id, version, read_at, etag


def dead_rows(
    segments: Mapping[str, Iterable[VersionRow]], tombstones: Mapping[str, float] | None = None
) -> dict[str, set[int]]:
    """For each segment name, the rowids that are not the live copy of their document."""
    tombstones = tombstones or {}
    best: dict[str, tuple[tuple, str, int]] = {}
    dead: dict[str, set[int]] = {name: set() for name in segments}
    for name, rows in segments.items():
        for rowid, doc_id, version, read_at, etag in rows:
            key = (version, read_at, etag or "", name, rowid)
            deleted_at = tombstones.get(doc_id)
            if deleted_at is not None and version <= deleted_at:
                dead[name].add(rowid)
                continue
            current = best.get(doc_id)
            if current is None:
                best[doc_id] = (key, name, rowid)
            elif key > current[0]:
                dead[current[1]].add(current[2])
                best[doc_id] = (key, name, rowid)
            else:
                dead[name].add(rowid)
    return dead


def newest_rows(rows: Iterable[Row], tombstones: Mapping[str, float] | None = None) -> Iterator[Row]:
    """The live copy of each document among rows, in first-seen order of the ids."""
    tombstones = tombstones or {}
    best: dict[str, Row] = {}
    for row in rows:
        deleted_at = tombstones.get(row.id)
        if deleted_at is not None and row.version <= deleted_at:
            continue
        current = best.get(row.id)
        if current is None or row.rank_key > current.rank_key:
            best[row.id] = row
    return iter(best.values())
