"""The dispatcher: every event source goes through the same idempotency check.

An event names (bucket, key, etag). The object is processed once per (key, etag, pipeline
version) however many events name it:
1. events outside the input prefix are ignored (outputs can never trigger themselves);
2. an object whose record (or quarantine record) already has this etag and pipeline version
   is current and skipped;
3. otherwise the dispatcher claims (key, etag, pipeline version) for a while — in Redis with
   SET NX EX for the fleet, in memory for the embedded runner — and only the claimant enqueues,
   so the same object announced by SQS and by the sweep at once is queued once.
`force` skips 2 and 3 (backfill, reprocess by hand).

The state read in 2 is the only one per article: the dispatcher hands it to the task (`prior`),
which does not read it again (issue 15: store requests per article). For an input never seen
it is one HEAD of the lineage log (`state.dispatch_state`); the record (and the quarantine
record) are read only when a log exists.

Batches (issue 15): events submitted inside `with dispatcher.batching():` are queued several
articles to a message (up to `batch_size` ids, COPYDESK_DISPATCH_BATCH, and BATCH_BYTES of
inputs), which the worker runs with one group commit. The open batch is shared by every thread
of the process. A message is sent when it is full, or when a block ends:
- `batching()` (a source with several events at hand: a sweep's page, one SQS poll, `copydesk
  submit`): its events are sent when it ends, with whatever other threads added meanwhile;
- `batching(linger=True)` (a source that gets events one at a time from many clients at once:
  the HTTP listener's requests): the block waits until its events are sent, and sends them
  itself once the oldest article of their batch has waited `batch_seconds`
  (COPYDESK_DISPATCH_BATCH_SECONDS), so concurrent requests share messages under load and a
  lone event waits at most that long.
A block returns only once its events are sent, and raises if their message could not be (the
claims of that message are released, so the next event or sweep tries again). Outside a block
every article is queued at once, one per message, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from .events.model import CREATED, REMOVED, ObjectEvent
from .layout import Layout
from .logging import get_logger
from .state import dispatch_state, is_current
from .storage import NotFound, Store

log = get_logger("copydesk.dispatch")

#: A batch is sent once its inputs add up to this many bytes (when the events give sizes), so a
#: message of large HTML pages is not a long one: its first record would wait for the last
#: page's stages (a text article is a few KB, a page tens to hundreds).
BATCH_BYTES = 256 * 1024

ENQUEUED = "enqueued"
REMOVAL_ENQUEUED = "removal_enqueued"
CURRENT = "current"
CLAIMED = "already_queued"
IGNORED = "ignored"
MISSING = "missing"
FOREIGN = "other_bucket"


class TaskQueue(Protocol):
    def enqueue(self, event: ObjectEvent, *, force: bool = False, prior: str | None = None) -> None:
        """Queue the article job. `prior` is the output state the dispatcher just read
        ("none", "processed", "quarantined"; None: not read), which the job trusts."""

    def enqueue_removal(self, event: ObjectEvent) -> None:
        """An input was deleted: take it out of the search index (its outputs stay)."""


@dataclass(frozen=True)
class Queued:
    """One article for the queue: what `TaskQueue.enqueue` takes, as one value."""

    event: ObjectEvent
    force: bool = False
    prior: str | None = None


class BatchQueue(TaskQueue, Protocol):
    def enqueue_many(self, items: list[Queued]) -> None:
        """Queue these articles as few messages as it can (all or none raise)."""


@dataclass(eq=False)
class _Batch:
    """Articles waiting for one message; `sent` once it was handed to the queue (or failed:
    `error`)."""

    items: list[Queued] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    oldest: float = 0.0
    bytes: int = 0
    sent: bool = False
    error: BaseException | None = None


class Claims(Protocol):
    def claim(self, token: str, ttl: int) -> bool: ...
    def release(self, token: str) -> None: ...


class MemoryClaims:
    """Claims for one process (the embedded runner)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, token: str, ttl: int) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._until.get(token, 0) > now:
                return False
            self._until[token] = now + ttl
            return True

    def release(self, token: str) -> None:
        with self._lock:
            self._until.pop(token, None)


class RedisClaims:
    """Claims shared by every listener, sweeper and worker of the fleet."""

    PREFIX = "copydesk:claim:"

    def __init__(self, client) -> None:
        self._redis = client

    def claim(self, token: str, ttl: int) -> bool:
        return bool(self._redis.set(self.PREFIX + token, "1", nx=True, ex=max(1, ttl)))

    def release(self, token: str) -> None:
        self._redis.delete(self.PREFIX + token)

    def refresh(self, token: str, ttl: int) -> None:
        """Keep a claim while its task waits to retry (set whether or not it lapsed)."""
        self._redis.set(self.PREFIX + token, "1", ex=max(1, ttl))


def claim_token(bucket: str, key: str, etag: str | None, pipeline_version: str) -> str:
    raw = f"{bucket}\x00{key}\x00{etag}\x00{pipeline_version}"
    return hashlib.sha1(raw.encode()).hexdigest()


