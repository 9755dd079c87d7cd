"""The article job: fetch one object, run the pipeline, write its outputs.

This is the thin I/O layer around the pure stages in `tasks`. The Celery task and the embedded
runner both call `ArticleJob.run`; retries are theirs to decide (see `is_transient`).

Outputs, for input `incoming/R`: the index document (as a pending marker of the index, which
carries it until a batch folds it into a segment), then the lineage log, then the record
`processed/R.json` last, so a record never points at something missing. Bad input writes
`quarantine/R.json` instead. The source object is only ever read.

Store requests per new article: the dispatcher has read the output state once (one HEAD of the
lineage log, see state.dispatch_state) and passes it on (`prior`), so the job does not read it
again; then GET source, PUT pending marker (the index document), PUT lineage log (one request,
conditional on no log existing: no GET of an earlier log on a first attempt), PUT record: 5,
and the index batches' few per 1,000 documents. The quarantine record is DELETEd only when the
state said there may be one.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

import redis.exceptions
from celery.exceptions import SoftTimeLimitExceeded

from tasks.article import Article, BadInput, Source
from tasks.pipeline import Pipeline, process_document
from tasks.record import build_quarantine

from . import metrics
from .layout import Layout
from .logging import ArticleLog, bind, debug_enabled, get_logger, start_article_log, stop_article_log, unbind
from .state import is_current, output_state
from .storage import AccessDenied, NotFound, ObjectTooLarge, PreconditionFailed, Store, StoreError, Unreachable

log = get_logger("copydesk.job")

PROCESSED = "processed"
QUARANTINED = "quarantined"
SKIPPED = "skipped"


class Misconfigured(Exception):
    """The worker cannot process anything as configured (not the article's fault)."""


class SlowFirstAttempt(Exception):
    """The stages ran past the soft time limit on a first attempt: retried once (the machine may
    have been overloaded), quarantined as `time_limit` if the second attempt is as slow."""


def _outage_errors() -> tuple[type[BaseException], ...]:
    import kombu.exceptions

    from tasks.classification.topics import ModelError

    return (
        Unreachable,  # the store did not answer, throttled, 5xx
        AccessDenied,  # wrong credentials, missing bucket: misconfiguration
        Misconfigured,
        ModelError,  # the topic model cannot be loaded
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        kombu.exceptions.OperationalError,  # the broker
        ConnectionError,
        TimeoutError,
    )


#: Failures that are not the article's fault: retried for as long as they last, never quarantined.
OUTAGE_ERRORS = _outage_errors()


def is_transient(exc: BaseException) -> bool:
    """Not the article's fault, worth retrying: the store or broker did not answer, throttled,
    failed on its side, or the worker is misconfigured (credentials, bucket, model)."""
    if isinstance(exc, StoreError) and exc.transient:
        return True
    return isinstance(exc, OUTAGE_ERRORS)


@dataclass
class Outcome:
    status: str
    key: str
    etag: str | None = None
    output_key: str | None = None
    reason: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "key": self.key,
            "etag": self.etag,
            "output_key": self.output_key,
            "reason": self.reason,
            **self.summary,
        }


@dataclass
class Attempt:
    """One attempt at one input: what the job's steps share instead of long argument lists."""

    key: str
    etag: str | None
    version_id: str | None
    force: bool
    task_id: str | None
    attempt: int
    #: This attempt's events, written to the lineage log `logs/R.jsonl`.
    log: ArticleLog
    started: float = field(default_factory=time.perf_counter)
    fetch_ms: float = 0.0
    #: The output state before this attempt ("none", "processed", "quarantined"), or None
    #: when it was not read.
    prior: str | None = None


