"""`copydesk.process_article(bucket, key, etag)`: fetch, run the stages, write. Nothing else.
`copydesk.process_articles(bucket, items)`: the same for several articles (ids, never documents),
with one group commit for the batch (see `process_articles`).

Every run ends in a record, a quarantine record, or a scheduled retry:
- the article's faults (bad input, a stage that crashes on it, the soft time limit during the
  stages) are quarantined by the job, the record written before it is logged;
- outages (store, broker, credentials, model) propagate and Celery retries them
  (`CopydeskTask`'s autoretry options) for as long as they last;
- the hard time limit kills the pool child: `on_failure` runs in the worker's main process
  and writes the quarantine record (`time_limit`) before Celery acknowledges the message.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from billiard.exceptions import TimeLimitExceeded
from celery.exceptions import Reject
from celery.signals import worker_init
from celery.utils.time import get_exponential_backoff_interval

from ..app import ARTICLES_QUEUE, INDEX_BATCH, INDEX_QUEUE, PROCESS_ARTICLE, PROCESS_ARTICLES, app, current_settings
from ..logging import get_logger
from ..settings import BATCH_BUDGET_SECONDS
from ..state import output_state
from ..processing import OUTAGE_ERRORS, SlowFirstAttempt, is_transient
from .base import CopydeskTask

log = get_logger("copydesk.task")


def request_index_batch(runtime, marker: str | None = None, document: bytes | None = None,
                        documents: list[tuple[str, bytes]] | None = None) -> None:
    """Ask the index queue for a batch, debounced in Redis by count and age (no store request);
    the document just written as `marker` (or the `documents` of a batch of articles, as
    (marker, document)) go to the batches' Redis cache in the same round trip."""
    from ..search.indexer import BATCH_AGE, BatchRequests

    requests = BatchRequests(runtime.redis, runtime.store.url)
    if documents is not None:
        when = requests.documents_written(documents)
    else:
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
            held = runtime.held_documents
            if held is not None:
                # A batch of articles (process_articles): announced with one request at its end;
                # when its records are committed together, its markers are written just before.
                marker = None if runtime.defer_markers else document_written(store, settings, doc_key, document)
                held.append((doc_key, document, marker))
                return
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


# -- batches: several articles in one message (issue 15) -----------------------------------
def _single(bucket: str, item: dict[str, Any], *, prior: str | None, retries: int = 0, countdown: float | None = None) -> None:
    """Send one article of a batch on alone, as the `copydesk.process_article` message a
    dispatcher sends, `retries` its Celery retry count (its next attempt is retries + 1)."""
    kwargs = {"bucket": bucket, "key": item["key"], "etag": item.get("etag"), "version_id": item.get("version_id"),
              "force": bool(item.get("force")), "prior": prior}
    app.tasks[PROCESS_ARTICLE].apply_async(kwargs=kwargs, retries=retries, countdown=countdown, queue=ARTICLES_QUEUE)


def _batch(bucket: str, items: list[dict[str, Any]]) -> None:
    """Send `items` on as one batch message (what this batch had no time left for)."""
    if len(items) == 1:
        _single(bucket, items[0], prior=items[0].get("prior"))
    else:
        app.tasks[PROCESS_ARTICLES].apply_async(kwargs={"bucket": bucket, "items": items}, queue=ARTICLES_QUEUE)


def _split(bucket: str, items: list[dict[str, Any]], reason: str) -> None:
    """Send every article of a batch on alone, its state to be read again (done ones are then
    skipped): what a redelivered batch or one killed by the hard time limit becomes."""
    log.warning("batch_split", reason=reason, articles=len(items))
    for item in items:
        _single(bucket, item, prior=None)


def _valid_items(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("key"), str) and i["key"] for i in items):
        raise Reject("a batch's items must be a list of objects with a key", requeue=False)
    return items


class ArticleBatchTask(ArticleTask):
    """The batch's own failure path. Outages are not retried as a whole: each article that
    meets one is sent on alone (`_single`), so Celery's autoretry is off here."""

    abstract = True
    autoretry_for = ()

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """The hard time limit killed the child (it runs in the worker's main process, before the
        message is acknowledged): every article of the batch is sent on alone with its state
        read again, so the one that hung meets the single article's time-limit path (one more
        try, then `time_limit`) and the others are processed, or skipped when already current."""
        if not isinstance(exc, TimeLimitExceeded):
            return
        bucket, items = (kwargs or {}).get("bucket"), (kwargs or {}).get("items") or []
        try:
            _split(bucket, items, "time_limit")
        except Exception as send_error:
            # The broker is down too: no record, so the next sweep enqueues the inputs again.
            log.error("batch_split_failed", articles=len(items), error=type(send_error).__name__, message=str(send_error)[:300])

    def retry_alone(self, bucket: str, item: dict[str, Any], exc: BaseException, backoff_max: int) -> None:
        """An article of a batch met an outage or was too slow on its first attempt: its second
        attempt is a single-article message, after the backoff a single article's retry gets (this
        task's retry options), its claim renewed as `on_retry` renews it. Anything else a job
        raises (a bug) sends it on alone too: the single article's path then decides."""
        countdown = get_exponential_backoff_interval(
            factor=self.retry_backoff, retries=0, maximum=backoff_max, full_jitter=self.retry_jitter
        )
        retryable = is_transient(exc) or isinstance(exc, SlowFirstAttempt)
        log.warning(
            "task_retry", key=item["key"], etag=item.get("etag"), attempt=1, next_attempt=2 if retryable else 1,
            error=type(exc).__name__, message=str(exc)[:300], countdown_s=round(countdown, 2), batch=True,
        )
        _single(bucket, item, prior=None, retries=1 if retryable else 0, countdown=countdown)
        with contextlib.suppress(Exception):
            self._refresh_claim(bucket, item["key"], item.get("etag"))


