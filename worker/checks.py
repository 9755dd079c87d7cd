"""Startup checks: the worker and the listeners refuse to start when something every task
needs is missing, and say which and why in one line:

- the topic model (COPYDESK_MODEL_DIR) and the language model load;
- the store is readable (the input prefix lists) and writable (a probe object under the logs
  prefix: inside the configured prefixes, never under the input prefix, so it triggers
  nothing; deleted at once);
- the broker answers.

`copydesk worker` runs them before it starts Celery; a worker started as
`celery -A worker.app worker` runs them from the worker_init signal (worker/app.py) and exits
with status 1.
"""

from __future__ import annotations

import os
import socket
import uuid

from .logging import redact_text
from .settings import Settings
from .storage import Store, StoreError

#: The write probe goes to `<logs prefix><HEALTH_DIR><host>-<pid>-<random>`.
HEALTH_DIR = "_copydesk-health/"


class StartupError(RuntimeError):
    pass


def probe_key(settings: Settings) -> str:
    return f"{settings.logs_prefix}{HEALTH_DIR}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def check_readable(store: Store, settings: Settings) -> None:
    """List the input prefix (one object is enough); StartupError when the store does not answer."""
    try:
        next(iter(store.list(settings.input_prefix)), None)
    except StoreError as exc:
        raise StartupError(f"store {store.url} is not readable: {type(exc).__name__}: {exc}") from None


def check_store(store: Store, settings: Settings) -> None:
    probe = probe_key(settings)
    payload = b"copydesk health probe"
    check_readable(store, settings)
    try:
        store.put(probe, payload, content_type="text/plain")
        if store.get(probe).data != payload:
            raise StartupError(f"store {store.url} returned different bytes than were written")
        store.delete(probe)
    except StoreError as exc:
        raise StartupError(f"store {store.url} is not writable: {type(exc).__name__}: {exc}") from None


#: A small article the worker runs through the whole pipeline before it forks its pool: the
#: children inherit every import, compiled pattern and cache, so their first article is not
#: slower than the others (a cold first article took 4-6 s on a loaded machine).
WARM_UP_ARTICLE = (
    b"<html><head><title>Harbour council approves budget</title></head><body><article>"
    b"<h1>Harbour council approves budget</h1>"
    + b"<p>The harbour council approved next year's budget on Tuesday after a long debate.</p>" * 6
    + b"</article></body></html>"
)
#: And a plain-text one: the text cleaner and its patterns (RE2, compiled when its module is
#: imported: ~0.3 s of CPU) are not loaded by an HTML page, and each child would pay for them on
#: its first text article.
WARM_UP_TEXT = b"Harbour council approves budget\n\n" + b"The harbour council approved next year's budget on Tuesday after a long debate.\n\n" * 6


def check_models(settings: Settings) -> None:
    """Load the language and topic models as the tasks will (cached for the process), and run
    one small article through the pipeline."""
    from tasks.article import Article, Source
    from tasks.pipeline import build_pipeline
    from tasks.stages.classify import warm_up

    try:
        warm_up(settings.model_dir or None)
        pipeline = build_pipeline(model_dir=settings.model_dir or None, parse_limits=settings.parse_limits)
        pipeline.run(Article(Source("warm-up", "incoming/warm-up.html"), WARM_UP_ARTICLE))
        pipeline.run(Article(Source("warm-up", "incoming/warm-up.txt"), WARM_UP_TEXT))
    except Exception as exc:
        where = settings.model_dir or "the shipped model"
        raise StartupError(f"topic or language model cannot be loaded (COPYDESK_MODEL_DIR={where}): {type(exc).__name__}: {exc}") from None


def check_broker(broker_url: str, timeout: float = 5.0) -> None:
    import redis

    try:
        client = redis.Redis.from_url(broker_url, socket_connect_timeout=timeout, socket_timeout=timeout)
        client.ping()
    except Exception as exc:
        raise StartupError(f"broker {redact_text(broker_url)} does not answer: {type(exc).__name__}: {redact_text(str(exc))}") from None


def check_all(store: Store, settings: Settings) -> None:
    """Everything a task needs: models, store, broker (StartupError names the first missing)."""
    check_models(settings)
    check_store(store, settings)
    check_broker(settings.broker_url)


def health(store: Store, settings: Settings) -> dict:
    report = {"ok": True, "store": "ok", "broker": "ok"}
    try:
        check_readable(store, settings)
    except StartupError as exc:
        report.update(ok=False, store=str(exc))
    try:
        check_broker(settings.broker_url, timeout=2)
    except StartupError as exc:
        report.update(ok=False, broker=str(exc))
    return report
