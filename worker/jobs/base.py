"""One base Task for copydesk: the retry policy for outages, log context.

An outage is not the article's fault: the store or the broker does not answer (or throttles,
or fails on its side), the credentials or the bucket are wrong, the model cannot be loaded
(`worker.processing.OUTAGE_ERRORS`). A task that meets one is retried with Celery's own
options: `autoretry_for` those errors, exponential backoff (`retry_backoff`) capped at
COPYDESK_RETRY_BACKOFF_MAX seconds with full jitter (`retry_jitter`), and `max_retries=None`
(COPYDESK_MAX_RETRIES=0, the default): it keeps retrying for as long as the outage lasts and
is never quarantined for it. Only the article's own faults (bad input, a stage that crashes on
it, the soft time limit) end in a quarantine record, written before it is logged.

The backoff cap is kept below Redis' visibility timeout minus the hard time limit (see
`Settings.visibility_timeout`): a retried task waits in the worker as an unacknowledged
message until its countdown, and one held past the visibility timeout would be handed to a
second worker.
"""

from __future__ import annotations

import contextlib
import random
import time

from celery import Task
from celery.utils.time import get_exponential_backoff_interval
from celery.exceptions import Reject, SoftTimeLimitExceeded

from ..logging import bind, clear, get_logger
from ..processing import OUTAGE_ERRORS, SlowFirstAttempt
from ..runtime import Runtime, for_this_process
from ..app import current_settings

log = get_logger("copydesk.task")

RETRY_BASE_SECONDS = 1

#: The backoff cap Celery's autoretry is declared with; `CopydeskTask.retry` applies the cap of
#: the settings in effect (COPYDESK_RETRY_BACKOFF_MAX) when it retries: nothing is read from the
#: environment when the task modules are imported.
DECLARED_BACKOFF_MAX = 6


def backoff_seconds(retries: int, cap: int, base: float = RETRY_BASE_SECONDS) -> float:
    """Full-jitter exponential backoff (AWS architecture blog): uniform(0, min(cap, base*2^n)).
    Used by the embedded runner; the Celery tasks use Celery's own retry_backoff."""
    return random.uniform(0, min(cap, base * (2**retries)))


class CopydeskTask(Task):
    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True
    typing = True

    # -- the retry policy (Celery's options, see the module docstring) ----------------------
    autoretry_for = (*OUTAGE_ERRORS, SlowFirstAttempt)
    dont_autoretry_for = (SoftTimeLimitExceeded,)
    max_retries = None
    retry_backoff = RETRY_BASE_SECONDS
    retry_backoff_max = DECLARED_BACKOFF_MAX
    retry_jitter = True

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

    def retry(self, *args, **kwargs):
        settings = current_settings()
        if kwargs.get("countdown") is not None and isinstance(kwargs.get("exc"), self.autoretry_for):
            # Celery's autoretry computed the countdown with the declared cap: the same
            # exponential backoff with full jitter, under the cap in effect.
            kwargs["countdown"] = get_exponential_backoff_interval(
                factor=self.retry_backoff, retries=self.request.retries,
                maximum=settings.retry_backoff_max, full_jitter=self.retry_jitter,
            )
        if kwargs.get("max_retries") is None and settings.max_retries:
            kwargs["max_retries"] = settings.max_retries
        try:
            return super().retry(*args, **kwargs)
        except Reject as reject:
            # Celery rejects without requeue when it cannot publish the retry (the broker is
            # down): requeue instead, so the message is not dropped without a record.
            raise Reject(reject.reason, requeue=True) from None

    def on_retry(self, exc, task_id, args, kwargs, einfo):
        """Log `task_retry` with the key and the attempt; keep the dispatcher's claim alive so
        a sweep does not enqueue a second copy while this one waits out the outage."""
        original = exc  # Celery passes the exception that caused the retry...
        retry = getattr(einfo, "exception", None)  # ...and the Retry in einfo (wrapped by billiard)
        countdown = getattr(getattr(retry, "exc", retry), "when", None)
        key = (kwargs or {}).get("key")
        log.warning(
            "task_retry",
            key=key,
            etag=(kwargs or {}).get("etag"),
            attempt=self.attempt,
            next_attempt=self.attempt + 1,
            error=type(original).__name__,
            message=str(original)[:300],
            countdown_s=round(countdown, 2) if isinstance(countdown, (int, float)) else None,
        )
        if key and (kwargs or {}).get("bucket") is not None:
            # When the broker is down too the claim may lapse: the task is idempotent.
            with contextlib.suppress(Exception):
                self._refresh_claim(kwargs["bucket"], key, kwargs.get("etag"))

    def _refresh_claim(self, bucket: str, key: str, etag: str | None) -> None:
        from ..dispatch import RedisClaims, claim_token

        runtime = self.runtime
        token = claim_token(bucket, key, etag, runtime.pipeline_version)
        RedisClaims(runtime.redis).refresh(token, runtime.settings.claim_seconds)
