"""`copydesk.process_article(bucket, key, etag)`: fetch, run the stages, write. Nothing else."""

from __future__ import annotations

import functools

from celery.exceptions import SoftTimeLimitExceeded

from ..app import INDEX_BATCH, PROCESS_ARTICLE, app
from ..logging import get_logger
from .base import CopydeskTask

log = get_logger("copydesk.task")

INDEX_BATCH_DELAY_SECONDS = 2


def _request_index_batch() -> None:
    # A short delay lets a burst of articles share one segment.
    app.send_task(INDEX_BATCH, countdown=INDEX_BATCH_DELAY_SECONDS)


@app.task(bind=True, base=CopydeskTask, name=PROCESS_ARTICLE)
def process_article(self, bucket: str, key: str, etag: str | None = None, version_id: str | None = None, force: bool = False):
    runtime = self.runtime
    from ..search.indexer import document_written

    job = runtime.job(
        bucket,
        on_document_written=lambda doc_key: document_written(
            runtime.store_for(bucket), runtime.settings, doc_key, enqueue=_request_index_batch
        ),
    )
    try:
        outcome = job.run(key, etag, version_id=version_id, force=force, task_id=self.request.id, attempt=self.attempt)
    except SoftTimeLimitExceeded as exc:
        outcome = job.quarantine_after_retries(key, etag, exc, self.attempt, self.request.id)
    except Exception as exc:
        outcome = self.retry_transient(
            exc, functools.partial(job.quarantine_after_retries, key, etag, exc, self.attempt, self.request.id)
        )
    return outcome.as_dict()
