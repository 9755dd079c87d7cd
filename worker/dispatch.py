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
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Protocol

from .events.model import CREATED, REMOVED, ObjectEvent
from .layout import Layout
from .logging import get_logger
from .state import dispatch_state, is_current
from .storage import NotFound, Store

log = get_logger("copydesk.dispatch")

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
    ) -> None:
        self.store = store
        self.layout = layout
        self.queue = queue
        self.claims = claims
        self.pipeline_version = pipeline_version
        self.claim_ttl = claim_ttl

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
        try:
            self.queue.enqueue(event, force=force, prior=prior)
        except BaseException:
            self.claims.release(token)  # let the next event or sweep try again
            raise
        bound.info("article_enqueued", force=force)
        return ENQUEUED


def _with_info(event: ObjectEvent, info) -> ObjectEvent:
    return ObjectEvent(event.bucket, event.key, info.etag, info.size, info.version_id, event.kind, event.origin)
