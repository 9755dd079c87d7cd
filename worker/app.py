"""The Celery app: `celery -A worker.app worker` (or `copydesk worker`).

JSON is the only serializer accepted. Tasks are acknowledged late and rejected (requeued) when
their worker process dies, so a killed worker's task runs again; Redis' visibility timeout is
above the hard time limit so a long task is not handed out twice, and kombu checks for unacked
messages to restore every few seconds instead of every ~100 s.

Nothing is read from the environment at import: the app's configuration is a promise that is
kept on first use, from the settings a command passed to `configure(settings)` (after it
validated them) or, in `celery -A worker.app` processes, from the environment at that moment.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import setup_logging, worker_init, worker_process_init, worker_ready, worker_shutdown

from . import heartbeat, metrics
from .logging import configure_logging, get_logger
from .settings import Settings

ARTICLES_QUEUE = "copydesk.articles"
INDEX_QUEUE = "copydesk.index"
MAINTENANCE_QUEUE = "copydesk.maintenance"
QUEUES = (ARTICLES_QUEUE, INDEX_QUEUE, MAINTENANCE_QUEUE)

PROCESS_ARTICLE = "copydesk.process_article"
#: Several articles in one message (issue 15): the dispatcher's batches.
PROCESS_ARTICLES = "copydesk.process_articles"
SWEEP = "copydesk.sweep"
INDEX_BATCH = "copydesk.index_batch"
INDEX_MERGE = "copydesk.index_merge"
INDEX_REMOVE = "copydesk.index_remove"

#: Seconds between beat's runs of the index batch, in case a batch request was lost.
INDEX_SAFETY_NET_SECONDS = 60.0

#: Seconds between kombu's scans for unacked messages whose visibility timeout has passed.
UNACKED_RESTORE_INTERVAL = 2


def sweep_limits(settings: Settings) -> dict[str, int]:
    """The sweep task's own time limits, not the article's: given when it is sent (by beat and
    by a run that continues the pass, worker/jobs/maintenance.py)."""
    return {"soft_time_limit": settings.sweep_time_limit + 30, "time_limit": settings.sweep_time_limit + 45}


def celery_config(settings: Settings) -> dict:
    return {
        "broker_url": settings.broker_url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "event_serializer": "json",
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        # Pool children are replaced after a memory or task-count threshold (issue 11.8): one
        # large input no longer leaves a child holding its peak memory for good.
        "worker_max_memory_per_child": settings.max_memory_per_child or None,
        "worker_max_tasks_per_child": settings.max_tasks_per_child or None,
        "task_time_limit": settings.time_limit,
        "task_soft_time_limit": settings.soft_time_limit,
        "broker_transport_options": {
            "visibility_timeout": settings.visibility_timeout,
            "unacked_restore_interval": UNACKED_RESTORE_INTERVAL,
            # Scan on every interval, not every 10th (kombu's default throttle).
            "unacked_restore_throttle": 1,
        },
        "broker_connection_retry_on_startup": True,
        "task_default_queue": ARTICLES_QUEUE,
        "task_routes": {
            PROCESS_ARTICLE: {"queue": ARTICLES_QUEUE},
            PROCESS_ARTICLES: {"queue": ARTICLES_QUEUE},
            INDEX_BATCH: {"queue": INDEX_QUEUE},
            INDEX_MERGE: {"queue": INDEX_QUEUE},
            INDEX_REMOVE: {"queue": INDEX_QUEUE},
            SWEEP: {"queue": MAINTENANCE_QUEUE},
        },
        "beat_schedule": {
            **(
                {"reconciling-sweep": {"task": SWEEP, "schedule": float(settings.sweep_interval), "options": sweep_limits(settings)}}
                if settings.sweep_interval > 0
                else {}
            ),
            # A safety net for batch requests lost with a worker: pending documents get indexed.
            "index-pending": {"task": INDEX_BATCH, "schedule": INDEX_SAFETY_NET_SECONDS},
        },
        "worker_hijack_root_logger": False,
        # Task events off: they double the worker main process's CPU per task (issue 15). Flower
        # turns them on by itself (its --enable_events, on by default, broadcasts
        # `enable_events` to the workers); without Flower: `celery -A worker.app control
        # enable_events`, or start the worker with `-E`.
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "enable_utc": True,
    }


_settings: Settings | None = None


def current_settings() -> Settings:
    """The settings the app was configured with; read from the environment on first use."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def configure(settings: Settings) -> Celery:
    """Configure the app from already validated settings (before its first use)."""
    global _settings
    _settings = settings
    app.conf.update(celery_config(settings))
    return app


app = Celery(
    "copydesk",
    include=["worker.jobs.article", "worker.jobs.maintenance", "worker.jobs.indexing"],
)
# A promise: evaluated when the configuration is first read, not at import.
app.add_defaults(lambda: celery_config(current_settings()))
# Worker metrics (multiprocess /metrics), the enqueue-time header: worker/metrics.py.
metrics.install_celery_hooks(QUEUES)


@setup_logging.connect
def _configure_logging(loglevel=None, **_kwargs):
    # Connecting this signal stops Celery from installing its own handlers: its logs and
    # ours go through the same JSON renderer.
    settings = current_settings()
    configure_logging(settings.log_level, fmt=settings.log_format)


@worker_init.connect
def _startup_checks(**_kwargs):
    # The models are loaded once in the main process and shared by every pool child
    # (copy-on-write) instead of being loaded by each on its first article. Then the store and
    # the broker: a worker that cannot do its tasks refuses to start, with one line that says
    # why (issue 11.5), rather than acknowledging every task without a record.
    import sys

    from .logging import is_configured

    if not is_configured():  # worker_init may come before setup_logging: no console line first
        _configure_logging()
    from .checks import StartupError, check_all
    from .runtime import for_this_process

    settings = current_settings()
    try:
        check_all(for_this_process().store, settings)
    except (StartupError, ValueError) as exc:
        get_logger("copydesk.worker").error("startup_failed", error=str(exc))
        print(f"copydesk: error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    get_logger("copydesk.worker").info("models_loaded")


@worker_ready.connect
def _start_heartbeat(sender=None, **_kwargs):
    # `copydesk status` counts live workers from these beats (worker/heartbeat.py).
    if sender is not None and getattr(sender, "hostname", None):
        heartbeat.start(current_settings().broker_url, sender.hostname)


@worker_shutdown.connect
def _stop_heartbeat(**_kwargs):
    heartbeat.stop()


@worker_process_init.connect
def _after_fork(**_kwargs):
    get_logger("copydesk.worker").info("worker_process_started", pid=os.getpid())
