"""Prometheus metrics: every instrumentation call of copydesk is in this module.

Roles and where their `/metrics` is served:
- worker (`celery -A worker.app worker`, prefork): the pool's children count, the main process
  serves the sum on COPYDESK_METRICS_PORT. prometheus-client's multiprocess mode: each child
  writes its values to files in PROMETHEUS_MULTIPROC_DIR; the main process sets that variable
  (to a fresh temporary folder, or empties the folder given) before any metric exists and
  before the pool forks, and removes the folder it made when it exits.
- HTTP listener: `GET /metrics` on the listener's own port; the SQS listener and beat serve on
  COPYDESK_METRICS_PORT.
- Every server also reports the queues (`copydesk_queue_*`, read from Redis at scrape time),
  so the figures exist when workers are scaled to zero; aggregate them with `max by (queue)`.

Metrics are created on first use in a process (`_m()`), after `serve_worker` has chosen the
mode, never at import time.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any, cast

from .broker import ENQUEUED_AT_HEADER, queue_snapshot
from .logging import get_logger

log = get_logger("copydesk.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

#: Listener results: what the dispatcher answered, folded into the four the issue names.
LISTENER_RESULTS = {
    "enqueued": "enqueued",
    "removal_enqueued": "enqueued",
    "current": "duplicate",
    "already_queued": "duplicate",
    "ignored": "ignored",
    "missing": "ignored",
}


@dataclass
class _Metrics:
    registry: Any
    articles_processed: Any
    articles_quarantined: Any
    articles_skipped: Any
    task_retries: Any
    tasks_finished: Any
    tasks_in_flight: Any
    worker_processes: Any
    stage_seconds: Any
    clean_readings: Any
    article_seconds: Any
    store_read_bytes: Any
    store_written_bytes: Any
    events_received: Any
    events: Any


_metrics: _Metrics | None = None
_lock = threading.Lock()
#: Set in a worker's main process before its pool forks (serve_worker): only workers write
#: their values to PROMETHEUS_MULTIPROC_DIR, whatever the environment says to other roles.
_multiprocess = False
#: The queues reported by /metrics (app.py passes them to install_celery_hooks).
_queues: tuple[str, ...] = ()


def _m() -> _Metrics:
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = _create()
    return _metrics


def _create() -> _Metrics:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

    values.ValueClass = values.MultiProcessValue() if _multiprocess else values.MutexValue

    registry = CollectorRegistry(auto_describe=True)
    return _Metrics(
        registry=registry,
        articles_processed=Counter("copydesk_articles_processed", "Articles processed (record written).", registry=registry),
        articles_quarantined=Counter("copydesk_articles_quarantined", "Articles quarantined, by reason.", ["reason"], registry=registry),
        articles_skipped=Counter("copydesk_articles_skipped", "Article tasks skipped (already current, source gone), by reason.", ["reason"], registry=registry),
        task_retries=Counter("copydesk_task_retries", "Task retries, by task and cause (the exception class).", ["task", "cause"], registry=registry),
        tasks_finished=Counter("copydesk_tasks_finished", "Tasks finished, by task and Celery state.", ["task", "state"], registry=registry),
        tasks_in_flight=Gauge("copydesk_tasks_in_flight", "Tasks running now, by task.", ["task"], multiprocess_mode="livesum", registry=registry),
        worker_processes=Gauge("copydesk_worker_processes", "Worker pool processes alive.", multiprocess_mode="livesum", registry=registry),
        stage_seconds=Histogram("copydesk_stage_duration_seconds", "Time per stage of an article, in seconds.", ["stage"], buckets=STAGE_BUCKETS, registry=registry),
        clean_readings=Counter("copydesk_clean_readings", "HTML articles by the reading the clean stage kept (trafilatura, readability) and what its judge did (compared, skipped, failed).", ["reading", "judge"], registry=registry),
        article_seconds=Histogram("copydesk_article_duration_seconds", "Time per processed article (fetch to write), in seconds.", buckets=STAGE_BUCKETS, registry=registry),
        store_read_bytes=Counter("copydesk_store_read_bytes", "Bytes read from the store by article jobs.", registry=registry),
        store_written_bytes=Counter("copydesk_store_written_bytes", "Bytes written to the store by article jobs.", registry=registry),
        events_received=Counter("copydesk_listener_events_received", "Object events received by a listener, by source.", ["source"], registry=registry),
        events=Counter("copydesk_listener_events", "Object events handled by a listener, by source and result (enqueued, duplicate, ignored, failed).", ["source", "result"], registry=registry),
    )


# -- instrumentation (small calls for the rest of the code) ---------------------------------
def observe_timings(timings_ms: dict[str, float]) -> None:
    """An article's per-stage timings (the record's `timings_ms`)."""
    m = _m()
    for stage, ms in timings_ms.items():
        if stage == "total":
            m.article_seconds.observe(ms / 1000)
        else:
            m.stage_seconds.labels(stage).observe(ms / 1000)


def observe_reading(reading: dict[str, Any]) -> None:
    """The clean stage's reading of an HTML article (the record's log field `reading`, the judge's
    verdict): which reading was kept, and whether the judge compared the two, was not asked
    (`judge_skipped`) or failed (`judge_failure`; v11's reading was kept)."""
    judge = "failed" if "judge_failure" in reading else "skipped" if "judge_skipped" in reading else "compared"
    _m().clean_readings.labels(str(reading.get("reading", "unknown")), judge).inc()


def listener_event(source: str, result: str) -> None:
    m = _m()
    m.events_received.labels(source).inc()
    m.events.labels(source, LISTENER_RESULTS.get(result, result)).inc()


class CountingStore:
    """The store an article job sees: the same, counting bytes read and written."""

    def __init__(self, store) -> None:
        self._store = store

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def get(self, key: str, **kwargs):
        obj = self._store.get(key, **kwargs)
        _m().store_read_bytes.inc(len(obj.data))
        return obj

    def put(self, key: str, data: bytes, **kwargs):
        result = self._store.put(key, data, **kwargs)
        _m().store_written_bytes.inc(len(data))
        return result


def counting_store(store):
    from .storage import Store

    return cast(Store, CountingStore(store))


class CountingDispatcher:
    """A listener's dispatcher: the same, counting each event by result."""

    def __init__(self, dispatcher, source: str) -> None:
        self._dispatcher = dispatcher
        self.source = source

    def __getattr__(self, name: str):
        return getattr(self._dispatcher, name)

    def submit(self, event, **kwargs) -> str:
        try:
            result = self._dispatcher.submit(event, **kwargs)
        except BaseException:
            listener_event(self.source, "failed")
            raise
        listener_event(self.source, result)
        return result


def counting_dispatcher(dispatcher, source: str):
    from .dispatch import Dispatcher

    return cast(Dispatcher, CountingDispatcher(dispatcher, source))


# -- Celery hooks ----------------------------------------------------------------------------
def install_celery_hooks(queues: tuple[str, ...]) -> None:
    """Connect the Celery signals that feed the worker metrics and stamp the enqueue time;
    `queues` are the ones /metrics reports."""
    from celery import signals

    global _queues
    _queues = tuple(queues)

    signals.before_task_publish.connect(_stamp_enqueue_time, weak=False)
    signals.worker_init.connect(_worker_init, weak=False)
    signals.worker_process_init.connect(_child_started, weak=False)
    signals.worker_process_shutdown.connect(_child_stopping, weak=False)
    signals.task_prerun.connect(_task_started, weak=False)
    signals.task_postrun.connect(_task_finished, weak=False)
    signals.task_retry.connect(_task_retried, weak=False)
    signals.beat_init.connect(_beat_init, weak=False)


def _stamp_enqueue_time(headers=None, **_kwargs) -> None:
    if headers is not None:
        headers[ENQUEUED_AT_HEADER] = time.time()


def _worker_init(**_kwargs) -> None:
    serve_worker()


def _beat_init(**_kwargs) -> None:
    port = _port()
    if port:
        serve(port)


def _child_started(**_kwargs) -> None:
    _m().worker_processes.set(1)


def _child_stopping(pid=None, **_kwargs) -> None:
    if _multiprocess:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


def _task_started(task=None, **_kwargs) -> None:
    if task is not None:
        _m().tasks_in_flight.labels(task.name).inc()


def _task_finished(task=None, retval=None, state=None, **_kwargs) -> None:
    if task is None:
        return
    m = _m()
    m.tasks_in_flight.labels(task.name).dec()
    m.tasks_finished.labels(task.name, state or "UNKNOWN").inc()
    if not isinstance(retval, dict) or "status" not in retval:
        return
    if retval["status"] == "batch":  # copydesk.process_articles: [status, key, reason] each
        answered = [(a[0], a[2]) for a in retval.get("articles") or () if isinstance(a, list) and len(a) == 3]
    else:
        answered = [(retval["status"], retval.get("reason"))]
    processed = 0
    for status, reason in answered:
        if status == "processed":
            processed += 1
        elif status == "quarantined":
            m.articles_quarantined.labels(reason or "unknown").inc()
        elif status == "skipped":
            m.articles_skipped.labels(reason or "unknown").inc()
    if processed:
        m.articles_processed.inc(processed)


def _task_retried(sender=None, reason=None, **_kwargs) -> None:
    cause = getattr(reason, "exc", None) or reason
    _m().task_retries.labels(getattr(sender, "name", "unknown"), type(cause).__name__).inc()


# -- serving ---------------------------------------------------------------------------------
def _port() -> int:
    from .settings import Settings

    return Settings.from_env().metrics_port


def prepare_multiprocess() -> str:
    """Multiprocess mode for this process and the children it forks: a clean folder.

    Must run before any metric exists in this process (they are created on first use).
    """
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))
    else:
        folder = tempfile.mkdtemp(prefix="copydesk-metrics-")
        os.environ[MULTIPROC_ENV] = folder
        owner = os.getpid()

        def remove(path: str = folder) -> None:
            if os.getpid() == owner:  # not in a forked child
                shutil.rmtree(path, ignore_errors=True)

        atexit.register(remove)
    global _multiprocess
    _multiprocess = True
    return folder


