"""The article job: fetch one object, run the pipeline, write its outputs.

This is the thin I/O layer around the pure stages in `tasks`. The Celery task and the embedded
runner both call `ArticleJob.run`; retries are theirs to decide (see `is_transient`).

Outputs, for input `incoming/R`: the index document, then the lineage log, then the record
`processed/R.json` last, so a record never points at something missing. Bad input writes
`quarantine/R.json` instead. The source object is only ever read.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

import redis.exceptions

from tasks.article import Article, BadInput, Source
from tasks.pipeline import Pipeline
from tasks.record import build_quarantine, build_record

from .dispatch import is_current, output_state
from .layout import Layout
from .logging import bind, get_logger, start_article_log, stop_article_log, unbind
from .storage import NotFound, ObjectTooLarge, Store, StoreError

log = get_logger("copydesk.job")

PROCESSED = "processed"
QUARANTINED = "quarantined"
SKIPPED = "skipped"


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: the store or broker did not answer, throttled, or failed on its side."""
    if isinstance(exc, StoreError):
        return exc.transient
    return isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionError, TimeoutError))


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


class ArticleJob:
    def __init__(
        self,
        store: Store,
        layout: Layout,
        pipeline: Pipeline,
        *,
        max_bytes: int,
        on_document_written: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.layout = layout
        self.pipeline = pipeline
        self.pipeline_version = pipeline.version
        self.max_bytes = max_bytes
        self.on_document_written = on_document_written

    def run(
        self,
        key: str,
        etag: str | None = None,
        *,
        version_id: str | None = None,
        force: bool = False,
        task_id: str | None = None,
        attempt: int = 1,
    ) -> Outcome:
        """Process one input. Raises only for transient errors (the caller retries)."""
        bind(task_id=task_id, key=key, etag=etag, attempt=attempt, pipeline_version=self.pipeline_version)
        try:
            if not force and etag is not None and self._is_current(key, etag):
                log.info("article_skipped", reason="already_processed")
                return Outcome(SKIPPED, key, etag, reason="already_processed")
            collector, token = start_article_log()
            try:
                return self._run_logged(key, etag, version_id, force, task_id, attempt, collector)
            finally:
                stop_article_log(token)
        finally:
            unbind("task_id", "key", "etag", "attempt", "pipeline_version", "stage")

    # -- internals -------------------------------------------------------------------------
    def _is_current(self, key: str, etag: str) -> bool:
        return is_current(output_state(self.store, self.layout, key), etag, self.pipeline_version)

    def _run_logged(self, key, etag, version_id, force, task_id, attempt, collector) -> Outcome:
        started = time.perf_counter()
        log.info("article_started", force=force, store=self.store.url)
        source = Source(self.store.bucket, key, etag, 0, None, version_id)
        try:
            try:
                fetched = self.store.get(key, version_id=version_id, max_bytes=self.max_bytes)
            except ObjectTooLarge as exc:
                raise BadInput("too_large", str(exc)) from None
            except NotFound:
                log.warning("article_source_missing")
                return Outcome(SKIPPED, key, etag, reason="source_missing")
            info = fetched.info
            if info.etag != etag:
                bind(etag=info.etag)
                log.info("article_version_changed", requested_etag=etag, fetched_etag=info.etag)
                if not force and etag is not None and self._is_current(key, info.etag):
                    log.info("article_skipped", reason="already_processed")
                    return Outcome(SKIPPED, key, info.etag, reason="already_processed")
            source = Source(self.store.bucket, key, info.etag, info.size, None, info.version_id or version_id)
            fetch_ms = round((time.perf_counter() - started) * 1000, 3)
            log.info("stage_finished", stage="fetch", duration_ms=fetch_ms, size=info.size)
            article = self._run_pipeline(fetched.data, source)
        except BadInput as exc:
            return self._quarantine(source, exc, exc.reason, attempt, task_id, collector)
        except Exception as exc:
            if is_transient(exc):
                self._before_retry(key, exc, collector)
                raise
            # A stage crashed on this input: it would crash again, so do not retry.
            log.exception("article_processing_error", error=type(exc).__name__)
            return self._quarantine(source, exc, "processing_error", attempt, task_id, collector)
        try:
            return self._write(article, fetch_ms, started, attempt, task_id, collector)
        except Exception as exc:
            if is_transient(exc):
                self._before_retry(key, exc, collector)
            raise

    def _before_retry(self, key: str, exc: BaseException, collector) -> None:
        """Keep this attempt's events in the lineage log when the store still answers."""
        log.warning("article_retryable_error", error=type(exc).__name__, message=str(exc)[:500])
        with contextlib.suppress(StoreError):  # the store is down: the events are still on stdout
            self._flush_log(key, collector)

    def _run_pipeline(self, raw: bytes, source: Source):
        def on_stage(name: str, elapsed: float) -> None:
            log.info("stage_finished", stage=name, duration_ms=elapsed)

        article = Article(source=source, raw=raw)
        return self.pipeline.run(article, on_stage=on_stage)

    def _write(self, article, fetch_ms, started, attempt, task_id, collector) -> Outcome:
        key = article.source.key
        outputs = {
            "record": self.layout.record_key(key),
            "log": self.layout.log_key(key),
            "index_document": self.layout.index_document_key(key),
        }
        write_started = time.perf_counter()
        if article.index_document is None:
            outputs.pop("index_document")
        record = build_record(
            article,
            self.pipeline_version,
            task={"id": task_id, "attempts": attempt},
            outputs=outputs,
            extra_timings={"fetch": fetch_ms},
        )
        if article.index_document is not None:
            # The index keeps the newest version of an article: processed_at orders them.
            index_document = {**article.index_document, "processed_at": record["processed_at"], "pipeline_version": self.pipeline_version}
            self.store.put(outputs["index_document"], _json(index_document), content_type="application/json")
        write_ms = round((time.perf_counter() - write_started) * 1000, 3)
        record["timings_ms"]["write"] = write_ms
        record["timings_ms"]["total"] = round((time.perf_counter() - started) * 1000, 3)
        log.info("stage_finished", stage="write", duration_ms=write_ms)
        log.info(
            "article_processed",
            total_ms=record["timings_ms"]["total"],  # fetch to write, the whole article
            words=record["words"],
            removed_lines=article.removed_lines,
            language=(article.language or {}).get("code"),
            topic=_best_topic(article),
            notes=len(article.notes),
        )
        self._flush_log(key, collector)
        self.store.put(outputs["record"], _json(record), content_type="application/json")
        with contextlib.suppress(StoreError):
            self.store.delete(self.layout.quarantine_key(key))  # an older version may have been bad
        if self.on_document_written is not None and "index_document" in outputs:
            self.on_document_written(outputs["index_document"])
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

    def _quarantine(self, source: Source, exc: BaseException, reason: str, attempt, task_id, collector) -> Outcome:
        key = source.key
        qkey = self.layout.quarantine_key(key)
        log.warning("article_quarantined", reason=reason, error=type(exc).__name__, message=str(exc)[:500])
        self._flush_log(key, collector)
        record = build_quarantine(source, self.pipeline_version, reason=reason, error=exc, attempts=attempt, task_id=task_id)
        self.store.put(qkey, _json(record), content_type="application/json")
        return Outcome(QUARANTINED, key, source.etag, qkey, reason=reason, summary={"message": record["message"]})

    def quarantine_after_retries(self, key: str, etag: str | None, exc: BaseException, attempt: int, task_id: str | None) -> Outcome:
        """Retries ran out on a transient error: quarantine so an operator sees it."""
        bind(task_id=task_id, key=key, etag=etag, attempt=attempt)
        collector, token = start_article_log()
        try:
            source = Source(self.store.bucket, key, etag)
            return self._quarantine(source, exc, "retries_exhausted", attempt, task_id, collector)
        finally:
            stop_article_log(token)
            unbind("task_id", "key", "etag", "attempt")

    def _flush_log(self, key: str, collector) -> None:
        """Append this run's events to `logs/R.jsonl` (earlier attempts' lines stay first)."""
        lines = collector.render()
        if not lines:
            return
        log_key = self.layout.log_key(key)
        try:
            existing = self.store.get(log_key).data
        except NotFound:
            existing = b""
        self.store.put(log_key, existing + lines, content_type="application/x-ndjson")
        collector.lines.clear()


def _best_topic(article: Article) -> str | None:
    return article.topics[0]["label"] if article.topics and not article.topic_uncertain else None


def _json(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
