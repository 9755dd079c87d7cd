"""`copydesk.process_article(bucket, key, etag)`: fetch, run the stages, write. Nothing else.

Every run ends in a record, a quarantine record, or a scheduled retry:
- the article's faults (bad input, a stage that crashes on it, the soft time limit during the
  stages) are quarantined by the job, the record written before it is logged;
- outages (store, broker, credentials, model) propagate and Celery retries them
  (`CopydeskTask`'s autoretry options) for as long as they last;
- the hard time limit kills the pool child: `on_failure` runs in the worker's main process
  and writes the quarantine record (`time_limit`) before Celery acknowledges the message.
"""

from __future__ import annotations

from billiard.exceptions import TimeLimitExceeded

from ..app import INDEX_BATCH, INDEX_QUEUE, PROCESS_ARTICLE, app
from ..logging import get_logger
from ..state import output_state
from ..processing import OUTAGE_ERRORS
from .base import CopydeskTask

log = get_logger("copydesk.task")


def request_index_batch(runtime, marker: str | None = None, document: bytes | None = None) -> None:
    """Ask the index queue for a batch, debounced in Redis by count and age (no store request);
    the document just written as `marker` goes to the batches' Redis cache in the same round
    trip."""
    from ..search.indexer import BATCH_AGE, BatchRequests

    requests = BatchRequests(runtime.redis, runtime.store.url)
    when = requests.document_written(marker, document)
    if when == "later":
        # Skipped when it comes due if a run started meanwhile (BatchRequests.superseded).
        app.send_task(INDEX_BATCH, kwargs={"generation": requests.generation}, countdown=BATCH_AGE, queue=INDEX_QUEUE)
    elif when == "now":
        app.send_task(INDEX_BATCH, queue=INDEX_QUEUE)


def _article_job(runtime, bucket: str | None):
    """The process's job for `bucket`, built once (a pool child runs one task at a time): its
    index documents go to pending markers, announced to the index queue and its Redis cache."""
    jobs = runtime.article_jobs
    job = jobs.get(bucket)
    if job is None:
        from ..search.indexer import document_written

        job = runtime.job(bucket)
        store, settings = job.store, runtime.settings  # the job's store: its writes are counted in the metrics

        def on_document_written(doc_key: str, document: bytes) -> None:
            document_written(store, settings, doc_key, document,
                             announce=lambda marker, doc: request_index_batch(runtime, marker, doc))

        job.on_document_written = on_document_written
        jobs[bucket] = job
    return job


class ArticleTask(CopydeskTask):
    abstract = True

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        if isinstance(exc, TimeLimitExceeded):
            reason = "time_limit"
        elif isinstance(exc, OUTAGE_ERRORS):
            reason = "retries_exhausted"  # only when COPYDESK_MAX_RETRIES limits the retries
        else:
            return
        key, bucket = (kwargs or {}).get("key"), (kwargs or {}).get("bucket")
        if not key:
            return
        attempt = (getattr(self.request, "retries", None) or 0) + 1
        etag = kwargs.get("etag")
        try:
            job = self.runtime.job(bucket)
            state = output_state(job.store, job.layout, key)
            if state.status == "processed" and (etag is None or state.etag == etag):
                # The child was killed after it wrote the record (the limit hit as it finished).
                log.info("time_limit_after_record", key=key)
                return
            if reason == "time_limit" and attempt < 2:
                # Once more before blaming the article: the machine may have been overloaded.
                self.apply_async(kwargs=kwargs, retries=attempt, countdown=1)
                log.warning("task_retry", key=key, etag=etag, attempt=attempt, next_attempt=attempt + 1, error="TimeLimitExceeded")
                return
            job.quarantine_for(key, etag, exc, reason, attempt, task_id)
        except Exception as write_error:
            # The store is down too: no record, so the next sweep enqueues the input again.
            log.error("quarantine_failed", key=key, error=type(write_error).__name__, message=str(write_error)[:300])


@app.task(bind=True, base=ArticleTask, name=PROCESS_ARTICLE)
def process_article(
    self,
    bucket: str,
    key: str,
    etag: str | None = None,
    version_id: str | None = None,
    force: bool = False,
    prior: str | None = None,
):
    job = _article_job(self.runtime, bucket)
    if self.attempt > 1:
        prior = None  # a retry reads the state again: the first attempt may have written it
    # Outages raise out of run() and are retried by Celery; everything else ends in an outcome.
    outcome = job.run(
        key, etag, version_id=version_id, force=force, task_id=self.request.id, attempt=self.attempt, prior=prior
    )
    # Small: results are not stored (ignore_result), but Celery's tracer makes a saferepr of
    # every return value, ~0.1 ms for the whole outcome with its summary (issue 15). What the
    # metrics (status, reason) and a Flower user need; the record has the rest.
    return {"status": outcome.status, "key": outcome.key, "reason": outcome.reason}