def serve_worker() -> None:
    """In a worker's main process, before the pool forks."""
    global _metrics
    folder = prepare_multiprocess()
    _metrics = None  # created again, in multiprocess mode
    port = _port()
    if port:
        serve(port)
    log.info("metrics_ready", port=port or None, multiproc_dir=folder)


def registry():
    """What /metrics shows in this process: the children's files in multiprocess mode, else
    this process' metrics; plus the queues."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    reg = CollectorRegistry()
    if _multiprocess:
        MultiProcessCollector(reg)
    else:
        reg.register(_Forward(_m().registry))
    reg.register(QueueCollector())
    return reg


class _Forward:
    def __init__(self, inner) -> None:
        self.inner = inner

    def collect(self):
        return self.inner.collect()


def render() -> tuple[bytes, str]:
    """The /metrics body and its content type (for servers of our own, like the listener)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(registry()), CONTENT_TYPE_LATEST


def serve(port: int, addr: str = "0.0.0.0") -> bool:
    """Serve /metrics on `port` in a thread. A port in use is logged, not fatal."""
    from prometheus_client import start_http_server

    try:
        start_http_server(port, addr=addr, registry=_LazyRegistry())
    except OSError as exc:
        log.error("metrics_port_unavailable", port=port, error=str(exc))
        return False
    log.info("metrics_listening", port=port)
    return True


