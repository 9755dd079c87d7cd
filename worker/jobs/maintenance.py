"""`copydesk.sweep`: the reconciling sweep, run periodically by Celery beat.

One at a time: a run takes a Redis lock that expires (COPYDESK_SWEEP_TIME_LIMIT + a margin,
so a killed run never blocks the next for long); a run that finds it taken returns at once.
Each run lists from the cursor the previous one left, stops at its own time limit
(COPYDESK_SWEEP_TIME_LIMIT, independent of the article time limits), and when the pass is not
complete queues the next run at once, so a full pass completes on a bucket of any size while
occupying one pool slot at most.
"""

from __future__ import annotations

import contextlib

from ..app import MAINTENANCE_QUEUE, SWEEP, app, sweep_limits
from ..events.sweep import RedisSweepState, sweep
from ..logging import get_logger
from .base import CopydeskTask
from .queues import CeleryQueue

log = get_logger("copydesk.sweep")

#: Seconds the lock outlives the sweep's own time limit (listing the last page, the soft limit).
LOCK_MARGIN = 60



@app.task(bind=True, base=CopydeskTask, name=SWEEP)
def run_sweep(self):
    runtime = self.runtime
    settings = runtime.settings
    store = runtime.store
    lock = runtime.redis.lock(f"copydesk:sweep:lock:{store.url}", timeout=settings.sweep_time_limit + LOCK_MARGIN, blocking=False)
    if not lock.acquire():
        log.info("sweep_skipped", reason="another sweep holds the lock")
        return {"skipped": 1}
    try:
        counts = sweep(
            store,
            runtime.layout,
            runtime.dispatcher(CeleryQueue(app)),
            state=RedisSweepState(runtime.redis, store.url),
            time_limit=settings.sweep_time_limit,
        )
    finally:
        with contextlib.suppress(Exception):  # expired under a slow run: the next run takes it
            lock.release()
    if not counts.get("complete"):
        app.send_task(SWEEP, queue=MAINTENANCE_QUEUE, **sweep_limits(settings))  # continue from the cursor
    return counts
