"""The reconciling sweep: enqueue every input whose record is missing or stale.

S3 notifications are at-least-once and can be late or missed; the sweep makes the bucket the
source of truth. It goes through the dispatcher like every other source, so an object that a
notification already queued is not queued twice.

One input that cannot be dispatched (a key no store accepts, a damaged record) is logged and
counted as `failed`; the sweep goes on with the next key. Only a store or broker that does not
answer stops it (the next run tries again).
"""

from __future__ import annotations

from collections import Counter

from ..dispatch import Dispatcher
from ..layout import Layout
from ..logging import get_logger
from ..processing import is_transient
from ..storage import Store
from .model import ObjectEvent

log = get_logger("copydesk.sweep")

FAILED = "failed"


def sweep(store: Store, layout: Layout, dispatcher: Dispatcher, *, force: bool = False, prefix: str | None = None) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for info in store.list(prefix or layout.input_prefix):
        if not layout.is_input(info.key):
            continue
        event = ObjectEvent(store.bucket, info.key, info.etag, info.size, info.version_id, origin="sweep")
        try:
            counts[dispatcher.submit(event, force=force)] += 1
        except Exception as exc:
            if is_transient(exc):
                raise
            log.error("sweep_key_failed", key=info.key, error=type(exc).__name__, message=str(exc)[:300])
            counts[FAILED] += 1
    result = dict(counts)
    log.info("sweep_finished", **result)
    return result
