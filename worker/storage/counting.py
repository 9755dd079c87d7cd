"""A store wrapper that counts requests by verb, as an S3 endpoint would bill them.

Used by the tests that assert requests per article and by bench/e2e.py. A `list` counts one
LIST per 1,000 keys returned (S3's page size; at least one), a `delete_many` one DELETE per
1,000 keys (S3's DeleteObjects), everything else one request per call.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from .base import ObjectInfo, PendingWrites, Store

LIST_PAGE = 1000
T = TypeVar("T")


class CountingStore(Store):
    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.bucket = inner.bucket
        self.url = inner.url
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, verb: str, n: int = 1) -> None:
        with self._lock:
            self.counts[verb] += n

    def reset(self) -> Counter[str]:
        with self._lock:
            counts, self.counts = self.counts, Counter()
        return counts

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def get(self, key, *, version_id=None, max_bytes=None):
        self._count("GET")
        return self.inner.get(key, version_id=version_id, max_bytes=max_bytes)

    def head(self, key):
        self._count("HEAD")
        return self.inner.head(key)

    def exists(self, key: str) -> bool:
        self._count("HEAD")
        return self.inner.exists(key)

    def put(self, key, data, *, content_type="application/octet-stream", if_match=None, if_none_match=False, durable=True):
        self._count("PUT")
        return self.inner.put(
            key, data, content_type=content_type, if_match=if_match, if_none_match=if_none_match, durable=durable
        )

    def list(self, prefix: str = "", start_after: str | None = None) -> Iterator[ObjectInfo]:
        return self._paged(lambda: self.inner.list(prefix, start_after=start_after))

    def list_keys(self, prefix: str = "", start_after: str | None = None) -> Iterator[str]:
        return self._paged(lambda: self.inner.list_keys(prefix, start_after=start_after))

    def _paged(self, listing: Callable[[], Iterable[T]]) -> Iterator[T]:
        """One LIST per LIST_PAGE items, counted as they are read (the listing starts, as the
        inner store's does, at the first item asked for)."""
        self._count("LIST")
        for seen, item in enumerate(listing(), start=1):
            if seen > LIST_PAGE and seen % LIST_PAGE == 1:
                self._count("LIST")
            yield item

    def delete(self, key):
        self._count("DELETE")
        self.inner.delete(key)

    def delete_many(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        # Counted as S3's DeleteObjects bills it, whatever the backend does underneath.
        self._count("DELETE", (len(keys) + LIST_PAGE - 1) // LIST_PAGE)
        self.inner.delete_many(keys)

    def close(self) -> None:
        self.inner.close()

    # Group commit: the writes were counted when put; committing them is no request.
    def begin_batch(self) -> None:
        self.inner.begin_batch()

    def commit_batch(self) -> int:
        return self.inner.commit_batch()

    def take_batch(self) -> PendingWrites:
        return self.inner.take_batch()

    def commit_writes(self, writes: PendingWrites) -> int:
        return self.inner.commit_writes(writes)

    def end_batch(self) -> None:
        self.inner.end_batch()

    def defers_durable_writes(self) -> bool:
        return self.inner.defers_durable_writes()

    def __getattr__(self, name: str):
        # Backend-specific helpers (the folder store's root, temporary-file cleanup): not requests.
        return getattr(self.inner, name)
