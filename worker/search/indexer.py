"""Indexing: pending index documents → one new segment per batch; merges; removals; reindex.

The flow, with no lock anywhere:
1. The article job calls `document_written` with its index document, which writes a pending
   marker `index/pending/~SS/R.json~<time>-<random>` whose body IS the document (one PUT: the
   document has no object of its own since issue 15; a new marker per write, so a rewrite of
   the document is never folded into an older marker) and asks for a batch run.
2. `index_pending` (the Celery task `copydesk.index_batch`, on its own queue `copydesk.index`)
   lists the pending markers ONCE (one LIST per 1,000 markers), reads the newest marker of each
   document (from the DocumentCache when it holds it, else one GET of the marker), builds ONE
   segment, uploads it and publishes it in the manifest, then deletes exactly the markers it
   consumed (DeleteObjects: one request per 1,000). A marker is deleted only after the segment
   holding its document is published, so a document is never lost between its write and its
   indexing. Markers of the earlier layout (a body `{"doc_key": ...}` naming an object
   `index/docs/R.json`) are still read, by one GET of that object.
   Concurrent runs are kept apart in one of two ways:
   - `exclusive=True`: the caller guarantees no other run (the Celery task holds a Redis lease
     for the bucket's index; the embedded runner indexes from one thread): no store claims.
   - otherwise, runs claim whole shards of markers (markers live in PENDING_SHARDS folders by a
     hash of their document key), only the shards the listing found markers in. A claim is an
     object `index/claims/<shard>.json` created with If-None-Match and holding a lease time:
     concurrent runs take disjoint shards, so they read disjoint documents. A run that dies
     keeps its shards claimed until the lease expires (LEASE_SECONDS); then any run takes them
     over by a conditional write on the claim's etag, and since markers are deleted only after
     the publish, nothing is lost. If a lease expires under a slow run, two runs may index the
     same documents: the copies carry the same version and search shows one (see
     tasks/search/resolve.py).
3. `merge_segments` folds small segments into one, dropping superseded copies and tombstoned
   documents, and publishes the swap only if all its inputs are still in the manifest.

Asking for a batch is debounced in Redis (`BatchRequests`), not in the store: a counter of
documents written since the last run started; the first one schedules a run BATCH_AGE seconds
later, every BATCH_COUNT-th one schedules a run now. The count and the document's cache entry
go to Redis in one round trip, after the marker is written (a batch that lists the marker
before its cache entry lands GETs the marker). A run resets the counter before listing,
so a document written after that point asks again; a "later" run that comes due after another
run started is skipped (it carries the generation it was asked in). Beat's safety net runs a batch every minute
in case a request was lost with a worker.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from itertools import islice
from typing import Any, Protocol
from collections.abc import Callable, Iterable, Iterator

from tasks.search import Row, Segment, SegmentWriter, dead_rows, newest_rows
from tasks.stages.index import document_id

from ..logging import get_logger
from ..settings import Settings
from ..storage import NotFound, PreconditionFailed, Store
from ..storage.local import LocalStore
from .catalog import Catalog, Manifest, new_segment_name

log = get_logger("copydesk.search")

MARKER_SEPARATOR = "~"
#: Markers are spread over this many folders, each claimed by one indexing run at a time.
PENDING_SHARDS = 16
#: Folder names of the shards: '~' cannot start a relative document path of our layout.
SHARD_MARK = "~"
#: How long a claim holds a shard; a run normally takes a few seconds.
LEASE_SECONDS = 120.0
#: A batch is asked for BATCH_AGE seconds after the first pending document, or at once when
#: BATCH_COUNT documents are pending, whichever comes first. Each run costs a fixed ~30 ms of
#: the index worker's CPU (task, lease, segment, manifest) besides ~0.25 ms per document: at
#: 2 s, half-capacity runs of ~20 documents made the index worker 15-25% of the article pool's
#: CPU (issue 15 asks for <= 10%); at 10 s runs are ~5x fewer. Documents become searchable
#: within ~10 s of their record at low rates, at once in runs of 200 above 20 articles/s.
BATCH_AGE = 10.0
BATCH_COUNT = 200
#: Threads that read documents / delete markers: object stores answer in parallel.
IO_THREADS = 16
#: A merge starts once this many segments are below MERGE_SMALL_DOCS documents...
MERGE_FACTOR = 8
MERGE_SMALL_DOCS = 50_000
#: ...and folds at most this many documents into one segment.
MERGE_MAX_DOCS = 200_000


class IndexPrefixed(Protocol):
    """What the marker functions need of the settings (Settings and Layout both have it)."""

    @property
    def index_prefix(self) -> str: ...


def _prefixes(settings: IndexPrefixed) -> tuple[str, str]:
    """The documents' logical folder (`index/docs/`: names only, no objects since issue 15,
    except in buckets written before) and the pending markers' folder."""
    p = settings.index_prefix
    return f"{p}docs/", f"{p}pending/"