class Dispatcher:
    def __init__(
        self,
        store: Store,
        layout: Layout,
        queue: TaskQueue,
        claims: Claims,
        pipeline_version: str,
        claim_ttl: int,
        *,
        batch_size: int = 1,
        batch_seconds: float = 0.2,
    ) -> None:
        self.store = store
        self.layout = layout
        self.queue = queue
        self.claims = claims
        self.pipeline_version = pipeline_version
        self.claim_ttl = claim_ttl
        #: Most articles per message inside `batching()` (1: one per message; a queue without
        #: enqueue_many is always sent one at a time), and the longest a lingering block waits.
        self.batch_size = batch_size if hasattr(queue, "enqueue_many") else 1
        self.batch_seconds = batch_seconds
        #: The open batch, shared by every thread; the batches of this thread's open block.
        self._open: _Batch | None = None
        self._changed = threading.Condition()
        self._local = threading.local()

    @contextlib.contextmanager
    def batching(self, *, linger: bool = False) -> Iterator[None]:
        """Queue the articles submitted by this thread inside the block several to a message
        (see the module docstring). Nested blocks belong to the outermost."""
        if self.batch_size <= 1 or getattr(self._local, "batches", None) is not None:
            yield
            return
        mine: list[_Batch] = []
        self._local.batches = mine
        try:
            yield
        finally:
            self._local.batches = None
            self._wait_sent(mine, linger)

    def _add(self, item: Queued, token: str) -> _Batch:
        """Put one article in the open batch; the thread that fills it sends it."""
        with self._changed:
            batch = self._open
            if batch is None:
                batch = self._open = _Batch(oldest=time.monotonic())
            batch.items.append(item)
            batch.tokens.append(token)
            batch.bytes += item.event.size or 0
            full = len(batch.items) >= self.batch_size or batch.bytes >= BATCH_BYTES
            if full:
                self._open = None
        if full:
            self._send(batch)
        return batch

    def _wait_sent(self, batches: list[_Batch], linger: bool) -> None:
        """Until every batch in `batches` is sent: send the open one now (or, lingering, once its
        oldest article has waited batch_seconds); wait for those another thread is sending."""
        while True:
            with self._changed:
                waiting = [b for b in batches if not b.sent]
                if not waiting:
                    break
                take = None
                if self._open is not None and self._open in waiting:
                    due = self._open.oldest + self.batch_seconds - time.monotonic()
                    if not linger or due <= 0:
                        take, self._open = self._open, None
                    else:
                        self._changed.wait(due)
                else:
                    self._changed.wait(1.0)  # being sent by another thread: notified when done
            if take is not None:
                self._send(take)
        failed = next((b.error for b in batches if b.error is not None), None)
        if failed is not None:
            raise failed

    def _send(self, batch: _Batch) -> None:
        items = batch.items
        try:
            # A batch queue sends a lone article as the single-article message itself.
            self.queue.enqueue_many(items)  # type: ignore[attr-defined]
        except BaseException as exc:
            log.error("batch_enqueue_failed", articles=len(items), error=type(exc).__name__, message=str(exc)[:300])
            for token in batch.tokens:
                self.claims.release(token)  # let the next event or sweep try again
            batch.error = exc
        finally:
            with self._changed:
                batch.sent = True
                self._changed.notify_all()

    def submit(self, event: ObjectEvent, *, force: bool = False) -> str:
        bound = log.bind(key=event.key, etag=event.etag, origin=event.origin)
        if event.bucket and event.bucket != self.store.bucket:
            # Only the configured bucket is read or written (issue 11.3).
            bound.warning("event_other_bucket_refused", bucket=event.bucket, store_bucket=self.store.bucket)
            return FOREIGN
        if event.kind == REMOVED and self.layout.is_input(event.key):
            self.queue.enqueue_removal(event)
            bound.info("article_removal_enqueued")
            return REMOVAL_ENQUEUED
        if event.kind != CREATED or not self.layout.is_input(event.key):
            bound.debug("event_ignored", kind=event.kind)
            return IGNORED
        problem = self.layout.key_problem(event.key)
        if event.key.endswith("/") and event.size is None:
            try:
                event = _with_info(event, self.store.head(event.key))
            except NotFound:
                bound.info("event_object_missing")
                return MISSING
        if event.key.endswith("/") and event.size == 0:
            bound.debug("event_ignored", reason="folder_marker")
            return IGNORED
        if event.etag is None and problem is None:
            try:
                info = self.store.head(event.key)
            except NotFound:
                bound.info("event_object_missing")
                return MISSING
            event = _with_info(event, info)
            bound = bound.bind(etag=event.etag)
        token = claim_token(event.bucket, event.key, event.etag, self.pipeline_version)
        prior = None
        if not force:
            state = dispatch_state(self.store, self.layout, event.key)
            if is_current(state, event.etag, self.pipeline_version):
                bound.info("event_already_processed", status=state.status)
                return CURRENT
            if not self.claims.claim(token, self.claim_ttl):
                bound.info("event_already_queued")
                return CLAIMED
            prior = state.status
        mine: list[_Batch] | None = getattr(self._local, "batches", None)
        if mine is not None:
            batch = self._add(Queued(event, force, prior), token)
            if not mine or mine[-1] is not batch:
                mine.append(batch)
            bound.info("article_enqueued", force=force)
            return ENQUEUED
        try:
            self.queue.enqueue(event, force=force, prior=prior)
        except BaseException:
            self.claims.release(token)  # let the next event or sweep try again
            raise
        bound.info("article_enqueued", force=force)
        return ENQUEUED


def _with_info(event: ObjectEvent, info) -> ObjectEvent:
    return ObjectEvent(event.bucket, event.key, info.etag, info.size, info.version_id, event.kind, event.origin)