class ArticleJob:
    def __init__(
        self,
        store: Store,
        layout: Layout,
        pipeline: Pipeline,
        *,
        max_bytes: int,
        on_document_written: Callable[[str, bytes], object] | None = None,
        durable_records: bool = True,
        instrumented: bool = True,
    ) -> None:
        """`on_document_written(doc_key, document)` stores the article's index document (its
        pending marker) and asks for an index batch; by default the marker alone is written."""
        self.store = store
        self.layout = layout
        self.pipeline = pipeline
        self.pipeline_version = pipeline.version
        self.max_bytes = max_bytes
        self.on_document_written = on_document_written or self._write_marker
        #: fsync records on the folder store (COPYDESK_FSYNC_RECORDS); derived outputs never are.
        self.durable_records = durable_records
        #: Feed the Prometheus metrics (workers); the embedded runner serves none.
        self.instrumented = instrumented
        #: What run() is doing: "fetch", "stages" or "write" (a time limit during the stages
        #: is the article's fault; during fetch or write it is the store's).
        self.phase = "idle"

    def run(
        self,
        key: str,
        etag: str | None = None,
        *,
        version_id: str | None = None,
        force: bool = False,
        task_id: str | None = None,
        attempt: int = 1,
        prior: str | None = None,
    ) -> Outcome:
        """Process one input. Raises only for transient errors (the caller retries).

        `prior` is the output state the dispatcher read for this (key, etag) just before it
        enqueued ("none", "processed" or "quarantined"): the job trusts it instead of reading
        the state again. None (unknown: a redelivered or hand-made message) reads it here.
        """
        started = time.perf_counter()
        bind(task_id=task_id, key=key, etag=etag, attempt=attempt, pipeline_version=self.pipeline_version)
        try:
            if prior is None and not force and etag is not None:
                state = output_state(self.store, self.layout, key)
                if is_current(state, etag, self.pipeline_version):
                    log.info("article_skipped", reason="already_processed")
                    return Outcome(SKIPPED, key, etag, reason="already_processed")
                prior = state.status
            collector, token = start_article_log()
            # Nothing was ever logged for this input (a new article, first attempt): the log is
            # written with one PUT; otherwise this run's lines are appended (GET + PUT).
            collector.fresh = attempt == 1 and prior == "none"
            try:
                run = Attempt(key, etag, version_id, force, task_id, attempt, collector, started=started, prior=prior)
                return self._run_logged(run)
            finally:
                stop_article_log(token)
        finally:
            unbind("task_id", "key", "etag", "attempt", "pipeline_version", "stage")

    def _run_logged(self, run: Attempt) -> Outcome:
        log.info("article_started", force=run.force, store=self.store.url)
        key = run.key
        source = Source(self.store.bucket, key, run.etag, 0, None, run.version_id)
        problem = self.layout.key_problem(key)
        if problem is not None:
            # Not read: the store may resolve the key differently (`..`) or refuse it.
            return self._quarantine(run, source, BadInput("bad_key", problem), "bad_key")
        try:
            self.phase = "fetch"
            try:
                fetched = self.store.get(key, version_id=run.version_id, max_bytes=self.max_bytes)
            except ObjectTooLarge as exc:
                raise BadInput("too_large", str(exc)) from None
            except NotFound:
                log.warning("article_source_missing")
                return Outcome(SKIPPED, key, run.etag, reason="source_missing")
            info = fetched.info
            if info.etag != run.etag:
                bind(etag=info.etag)
                log.info("article_version_changed", requested_etag=run.etag, fetched_etag=info.etag)
                if not run.force and run.etag is not None:
                    state = output_state(self.store, self.layout, key)
                    if is_current(state, info.etag, self.pipeline_version):
                        log.info("article_skipped", reason="already_processed")
                        return Outcome(SKIPPED, key, info.etag, reason="already_processed")
                    run.prior = state.status
            source = Source(self.store.bucket, key, info.etag, info.size, None, info.version_id or run.version_id)
            run.fetch_ms = round((time.perf_counter() - run.started) * 1000, 3)
            log.debug("stage_finished", stage="fetch", duration_ms=run.fetch_ms, size=info.size)
            self.phase = "stages"
            result = process_document(
                fetched.data, source, self.pipeline, max_bytes=self.max_bytes, task_id=run.task_id,
                attempts=run.attempt, on_stage=_log_stage if debug_enabled() else None,
            )
        except BadInput as exc:
            return self._quarantine(run, source, exc, exc.reason)
        except SoftTimeLimitExceeded as exc:
            if self.phase != "stages":
                # The store hung: not the article's fault.
                outage = Unreachable(f"the store did not answer before the soft time limit ({self.phase})")
                self._before_retry(run, outage)
                raise outage from exc
            log.warning("article_too_slow", stage=self.phase)
            if run.attempt < 2:
                self._before_retry(run, exc)
                raise SlowFirstAttempt("the stages ran past the soft time limit; retried once") from exc
            slow = BadInput("time_limit", "processing took longer than the soft time limit")
            return self._quarantine(run, source, slow, "time_limit")
        except Exception as exc:
            if is_transient(exc):
                self._before_retry(run, exc)
                raise
            # A stage crashed on this input: it would crash again, so do not retry.
            log.exception("article_processing_error", error=type(exc).__name__)
            return self._quarantine(run, source, exc, "processing_error")
        if result.quarantine is not None:
            assert result.error is not None
            return self._quarantine(run, source, result.error, result.error.reason, record=result.quarantine)
        assert result.article is not None and result.record is not None
        self.phase = "write"
        try:
            return self._write(run, result.article, result.record)
        except SoftTimeLimitExceeded as exc:
            outage = Unreachable("the store did not answer before the soft time limit (write)")
            self._before_retry(run, outage)
            raise outage from exc
        except Exception as exc:
            if is_transient(exc):
                self._before_retry(run, exc)
            raise

    def _before_retry(self, run: Attempt, exc: BaseException) -> None:
        """Keep this attempt's events in the lineage log when the store still answers."""
        log.warning("article_retryable_error", error=type(exc).__name__, message=str(exc)[:500])
        with contextlib.suppress(StoreError):  # the store is down: the events are still in the log stream
            self._flush_log(run)

    def _write(self, run: Attempt, article: Article, record: dict[str, Any]) -> Outcome:
        key = article.source.key
        outputs = {
            "record": self.layout.record_key(key),
            "log": self.layout.log_key(key),
        }
        write_started = time.perf_counter()
        record["outputs"] = outputs
        record["timings_ms"]["fetch"] = run.fetch_ms
        if article.index_document is not None:
            # The index keeps the newest version of an article: processed_at orders them.
            index_document = {**article.index_document, "processed_at": record["processed_at"], "pipeline_version": self.pipeline_version}
            # Its one write: a pending marker that carries it to the next index batch (derived
            # and rebuildable from the records, `copydesk reindex --from-records`).
            self.on_document_written(self.layout.index_document_key(key), _json(index_document))
        timings = record["timings_ms"]
        # The one INFO event of the article: what it became and where the time went.
        log.info(
            "article_processed",
            total_ms=round((time.perf_counter() - run.started) * 1000, 3),  # so far: the record's write follows
            words=record["words"],
            removed_lines=article.removed_lines,
            language=(article.language or {}).get("code"),
            topic=_best_topic(article),
            notes=len(article.notes),
            timings_ms=dict(timings),
            **({"reading": article.reading} if article.reading is not None else {}),
        )
        self._flush_log(run)
        if run.prior != "none":
            # An older version may have been bad; the state says when not (and the log write
            # turns "none" into "unknown" when it finds an earlier attempt's log).
            with contextlib.suppress(StoreError):
                self.store.delete(self.layout.quarantine_key(key))
        # `total` covers the whole task up to this last write: state read, fetch, stages, the
        # index document, the index request and the lineage log.
        timings["write"] = round((time.perf_counter() - write_started) * 1000, 3)
        timings["total"] = round((time.perf_counter() - run.started) * 1000, 3)
        if self.instrumented:
            metrics.observe_timings(timings)
            if article.reading is not None:
                metrics.observe_reading(article.reading)
        self.store.put(outputs["record"], _json(record), content_type="application/json", durable=self.durable_records)
        log.debug("stage_finished", stage="write", duration_ms=timings["write"])
        return Outcome(
            PROCESSED,
            key,
            article.source.etag,
            outputs["record"],
            summary={
                "title": article.title,
                "language": (article.language or {}).get("code"),
                "topic": _best_topic(article),
                "words": record["words"],
                "removed_lines": article.removed_lines,
            },
        )

    def _quarantine(self, run: Attempt, source: Source, exc: BaseException, reason: str,
                    record: dict[str, Any] | None = None) -> Outcome:
        key = source.key
        qkey = self.layout.quarantine_key(key)
        if record is None:
            record = build_quarantine(source, self.pipeline_version, reason=reason, error=exc, attempts=run.attempt, task_id=run.task_id)
        # The record first: if the store is down this raises (and the task retries), and no
        # `article_quarantined` line claims a quarantine that was never written.
        self.store.put(qkey, _json(record), content_type="application/json", durable=self.durable_records)
        log.warning("article_quarantined", reason=reason, error=type(exc).__name__, message=str(exc)[:500])
        with contextlib.suppress(StoreError):  # the record is written; the lines are still in the log stream
            self._flush_log(run)
        return Outcome(QUARANTINED, key, source.etag, qkey, reason=reason, summary={"message": record["message"]})

    def quarantine_after_retries(self, key: str, etag: str | None, exc: BaseException, attempt: int, task_id: str | None) -> Outcome:
        """Retries ran out (only when COPYDESK_MAX_RETRIES limits them): quarantine so an operator sees it."""
        return self.quarantine_for(key, etag, exc, "retries_exhausted", attempt, task_id)

    def quarantine_for(self, key: str, etag: str | None, exc: BaseException, reason: str, attempt: int, task_id: str | None) -> Outcome:
        """Quarantine `key` for `reason` from outside run() (time limits, exhausted retries)."""
        bind(task_id=task_id, key=key, etag=etag, attempt=attempt)
        collector, token = start_article_log()
        try:
            run = Attempt(key, etag, None, False, task_id, attempt, collector)
            return self._quarantine(run, Source(self.store.bucket, key, etag), exc, reason)
        finally:
            stop_article_log(token)
            unbind("task_id", "key", "etag", "attempt")

    def _flush_log(self, run: Attempt) -> None:
        """Write this run's events to `logs/R.jsonl`, once, at the end of the run.

        For a new article's first attempt that is one PUT. Otherwise (a retry, a new version of
        an input processed before, a state not read) the lines are appended (GET + PUT), so
        earlier attempts' and versions' lines stay first.
        """
        collector = run.log
        lines = collector.render()
        if not lines:
            return
        log_key = self.layout.log_key(run.key)
        existing = b""
        appended = not collector.fresh or collector.flushed
        if not appended:
            # Written only if no log exists: the state said none, but a concurrent attempt at
            # another version (or a state read before a log was written) may have made one.
            try:
                self.store.put(log_key, lines, content_type="application/x-ndjson", durable=False, if_none_match=True)
            except PreconditionFailed:
                appended = True
                run.prior = "unknown"  # an earlier attempt: it may have left a quarantine record
        if appended:
            with contextlib.suppress(NotFound):
                existing = self.store.get(log_key).data
            self.store.put(log_key, existing + lines, content_type="application/x-ndjson", durable=False)
        collector.lines.clear()
        collector.flushed = True

    def _write_marker(self, doc_key: str, document: bytes) -> None:
        from .search.indexer import document_written

        document_written(self.store, self.layout, doc_key, document)


def _log_stage(name: str, elapsed: float) -> None:
    log.debug("stage_finished", stage=name, duration_ms=elapsed)


def _best_topic(article: Article) -> str | None:
    return article.topics[0]["label"] if article.topics and not article.topic_uncertain else None


def _json(doc: dict) -> bytes:
    # No indent: with one, json falls back to its pure-Python encoder (~3 ms of an article's
    # ~9 ms of worker CPU on the folder store, issue 15); `jq .` shows a record indented.
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