# -- pending markers ------------------------------------------------------------------------
def shard_of(doc_key: str) -> int:
    return int(hashlib.sha1(doc_key.encode()).hexdigest()[:8], 16) % PENDING_SHARDS


def shard_prefix(settings: IndexPrefixed, shard: int) -> str:
    _, pending_prefix = _prefixes(settings)
    return f"{pending_prefix}{SHARD_MARK}{shard:02d}/"


def _marker_prefix(settings: IndexPrefixed, doc_key: str) -> str:
    """Every marker of doc_key starts with this (the key, then the separator)."""
    docs_prefix, _ = _prefixes(settings)
    relative = doc_key[len(docs_prefix):] if doc_key.startswith(docs_prefix) else "@" + doc_key
    return f"{shard_prefix(settings, shard_of(doc_key))}{relative}{MARKER_SEPARATOR}"


def marker_key(settings: IndexPrefixed, doc_key: str) -> str:
    return f"{_marker_prefix(settings, doc_key)}{time.time_ns():020d}-{random.getrandbits(32):08x}"


def doc_key_of_marker(settings: IndexPrefixed, key: str) -> str:
    docs_prefix, pending_prefix = _prefixes(settings)
    relative = key[len(pending_prefix):].rsplit(MARKER_SEPARATOR, 1)[0]
    if relative.startswith(SHARD_MARK):
        relative = relative.split("/", 1)[1]
    return relative[1:] if relative.startswith("@") else docs_prefix + relative


# -- shard claims ---------------------------------------------------------------------------
def claim_key(settings: Settings, shard: int) -> str:
    return f"{settings.index_prefix}claims/{shard:02d}.json"


def claim_shard(store: Store, settings: Settings, shard: int, owner: str, lease: float = LEASE_SECONDS) -> str | None:
    """Claim a shard for `lease` seconds; the claim's etag, or None when another run holds it."""
    key = claim_key(settings, shard)
    body = json.dumps({"owner": owner, "expires": time.time() + lease}).encode()
    try:
        return store.put(key, body, content_type="application/json", if_none_match=True).etag
    except PreconditionFailed:
        pass
    try:
        held = store.get(key)
        expires = json.loads(held.data).get("expires", 0)
    except NotFound:
        return None  # released meanwhile: the next run takes it
    except ValueError:
        expires = 0
    if time.time() < expires:
        return None
    try:  # an expired lease: its holder died or stalled; take it over, once
        return store.put(key, body, content_type="application/json", if_match=held.info.etag).etag
    except PreconditionFailed:
        return None


def release_shard(store: Store, settings: Settings, shard: int, etag: str) -> None:
    """Delete our claim, unless its lease expired and another run took the shard over."""
    key = claim_key(settings, shard)
    try:
        if store.head(key).etag == etag:
            store.delete(key)
    except NotFound:
        pass


