"""One base Task for copydesk: retries with backoff and jitter, log context, metrics.

Subclasses implement `execute`. Transient errors (store or broker unreachable, throttling,
5xx) are retried with exponential backoff and full jitter up to COPYDESK_MAX_RETRIES; when
retries run out, `on_retries_exhausted` decides what to record (articles are quarantined).
"""

from __future__ import annotations

import random
import time

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from ..logging import bind, clear, get_logger
from ..processing import is_transient
from ..runtime import Runtime, for_this_process

log = get_logger("copydesk.task")

RETRY_BASE_SECONDS = 2


def backoff_seconds(retries: int, cap: int, base: float = RETRY_BASE_SECONDS) -> float:
    """Full-jitter exponential backoff (AWS architecture blog): uniform(0, min(cap, base*2^n))."""
    return random.uniform(0, min(cap, base * (2**retries)))


class CopydeskTask(Task):
    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True
    typing = True

    @property
    def runtime(self) -> Runtime:
        return for_this_process()

    @property
    def attempt(self) -> int:
        return self.request.retries + 1

    def __call__(self, *args, **kwargs):
        clear()
        bind(task=self.name, task_id=self.request.id, attempt=self.attempt)
        started = time.perf_counter()
        try:
            return self.run(*args, **kwargs)
        finally:
            log.debug("task_finished", duration_ms=round((time.perf_counter() - started) * 1000, 3))
            clear()

    def retry_transient(self, exc: BaseException, on_exhausted):
        """Retry `exc` if transient and retries remain; else call on_exhausted() and return it."""
        settings = self.runtime.settings
        if isinstance(exc, SoftTimeLimitExceeded) or not is_transient(exc):
            raise exc
        if self.request.retries >= settings.max_retries:
            log.error("task_retries_exhausted", error=type(exc).__name__, message=str(exc)[:500])
            return on_exhausted()
        countdown = backoff_seconds(self.request.retries, settings.retry_backoff_max)
        log.warning("task_retry", error=type(exc).__name__, countdown_s=round(countdown, 2))
        raise self.retry(exc=exc, countdown=countdown, max_retries=settings.max_retries)
