"""The reconciling sweep: enqueue every input whose record is missing or stale, and reconcile
deletions.

S3 notifications are at-least-once and can be late or missed; the sweep makes the bucket the
source of truth. It goes through the dispatcher like every other source, so an object that a
notification already queued is not queued twice.

How it reads the bucket (issue 11.6). The input prefix is listed one page (1,000 keys, one
LIST request) at a time; for each page the records that can belong to it are listed too (one
LIST), never fetched; quarantine records are listed once per run when there are at most 1,000
of them (else per page like records): 2 LIST requests per 1,000 inputs plus one per run. An input is current when its record (or
quarantine record) exists and was written no earlier than the input (`LastModified`): then
no request is made for it. The etag and pipeline version inside the record are not read, so
after a change of pipeline version (a deploy) the first pass checks every input through the
dispatcher (one GET of its record), and records the version when the pass completes
(`SweepState.pass_version`); the passes after it read listings only.

- **Deletions.** A record or quarantine record in a page's range whose input is gone (and that
  was written before the page was listed, so an upload racing the listing is never taken for a
  deletion) is deleted, and the input's removal is enqueued (`copydesk.index_remove` takes it
  out of the search index). Its lineage log stays. Outputs of keys quarantined under
  `_bad-keys/` are left alone.
- **A cursor.** With a SweepState (Redis for the Celery deployment) each run starts after the
  last key the previous run finished, and stops at its own time limit; a full pass completes
  on a bucket of any size, over as many runs as it takes.
- **Bad keys.** A key that cannot be dispatched is logged and counted `failed`; the sweep goes
  on. Only a store or broker that does not answer stops it (the next run starts where it was).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Protocol

from ..dispatch import CURRENT, Dispatcher
from ..layout import BAD_KEYS_DIR, Layout
from ..logging import get_logger
from ..processing import is_transient
from ..storage import ObjectInfo, Store
from .model import REMOVED, ObjectEvent

log = get_logger("copydesk.sweep")

FAILED = "failed"
DELETED = "deleted_input_reconciled"
#: Keys per page: one S3 LIST request.
PAGE = 1000
#: A record written less than this many seconds before its page was listed is never taken as
#: orphaned (the input may have been uploaded after the listing); allows for clock skew too.
ORPHAN_GRACE_SECONDS = 120.0


class SweepState(Protocol):
    def cursor(self) -> str | None: ...
    def set_cursor(self, key: str | None) -> None: ...
    def pass_version(self) -> str | None: ...
    def set_pass_version(self, version: str) -> None: ...


class MemorySweepState:
    def __init__(self) -> None:
        self._cursor: str | None = None
        self._version: str | None = None

    def cursor(self) -> str | None:
        return self._cursor

    def set_cursor(self, key: str | None) -> None:
        self._cursor = key

    def pass_version(self) -> str | None:
        return self._version

    def set_pass_version(self, version: str) -> None:
        self._version = version


class RedisSweepState:
    """The cursor and the last complete pass's pipeline version, per store, in Redis."""

    def __init__(self, client, store_url: str) -> None:
        self._redis = client
        self._cursor_key = f"copydesk:sweep:cursor:{store_url}"
        self._version_key = f"copydesk:sweep:pass_version:{store_url}"

    def cursor(self) -> str | None:
        value = self._redis.get(self._cursor_key)
        return value.decode() if value else None

    def set_cursor(self, key: str | None) -> None:
        if key is None:
            self._redis.delete(self._cursor_key)
        else:
            self._redis.set(self._cursor_key, key)

    def pass_version(self) -> str | None:
        value = self._redis.get(self._version_key)
        return value.decode() if value else None

    def set_pass_version(self, version: str) -> None:
        self._redis.set(self._version_key, version)


def sweep(
    store: Store,
    layout: Layout,
    dispatcher: Dispatcher,
    *,
    force: bool = False,
    prefix: str | None = None,
    state: SweepState | None = None,
    time_limit: float | None = None,
) -> dict[str, int]:
    """One run. Without `state`: a whole pass from the first key, every input checked through
    the dispatcher. With it: from the saved cursor until the pass ends or `time_limit` runs out."""
    counts: Counter[str] = Counter()
    started = time.monotonic()
    listing_prefix = prefix or layout.input_prefix
    if force or state is None or prefix:
        with dispatcher.batching():
            for info in store.list(listing_prefix):
                _dispatch(dispatcher, store, layout, info, counts, force)
        result = dict(counts)
        log.info("sweep_finished", complete=True, **result)
        return result

    version = dispatcher.pipeline_version
    listings_trusted = state.pass_version() == version
    cursor = state.cursor()
    complete = False
    # Quarantine records are few: listed once per run when they fit in one page (one LIST),
    # instead of one LIST per page of inputs. One written after this listing only makes its
    # input go through the dispatcher, which reads the state.
    quarantine = _all_outputs_if_few(store, layout.quarantine_prefix)
    while True:
        listed_at = time.time()
        start_after = layout.input_prefix + cursor if cursor is not None else None
        page: list[ObjectInfo] = []
        for info in store.list(layout.input_prefix, start_after=start_after):
            page.append(info)
            if len(page) >= PAGE:
                break
        last = page[-1].key[len(layout.input_prefix):] if page else None
        final = len(page) < PAGE
        # A page's articles go several to a task message, all sent before the cursor moves on.
        with dispatcher.batching():
            _reconcile_page(
                store, layout, dispatcher, page, cursor, None if final else last, listed_at, listings_trusted, counts, quarantine
            )
        if final:
            complete = True
            state.set_cursor(None)
            state.set_pass_version(version)
            break
        cursor = last
        state.set_cursor(cursor)
        if time_limit is not None and time.monotonic() - started >= time_limit:
            break
    result = dict(counts)
    log.info("sweep_finished", complete=complete, cursor=None if complete else cursor, listings_trusted=listings_trusted, **result)
    result["complete"] = int(complete)
    return result