def document_written(
    store: Store,
    settings: IndexPrefixed,
    doc_key: str,
    document: bytes,
    announce: Callable[[str, bytes], Any] | None = None,
) -> str:
    """Write the index document as a new pending marker (one PUT, the document's only write),
    then `announce(marker, document)`: the caller's cache entry and debounced batch request
    (BatchRequests.document_written for Celery, DocumentCache.put in the embedded runner).
    Returns the marker's key."""
    marker = marker_key(settings, doc_key)
    # Derived and rebuildable (`copydesk reindex`): not fsync'd.
    store.put(marker, document, content_type="application/json", durable=False)
    if announce is not None:
        announce(marker, document)
    return marker


class DocumentCache:
    """Index documents as they were written, by pending marker key: what a batch reads instead of
    GETting each marker (issue 15: one request per article less). Only an optimisation: a
    marker whose document is not here (evicted, expired, another process's) is read from the
    store. This one lives in the process (the embedded runner); RedisDocumentCache is
    the fleet's."""

    def __init__(self, limit: int = 5000) -> None:
        self._docs: dict[str, bytes] = {}
        self._limit = limit
        self._lock = threading.Lock()
        #: When set, documents go there instead (a `copydesk run` pool's child forwards them
        #: to the parent, which indexes).
        self.sink: Callable[[str, bytes], Any] | None = None

    def put(self, marker: str, document: bytes) -> None:
        if self.sink is not None:
            self.sink(marker, document)
            return
        with self._lock:
            if len(self._docs) < self._limit:
                self._docs[marker] = document

    def get_many(self, markers: list[str]) -> dict[str, bytes]:
        with self._lock:
            return {m: self._docs[m] for m in markers if m in self._docs}

    def held(self) -> int:
        """Documents held (written and not yet indexed, in the embedded runner)."""
        return len(self._docs)

    def discard(self, markers: Iterable[str]) -> None:
        with self._lock:
            for m in markers:
                self._docs.pop(m, None)