class _LazyRegistry:
    """Builds the registry on each scrape (the multiprocess collector reads the files then)."""

    def collect(self):
        return registry().collect()


# -- queues ----------------------------------------------------------------------------------
class QueueCollector:
    """copydesk_queue_messages / _unacked / _oldest_age_seconds per queue, read at scrape time
    from Redis in one MULTI/EXEC (see worker/status.py)."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        try:
            snapshot = queue_snapshot(_redis(), _queues)
        except Exception as exc:  # a scrape must not fail because Redis does not answer
            log.warning("metrics_queue_read_failed", error=type(exc).__name__)
            return
        waiting = GaugeMetricFamily("copydesk_queue_messages", "Messages waiting in the queue.", labels=["queue"])
        unacked = GaugeMetricFamily("copydesk_queue_unacked", "Messages handed to a worker and not acknowledged yet.", labels=["queue"])
        age = GaugeMetricFamily("copydesk_queue_oldest_age_seconds", "Age of the oldest waiting message (0 when empty).", labels=["queue"])
        for name, q in snapshot["queues"].items():
            waiting.add_metric([name], q["waiting"])
            unacked.add_metric([name], q["unacked"])
            age.add_metric([name], q["oldest_age_s"] or 0.0)
        yield waiting
        yield unacked
        yield age


_redis_client = None
_redis_pid: int | None = None


def _redis():
    global _redis_client, _redis_pid
    if _redis_client is None or _redis_pid != os.getpid():
        import redis

        from .settings import Settings

        _redis_client = redis.Redis.from_url(Settings.from_env().broker_url, socket_timeout=2, socket_connect_timeout=2)
        _redis_pid = os.getpid()
    return _redis_client


def exported_names() -> set[str]:
    """Every series name this code exports, as Prometheus sees them (for the infra tests)."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"), "gauge": ("",)}
    names: set[str] = set()
    for family in _create().registry.collect():
        names.update(family.name + suffix for suffix in suffixes[family.type])
    names.update(("copydesk_queue_messages", "copydesk_queue_unacked", "copydesk_queue_oldest_age_seconds"))
    return names