@app.task(bind=True, base=ArticleBatchTask, name=PROCESS_ARTICLES)
def process_articles(self, bucket: str, items: list[dict[str, Any]]):
    """Several articles in one message, one after the other, with one group commit.

    Their index documents (pending markers) are written together at the end and announced in
    one Redis round trip, then their records (and quarantine records) are made durable together
    (the folder store: one flush of the file system, then each renamed into place), before
    Celery acknowledges the message. Each article is
    contained as alone:
    - bad input is quarantined and the batch goes on;
    - an outage or a slow first attempt (the soft time limit in the stages) sends that article
      on alone as its next attempt, with the single article's backoff; the batch goes on, and
      the article is neither redone nor lost;
    - once BATCH_BUDGET_SECONDS have passed, the articles not started are sent on as a new batch
      (the message's time limits are the article's plus that budget, set at worker start, so
      every article gets at least the soft time limit, and Redis' visibility timeout covers it);
    - a redelivered batch (its worker died, or it was requeued) is split: each article alone,
      its state read again (done ones are skipped), so an input that kills its process cannot
      take the others down with it twice; the hard time limit splits it the same way.
    """
    items = _valid_items(items)
    runtime = self.runtime
    if (self.request.delivery_info or {}).get("redelivered"):
        _split(bucket, items, "redelivered")
        return {"status": "batch", "articles": [], "split": len(items)}
    settings = current_settings()
    job = _article_job(runtime, bucket)
    store = job.store
    started = time.monotonic()
    answered: list[list[Any]] = []
    sent_on = 0
    runtime.held_documents = []
    store.begin_batch()
    runtime.defer_markers = job.durable_records and store.defers_durable_writes()
    try:
        for i, item in enumerate(items):
            if i and time.monotonic() - started >= BATCH_BUDGET_SECONDS:
                _batch(bucket, items[i:])  # the articles not started: a batch of their own
                sent_on += len(items) - i
                log.info("batch_handed_on", articles=len(items) - i, after_s=round(time.monotonic() - started, 3))
                break
            try:
                outcome = job.run(
                    item["key"], item.get("etag"), version_id=item.get("version_id"), force=bool(item.get("force")),
                    task_id=self.request.id, attempt=1, prior=item.get("prior"),
                )
            except Exception as exc:
                # Sent on alone as its next attempt; the others are untouched.
                self.retry_alone(bucket, item, exc, settings.retry_backoff_max)
                sent_on += 1
                continue
            answered.append([outcome.status, outcome.key, outcome.reason])
        _commit(runtime, store)
    except Exception as exc:
        # Sending failed (the broker is down) or the commit did. What is done is committed if
        # the store lets it (a failed commit left nothing half-done), and the message is
        # requeued whole: redelivered, it is split (above), every article's state read again.
        log.error("batch_failed", articles=len(items), error=type(exc).__name__, message=str(exc)[:300])
        with contextlib.suppress(Exception):
            _commit(runtime, store)  # raises again before any record when a marker cannot be written
        raise Reject(f"batch failed: {type(exc).__name__}", requeue=True) from exc
    finally:
        runtime.held_documents = None
        runtime.defer_markers = False
        store.end_batch()
    return {"status": "batch", "articles": answered, "sent_on": sent_on}


def _commit(runtime, store) -> None:
    """The end of a batch: its deferred markers written just before its records (a record never
    lacks its index document), every marker announced with one request (an index batch listing
    them finds them in its cache), then its records made durable and put in place."""
    held = runtime.held_documents or []
    if held:
        from ..search.indexer import document_written

        for i, (doc_key, document, marker) in enumerate(held):
            if marker is None:  # a failure here leaves the records uncommitted (see the caller)
                held[i] = (doc_key, document, document_written(store, runtime.settings, doc_key, document))
        request_index_batch(runtime, documents=[(marker, document) for _, document, marker in held if marker])
    runtime.held_documents = None
    store.commit_batch()


@worker_init.connect
def _batch_time_limits(**_kwargs) -> None:
    """A batch's message may run BATCH_BUDGET_SECONDS longer than one article's (read when the
    worker starts consuming, after this signal)."""
    settings = current_settings()
    task = app.tasks[PROCESS_ARTICLES]
    task.soft_time_limit = settings.soft_time_limit + BATCH_BUDGET_SECONDS
    task.time_limit = settings.time_limit + BATCH_BUDGET_SECONDS