class RedisDocumentCache(DocumentCache):
    """The cache in Redis, one key per marker with a TTL (a batch normally runs within
    BATCH_AGE seconds; under a backlog entries expire and the batch GETs the documents)."""

    PREFIX = "copydesk:index:doc:"
    TTL = 60

    def __init__(self, client, store_url: str) -> None:
        self._redis = client
        self._prefix = self.key_of(store_url, "")

    @classmethod
    def key_of(cls, store_url: str, marker: str) -> str:
        """The Redis key of a marker's document (BatchRequests.document_written writes entries too)."""
        return f"{cls.PREFIX}{store_url}:{marker}"

    def put(self, marker: str, document: bytes) -> None:
        self._redis.set(self._prefix + marker, document, ex=self.TTL)

    def get_many(self, markers: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for chunk in _chunks(markers, 500):
            values = self._redis.mget([self._prefix + m for m in chunk])
            found.update({m: v for m, v in zip(chunk, values, strict=True) if v is not None})
        return found

    def discard(self, markers: Iterable[str]) -> None:
        for chunk in _chunks(markers, 500):
            self._redis.delete(*(self._prefix + m for m in chunk))


#: BatchRequests' script object per Redis client (a BatchRequests is made per article).
_SCRIPTS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


class BatchRequests:
    """The Redis debounce of batch runs for one bucket's index, sized by count and age.

    `document_written` returns "later" for the first document since the last run started (the
    caller schedules a run BATCH_AGE seconds later), "now" for every BATCH_COUNT-th (run at
    once), None otherwise. `run_started` resets the count; a run calls it before it lists.
    """

    PREFIX = "copydesk:index:pending:"

    def __init__(self, client, store_url: str, count: int = BATCH_COUNT) -> None:
        self._redis = client
        self.store_url = store_url
        self.key = self.PREFIX + store_url
        self.count = count
        self.generation = 0

    #: One command instead of MULTI/SET/INCR/GET/EXEC (the same atomicity, a fifth of the
    #: client's work; issue 15): the cache entries (when given), the count, the generation.
    #: KEYS: count, generation, then one cache key per document; ARGV: TTL, n, the documents.
    _WRITTEN_SCRIPT = """
for i = 3, #KEYS do redis.call('SET', KEYS[i], ARGV[i], 'EX', ARGV[1]) end
return {redis.call('INCRBY', KEYS[1], ARGV[2]), redis.call('GET', KEYS[2])}
"""

    def document_written(self, marker: str | None = None, document: bytes | None = None) -> str | None:
        """Count a document written; with `marker` and `document`, also put it in the
        RedisDocumentCache of the same store, in the same round trip."""
        return self.documents_written([(marker, document)] if marker is not None and document else [], count=1)

    def documents_written(self, documents: list[tuple[str, bytes]], count: int | None = None) -> str | None:
        """Count `count` documents written (default: as many as given) and put the given ones
        (marker, document) in the RedisDocumentCache, in one round trip: "later" when they are
        the first since the last run started, "now" when they reach a multiple of BATCH_COUNT,
        else None."""
        n = len(documents) if count is None else count
        if n <= 0:
            return None
        script = _SCRIPTS.get(self._redis)
        if script is None:
            script = _SCRIPTS[self._redis] = self._redis.register_script(self._WRITTEN_SCRIPT)
        total, generation = script(
            keys=[self.key, self.key + ":generation", *(RedisDocumentCache.key_of(self.store_url, m) for m, _ in documents)],
            args=[RedisDocumentCache.TTL, n, *(d for _, d in documents)],
        )
        #: The run generation when these documents asked (see `superseded`).
        self.generation = int(generation or 0)
        total = int(total)
        if total == n:
            return "later"
        if total // self.count > (total - n) // self.count:
            return "now"
        return None

    def run_started(self) -> int:
        """Reset the count and start a new generation; returns how many documents had asked
        since the last reset."""
        pipe = self._redis.pipeline()
        pipe.getdel(self.key)
        pipe.incr(self.key + ":generation")
        count, _ = pipe.execute()
        return int(count or 0)

    def superseded(self, generation: int) -> bool:
        """A run asked for "later" in `generation` need not run when another run started since:
        that run listed every marker written before it, and documents written after it asked
        for their own run (issue 15: at 30 articles/s, half the runs found next to nothing)."""
        return int(self._redis.get(self.key + ":generation") or 0) != generation

    def waiting(self) -> int:
        return int(self._redis.get(self.key) or 0)

    def missed(self) -> None:
        """A run found another holding the lease: the holder asks again when done."""
        self._redis.set(self.key + ":missed", "1", ex=int(LEASE_SECONDS))

    def take_missed(self) -> bool:
        return bool(self._redis.getdel(self.key + ":missed"))


def pending_count(store: Store, settings: Settings) -> int:
    _, pending_prefix = _prefixes(settings)
    return sum(1 for _ in store.list_keys(pending_prefix))


# -- batches --------------------------------------------------------------------------------
def _version_of(doc: dict[str, Any], last_modified: float | None, read_at: float) -> float:
    """When this version of the document was written: processed_at if the job put it there,
    else the store's modification time of the document object."""
    stamp = doc.get("processed_at")
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return last_modified if last_modified is not None else read_at


def read_document(store: Store, doc_key: str) -> Row | None:
    """An index document object of the earlier layout (`index/docs/R.json`, named by a legacy
    marker), as it is now, with its version; None when it was deleted."""
    try:
        obj = store.get(doc_key)
    except NotFound:
        return None
    read_at = time.time()
    doc = json.loads(obj.data)
    if not isinstance(doc, dict) or not doc.get("id"):
        log.warning("index_document_invalid", doc_key=doc_key)
        return None
    return Row(doc["id"], _version_of(doc, obj.info.last_modified, read_at), read_at, doc)


def read_marker(store: Store, doc_key: str, marker: str) -> Row | None:
    """The document a pending marker carries (one GET; a marker of the earlier layout names
    the document's object instead: one more); None when the marker is gone (consumed by a
    reindex meanwhile) or holds no document."""
    try:
        obj = store.get(marker)
    except NotFound:
        return None
    row = _row_of(doc_key, obj.data, obj.info.last_modified)
    if row is None:
        body = _loads(obj.data)
        if isinstance(body, dict) and isinstance(body.get("doc_key"), str):
            return read_document(store, body["doc_key"])
        log.warning("index_document_invalid", doc_key=doc_key, marker=marker)
    return row


def _io_threads(store: Store) -> int:
    """Threads for many small requests: a folder store answers at syscall speed, where threads
    only fight over the GIL (measured: sequential reads are ~2x faster there)."""
    return 1 if isinstance(store, LocalStore) else IO_THREADS


def _map_io(store: Store, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    threads = _io_threads(store)
    if threads == 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, items))


