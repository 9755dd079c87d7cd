"""`copydesk.process_article(bucket, key, etag)`: fetch, run the stages, write. Nothing else."""

from __future__ import annotations

import functools

from celery.exceptions import SoftTimeLimitExceeded

from ..app import INDEX_BATCH, INDEX_QUEUE, PROCESS_ARTICLE, app
from ..logging import get_logger
from .base import CopydeskTask

log = get_logger("copydesk.task")


def request_index_batch(runtime) -> None:
    """Ask the index queue for a batch, debounced in Redis by count and age (no store request)."""
    from ..search.indexer import BATCH_AGE, BatchRequests

    when = BatchRequests(runtime.redis, runtime.store.url).document_written()
    if when == "later":
        app.send_task(INDEX_BATCH, countdown=BATCH_AGE, queue=INDEX_QUEUE)
    elif when == "now":
        app.send_task(INDEX_BATCH, queue=INDEX_QUEUE)


@app.task(bind=True, base=CopydeskTask, name=PROCESS_ARTICLE)
def process_article(
    self,
    bucket: str,
    key: str,
    etag: str | None = None,
    version_id: str | None = None,
    force: bool = False,
    prior: str | None = None,
):
    runtime = self.runtime
    from ..search.indexer import document_written

    job = runtime.job(
        bucket,
        on_document_written=lambda doc_key: document_written(
            runtime.store_for(bucket), runtime.settings, doc_key, enqueue=lambda: request_index_batch(runtime)
        ),
    )
    if self.attempt > 1:
        prior = None  # a retry reads the state again: the first attempt may have written it
    try:
        outcome = job.run(
            key, etag, version_id=version_id, force=force, task_id=self.request.id, attempt=self.attempt, prior=prior
        )
    except SoftTimeLimitExceeded as exc:
        outcome = job.quarantine_after_retries(key, etag, exc, self.attempt, self.request.id)
    except Exception as exc:
        outcome = self.retry_transient(
            exc, functools.partial(job.quarantine_after_retries, key, etag, exc, self.attempt, self.request.id)
        )
    return outcome.as_dict()
