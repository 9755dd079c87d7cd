"""`copydesk.sweep`: the reconciling sweep, run periodically by Celery beat."""

from __future__ import annotations

from ..app import SWEEP, app
from ..events.sweep import sweep
from .base import CopydeskTask
from .queues import CeleryQueue


@app.task(bind=True, base=CopydeskTask, name=SWEEP)
def run_sweep(self):
    runtime = self.runtime
    try:
        counts = sweep(runtime.store, runtime.layout, runtime.dispatcher(CeleryQueue(app)))
    except Exception as exc:
        # A sweep that cannot reach the store simply waits for the next beat.
        failure = {"error": type(exc).__name__}
        return self.retry_transient(exc, lambda: failure)
    return counts