def _dispatch(dispatcher: Dispatcher, store: Store, layout: Layout, info: ObjectInfo, counts: Counter, force: bool) -> None:
    if not layout.is_input(info.key):
        return
    event = ObjectEvent(store.bucket, info.key, info.etag, info.size, info.version_id, origin="sweep")
    try:
        counts[dispatcher.submit(event, force=force)] += 1
    except Exception as exc:
        if is_transient(exc):
            raise
        log.error("sweep_key_failed", key=info.key, error=type(exc).__name__, message=str(exc)[:300])
        counts[FAILED] += 1


def _all_outputs_if_few(store: Store, prefix: str) -> list[ObjectInfo] | None:
    """Every object under prefix when there are at most PAGE of them (one LIST), else None."""
    found: list[ObjectInfo] = []
    for info in store.list(prefix):
        found.append(info)
        if len(found) > PAGE:
            return None
    return found


def _in_range(infos: list[ObjectInfo], prefix: str, suffix: str, low: str | None, high: str | None) -> dict[str, ObjectInfo]:
    """The outputs `prefix + R + suffix` among infos with low < R <= high (high None: no bound)."""
    found: dict[str, ObjectInfo] = {}
    for info in infos:
        if not (info.key.startswith(prefix) and info.key.endswith(suffix)):
            continue
        relative = info.key[len(prefix): -len(suffix)]
        if (low is None or relative > low) and (high is None or relative <= high):
            found[relative] = info
    return found


def _outputs_in_range(store: Store, prefix: str, suffix: str, low: str | None, high: str | None) -> dict[str, ObjectInfo]:
    """Outputs `prefix + R + suffix` for every R with low < R <= high (high None: no bound),
    from one listing: it starts after `prefix + low` (every such key sorts after it) and stops
    after the largest key any R <= high can have (`prefix + p + suffix` over the prefixes p of
    high). Keys of other R in between are dropped."""
    found: dict[str, ObjectInfo] = {}
    ceiling = None
    if high is not None:
        ceiling = max(prefix + high[:i] + suffix for i in range(1, len(high) + 1))
    for info in store.list(prefix, start_after=prefix + low if low else None):
        if ceiling is not None and info.key > ceiling:
            break
        if not info.key.endswith(suffix):
            continue
        relative = info.key[len(prefix): -len(suffix)]
        if (low is None or relative > low) and (high is None or relative <= high):
            found[relative] = info
    return found


def _reconcile_page(
    store: Store,
    layout: Layout,
    dispatcher: Dispatcher,
    page: list[ObjectInfo],
    low: str | None,
    high: str | None,
    listed_at: float,
    listings_trusted: bool,
    counts: Counter,
    quarantine: list[ObjectInfo] | None = None,
) -> None:
    records = _outputs_in_range(store, layout.processed_prefix, ".json", low, high)
    if quarantine is not None:
        quarantined = _in_range(quarantine, layout.quarantine_prefix, ".json", low, high)
    else:
        quarantined = _outputs_in_range(store, layout.quarantine_prefix, ".json", low, high)
    inputs = set()
    for info in page:
        if not layout.is_input(info.key):
            continue
        relative = info.key[len(layout.input_prefix):]
        inputs.add(relative)
        if listings_trusted and layout.key_problem(info.key) is None:
            output = records.get(relative) or quarantined.get(relative)
            if output is not None and _written_after(output, info):
                counts[CURRENT] += 1
                continue
        _dispatch(dispatcher, store, layout, info, counts, False)
    for outputs in (records, quarantined):
        for relative, output in outputs.items():
            if relative in inputs or relative.startswith(BAD_KEYS_DIR):
                continue
            if output.last_modified is None or output.last_modified > listed_at - ORPHAN_GRACE_SECONDS:
                continue
            _reconcile_deleted(store, layout, dispatcher, layout.input_prefix + relative, output.key, counts)


def _written_after(output: ObjectInfo, source: ObjectInfo) -> bool:
    if output.last_modified is None or source.last_modified is None:
        return False
    return output.last_modified >= source.last_modified


def _reconcile_deleted(store: Store, layout: Layout, dispatcher: Dispatcher, input_key: str, output_key: str, counts: Counter) -> None:
    """The input is gone: take it out of the index (a queued removal) and delete its record."""
    try:
        dispatcher.submit(ObjectEvent(store.bucket, input_key, None, kind=REMOVED, origin="sweep"))
        store.delete(output_key)
    except Exception as exc:
        if is_transient(exc):
            raise
        log.error("sweep_key_failed", key=input_key, error=type(exc).__name__, message=str(exc)[:300])
        counts[FAILED] += 1
        return
    log.info("sweep_deleted_input_reconciled", key=input_key, output=output_key)
    counts[DELETED] += 1
