"""The services one process needs, built lazily from Settings: store, layout, pipeline, job.

A worker process forks children; boto3 clients and Redis connections must not cross a fork,
so everything is built on first use in the process that uses it (see `for_this_process`).
"""

from __future__ import annotations

import os
import threading
from functools import cached_property

from tasks.pipeline import Pipeline, build_pipeline

from . import metrics
from .dispatch import Dispatcher, RedisClaims
from .layout import Layout
from .processing import ArticleJob
from .settings import Settings
from .storage import Store, open_store


class Runtime:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self._store = store
        self._stores: dict[str, Store] = {}
        self._lock = threading.Lock()
        #: The Celery article task's jobs by bucket, built once per process (worker/jobs/article.py).
        self.article_jobs: dict[str | None, ArticleJob] = {}
        #: While a batch of articles runs (worker/jobs/article.py): its articles' index documents
        #: (document key, document, pending marker once written), announced to the index queue
        #: together at the end; None otherwise. `defer_markers`: the markers are written at the
        #: end too (only when the records are: a record is never in place before its marker).
        self.held_documents: list[tuple[str, bytes, str | None]] | None = None
        self.defer_markers = False

    @cached_property
    def store(self) -> Store:
        return self._store or open_store(self.settings.store)

    def store_for(self, bucket: str | None) -> Store:
        """The store holding `bucket`: the configured one, or another bucket of the same S3."""
        if bucket in (None, "", self.store.bucket):
            return self.store
        if not self.settings.store.startswith("s3://"):
            raise ValueError(f"event for bucket {bucket!r} but the store is {self.store.url}")
        with self._lock:
            if bucket not in self._stores:
                self._stores[bucket] = open_store(f"s3://{bucket}")
            return self._stores[bucket]

    @cached_property
    def layout(self) -> Layout:
        return Layout.from_settings(self.settings)

    @cached_property
    def pipeline(self) -> Pipeline:
        return build_pipeline(model_dir=self.settings.model_dir or None, parse_limits=self.settings.parse_limits)

    @property
    def pipeline_version(self) -> str:
        return self.pipeline.version

    @cached_property
    def redis(self):
        import redis

        return redis.Redis.from_url(self.settings.broker_url, socket_timeout=10, socket_connect_timeout=5)

    def job(self, bucket: str | None = None, on_document_written=None, instrumented: bool = True) -> ArticleJob:
        """The article job; `instrumented=False` (the embedded runner, which serves no
        /metrics) skips the Prometheus metrics: the byte counters and the stage histograms."""
        store = self.store_for(bucket)
        return ArticleJob(
            metrics.counting_store(store) if instrumented else store,
            self.layout,
            self.pipeline,
            max_bytes=self.settings.max_bytes,
            on_document_written=on_document_written,
            durable_records=self.settings.fsync_records,
            instrumented=instrumented,
        )

    def dispatcher(self, queue) -> Dispatcher:
        return Dispatcher(
            self.store,
            self.layout,
            queue,
            RedisClaims(self.redis),
            self.pipeline_version,
            self.settings.claim_seconds,
            batch_size=self.settings.dispatch_batch,
            batch_seconds=self.settings.dispatch_batch_seconds,
        )


_runtime: Runtime | None = None
_runtime_pid: int | None = None


def for_this_process() -> Runtime:
    """The process-wide runtime from the environment, rebuilt after a fork."""
    global _runtime, _runtime_pid
    if _runtime is None or _runtime_pid != os.getpid():
        _runtime = Runtime(Settings.from_env())
        _runtime_pid = os.getpid()
    return _runtime