def _loads(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _row_of(doc_key: str, data: bytes, last_modified: float | None = None) -> Row | None:
    """The Row of a document as a marker carries it; None when data is no index document."""
    read_at = time.time()
    doc = _loads(data)
    if not isinstance(doc, dict) or not doc.get("id"):
        return None
    return Row(doc["id"], _version_of(doc, last_modified, read_at), read_at, doc)


def _read_pending(store: Store, by_doc: dict[str, list[str]], cache: DocumentCache | None) -> list[Row]:
    """The documents the markers carry: the newest marker of each document (markers of one
    document sort by time), from the cache when it holds it, else one GET of the marker."""
    newest = {doc_key: max(markers) for doc_key, markers in by_doc.items()}
    cached = cache.get_many(list(newest.values())) if cache is not None else {}
    rows: list[Row] = []
    missing: list[tuple[str, str]] = []
    for doc_key, marker in newest.items():
        row = _row_of(doc_key, cached[marker]) if marker in cached else None
        if row is not None:
            rows.append(row)
        else:
            missing.append((doc_key, marker))
    read = _map_io(store, lambda pair: read_marker(store, *pair), missing)
    return rows + [row for row in read if row is not None]


def _delete_many(store: Store, keys: Iterable[str]) -> None:
    store.delete_many(list(keys))


def build_and_publish(catalog: Catalog, rows: list[Row], what: str = "segment") -> dict[str, Any] | None:
    """Write rows into one new segment, upload it and add it to the manifest."""
    if not rows:
        return None
    name = new_segment_name()
    path = catalog.scratch_dir() / f"{name}.sqlite"
    writer = SegmentWriter(path)
    for row in rows:
        writer.add_row(row)
    # No FTS5 'optimize' here: batches are small and short-lived; the merge writes optimized segments.
    docs = writer.finish(optimize=False)
    entry = catalog.upload(name, path, docs)

    def add(manifest: Manifest) -> Manifest:
        manifest.segments.append(entry)
        return manifest

    catalog.publish(add, lambda m: name in m.segment_names, what=f"{what} {name} ({docs} docs)")
    return entry


def index_pending(
    store: Store,
    settings: Settings,
    max_docs: int = 1000,
    catalog: Catalog | None = None,
    exclusive: bool = False,
    cache: DocumentCache | None = None,
    cached_only: bool = False,
) -> int:
    """Fold up to max_docs pending documents into one new segment.

    With `cached_only`, only documents whose every marker the cache holds are taken (the
    embedded runner's batches while its pool still works: a child sends its documents with
    its answers, so a marker it wrote a moment ago is left for a later batch instead of GET).

    One listing of the pending markers. With `exclusive` (the caller guarantees that no other
    run is active) no shard is claimed; otherwise only the shards this listing found markers in
    are claimed, and markers of shards claimed by another run are left to it.
    Returns how many documents were indexed (0: no marker, or every shard with markers is
    claimed by another run).
    """
    catalog = catalog or Catalog(store, settings)
    _, pending_prefix = _prefixes(settings)
    claimed: dict[int, str] = {}
    by_doc: dict[str, list[str]] = {}
    rows: list[Row] = []

    def take(markers: Iterable[str]) -> None:
        for marker in markers:
            doc_key = doc_key_of_marker(settings, marker)
            if doc_key not in by_doc and len(by_doc) >= max_docs:
                continue
            by_doc.setdefault(doc_key, []).append(marker)

    try:
        if exclusive:
            take(islice(store.list_keys(pending_prefix), max_docs * 4))
        else:
            # One listing says which shards have markers; claim those (in random order, so
            # concurrent runs start apart) and list each claimed shard again after claiming
            # it: no other run consumes those markers meanwhile.
            owner = uuid.uuid4().hex
            shards = sorted({_shard_of_marker(settings, key) for key in islice(store.list_keys(pending_prefix), max_docs * 4)})
            random.shuffle(shards)
            for shard in shards:
                if len(by_doc) >= max_docs:
                    break
                etag = claim_shard(store, settings, shard, owner)
                if etag is None:
                    continue
                claimed[shard] = etag
                take(islice(store.list_keys(shard_prefix(settings, shard)), (max_docs - len(by_doc)) * 4))
        if cached_only and cache is not None and by_doc:
            held = cache.get_many([m for markers in by_doc.values() for m in markers])
            by_doc = {doc: markers for doc, markers in by_doc.items() if all(m in held for m in markers)}
        if not by_doc:
            return 0
        rows = _read_pending(store, by_doc, cache)
        build_and_publish(catalog, rows, what="batch")
        consumed = [m for markers in by_doc.values() for m in markers]
        _delete_many(store, consumed)
        if cache is not None:
            cache.discard(consumed)
    finally:
        for shard, etag in claimed.items():
            release_shard(store, settings, shard, etag)
    log.info("index_batch", docs=len(rows), shards=len(claimed), exclusive=exclusive)
    return len(rows)


def _shard_of_marker(settings: Settings, marker: str) -> int:
    """The shard folder a marker lives in (its `~SS/` segment)."""
    _, pending_prefix = _prefixes(settings)
    rest = marker[len(pending_prefix):]
    if rest.startswith(SHARD_MARK):
        try:
            return int(rest[len(SHARD_MARK):].split("/", 1)[0])
        except ValueError:
            pass
    return shard_of(doc_key_of_marker(settings, marker))


def index_all_pending(store: Store, settings: Settings, max_docs: int = 1000, wait: float = LEASE_SECONDS) -> int:
    """Run batches until no marker is left (the embedded runner and tests).

    Shards claimed by another run (or by a dead one, until its lease expires) are waited for,
    up to `wait` seconds without progress.
    """
    catalog = Catalog(store, settings)
    _, pending_prefix = _prefixes(settings)
    total = 0
    idle_since = time.monotonic()
    while next(iter(store.list_keys(pending_prefix)), None) is not None:
        done = index_pending(store, settings, max_docs, catalog=catalog)
        total += done
        if done:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > wait:
            return total
        else:
            time.sleep(0.05)
    return total


# -- merges ---------------------------------------------------------------------------------
def merge_candidates(manifest: Manifest, force: bool) -> list[dict[str, Any]]:
    segments = sorted(manifest.segments, key=lambda s: s.get("docs", 0))
    if force:
        return segments if len(segments) > 1 or (segments and manifest.tombstones) else []
    small = [s for s in segments if s.get("docs", 0) < MERGE_SMALL_DOCS]
    if len(small) < MERGE_FACTOR:
        return []
    chosen: list[dict[str, Any]] = []
    total = 0
    for entry in small:
        if chosen and total + entry.get("docs", 0) > MERGE_MAX_DOCS:
            break
        chosen.append(entry)
        total += entry.get("docs", 0)
    return chosen if len(chosen) > 1 else []


def merge_segments(store: Store, settings: Settings, force: bool = False, catalog: Catalog | None = None) -> int:
    """Merge small segments into one (all of them with force); returns how many were merged away."""
    catalog = catalog or Catalog(store, settings)
    manifest = catalog.read()
    _collect_retired(catalog, manifest)
    inputs = merge_candidates(manifest, force)
    if not inputs:
        return 0
    tombstones = dict(manifest.tombstones)
    opened = [Segment(catalog.fetch(entry)) for entry in inputs]
    try:
        rows = list(newest_rows((row for seg in opened for row in seg.rows()), tombstones))
    finally:
        for seg in opened:
            seg.close()
    names = {e["name"] for e in inputs}
    name = new_segment_name()
    entry = None
    if rows:
        path = catalog.scratch_dir() / f"{name}.sqlite"
        docs = SegmentWriter(path)
        for row in rows:
            docs.add_row(row)
        count = docs.finish()
        level = 1 + max(e.get("level", 0) for e in inputs)
        entry = catalog.upload(name, path, count, level=level)
    now = time.time()

    def swap(m: Manifest) -> Manifest | None:
        if not names <= m.segment_names:
            return None  # another merge took some of the inputs
        m.segments = [s for s in m.segments if s["name"] not in names]
        if entry is not None:
            m.segments.append(entry)
        m.retired.extend({"key": e["key"], "name": e["name"], "at": now} for e in inputs)
        return m

    def applied(m: Manifest) -> bool:
        return not (names & m.segment_names) and (entry is None or entry["name"] in m.segment_names)

    result = catalog.publish(swap, applied, what=f"merge of {len(inputs)} segments")
    if result is None:
        if entry is not None:
            store.delete(entry["key"])
        return 0
    log.info("index_merged", segments=len(inputs), docs=len(rows), into=name)
    return len(inputs)


def _collect_retired(catalog: Catalog, manifest: Manifest) -> None:
    """Delete segments retired longer ago than the grace period, and forget them."""
    from .catalog import RETIRE_GRACE

    cutoff = time.time() - RETIRE_GRACE
    old = [r for r in manifest.retired if r["at"] < cutoff]
    if not old:
        return
    old_keys = {r["key"] for r in old}

    def forget(m: Manifest) -> Manifest:
        m.retired = [r for r in m.retired if r["key"] not in old_keys]
        return m

    catalog.publish(forget, lambda m: not any(r["key"] in old_keys for r in m.retired), what="retired cleanup")
    _delete_many(catalog.store, old_keys)


# -- removal --------------------------------------------------------------------------------
def remove_document(store: Store, settings: Settings, input_key: str, catalog: Catalog | None = None) -> None:
    """Take a deleted input out of the index: its pending markers (which carry its document),
    and a tombstone that hides every copy in the segments."""
    from ..layout import Layout

    catalog = catalog or Catalog(store, settings)
    layout = Layout.from_settings(settings)
    doc_key = layout.index_document_key(input_key)
    _delete_many(store, list(store.list_keys(_marker_prefix(settings, doc_key))))
    doc_id = document_id(store.bucket, input_key)
    deleted_at = time.time()

    def tombstone(m: Manifest) -> Manifest:
        m.tombstones[doc_id] = max(deleted_at, m.tombstones.get(doc_id, 0.0))
        return m

    catalog.publish(tombstone, lambda m: m.tombstones.get(doc_id, 0.0) >= deleted_at, what=f"removal of {input_key}")
    log.info("index_document_removed", key=input_key, id=doc_id)


# -- reindex --------------------------------------------------------------------------------
def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def documents_from_records(store: Store, settings: Settings) -> Iterator[Row]:
    """Every index document rebuilt from its record (the records are the source of truth; the
    index documents are derived from them)."""
    from tasks.article import Article, Source
    from tasks.stages.index import BuildIndexDocument

    from ..layout import Layout

    layout = Layout.from_settings(settings)
    stage = BuildIndexDocument()

    def rebuild(record_key: str) -> Row | None:
        try:
            obj = store.get(record_key)
        except NotFound:
            return None
        record = _loads(obj.data)
        if not isinstance(record, dict):
            return None
        src = record.get("source") or {}
        input_key = src.get("key") or layout.input_key_for_record(record_key)
        article = Article(source=Source(src.get("bucket") or store.bucket, input_key, src.get("etag")), raw=b"")
        article.text = record.get("text") or ""
        for name in ("title", "byline", "published", "url", "site_name", "topic_uncertain"):
            setattr(article, name, record.get(name))
        article.language = record.get("language")
        article.topics = record.get("topics") or []
        stage.action(article)
        doc = dict(article.index_document or {})
        for name in ("processed_at", "pipeline_version"):
            if record.get(name):
                doc.setdefault(name, record[name])
        read_at = time.time()
        return Row(doc["id"], _version_of(doc, obj.info.last_modified, read_at), read_at, doc)

    record_keys = (key for key in store.list_keys(settings.processed_prefix) if key.endswith(".json"))
    with ThreadPoolExecutor(IO_THREADS) as pool:
        for row in pool.map(rebuild, record_keys):
            if row is not None:
                yield row


def live_rows(catalog: Catalog, manifest: Manifest) -> Iterator[Row]:
    """The live copy of every document in the manifest's segments (what search sees)."""
    opened = {entry["name"]: Segment(catalog.fetch(entry)) for entry in manifest.segments}
    try:
        dead = dead_rows({name: seg.versions() for name, seg in opened.items()}, manifest.tombstones)
        for name, seg in opened.items():
            gone = dead.get(name) or set()
            for rowid, row in seg.rows_with_ids():
                if rowid not in gone:
                    yield row
    finally:
        for seg in opened.values():
            seg.close()


def _with_pending(rows: Iterable[Row], pending: list[Row]) -> Iterator[Row]:
    """rows, each replaced by a pending copy of the same document when that one is newer, then
    the pending documents rows did not have."""
    newer = {row.id: row for row in newest_rows(pending)}
    for row in rows:
        other = newer.get(row.id)
        if other is not None:
            if other.rank_key >= row.rank_key:
                continue  # yielded below
            del newer[row.id]
        yield row
    yield from newer.values()


def reindex(store: Store, settings: Settings, from_records: bool = False, batch_docs: int = 20_000) -> int:
    """Rebuild the whole index from the live index's documents (or, with from_records, from the
    records) and the pending markers' documents, then swap it in; segments published meanwhile
    by indexers are kept."""
    catalog = Catalog(store, settings)
    _, pending_prefix = _prefixes(settings)
    before = catalog.read()
    old_names = before.segment_names
    by_doc: dict[str, list[str]] = {}
    for marker in store.list_keys(pending_prefix):
        by_doc.setdefault(doc_key_of_marker(settings, marker), []).append(marker)
    markers = [m for ms in by_doc.values() for m in ms]
    pending = _read_pending(store, by_doc, None)
    source = documents_from_records(store, settings) if from_records else live_rows(catalog, before)
    new_entries = []
    total = 0
    for chunk in _chunks(_with_pending(source, pending), batch_docs):
        rows = list(newest_rows(chunk))
        if not rows:
            continue
        name = new_segment_name()
        path = catalog.scratch_dir() / f"{name}.sqlite"
        writer = SegmentWriter(path)
        for row in rows:
            writer.add_row(row)
        new_entries.append(catalog.upload(name, path, writer.finish(), level=1))
        total += len(rows)
    new_names = {e["name"] for e in new_entries}
    now = time.time()

    def replace(m: Manifest) -> Manifest:
        gone = [s for s in m.segments if s["name"] in old_names]
        m.segments = [s for s in m.segments if s["name"] not in old_names] + new_entries
        m.retired.extend({"key": s["key"], "name": s["name"], "at": now} for s in gone)
        return m

    catalog.publish(
        replace, lambda m: new_names <= m.segment_names and not (old_names & m.segment_names), what=f"reindex ({total} docs)"
    )
    _delete_many(store, markers)  # their documents are in the new segments
    log.info("index_rebuilt", docs=total, segments=len(new_entries))
    return total
