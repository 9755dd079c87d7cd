"""Startup checks: the worker and the listeners refuse to start against a store they cannot
read and write, or a broker that does not answer, and say which and why."""

from __future__ import annotations

import os
import socket
import uuid

from .logging import redact_text
from .settings import Settings
from .storage import Store, StoreError

#: Where the write probe goes: outside every configured prefix, so it triggers nothing.
HEALTH_PREFIX = "_copydesk/health/"


class StartupError(RuntimeError):
    pass


def check_readable(store: Store, settings: Settings) -> None:
    """List the input prefix (one object is enough); StartupError when the store does not answer."""
    try:
        next(iter(store.list(settings.input_prefix)), None)
    except StoreError as exc:
        raise StartupError(f"store {store.url} is not readable: {type(exc).__name__}: {exc}") from None


def check_store(store: Store, settings: Settings) -> None:
    probe = f"{HEALTH_PREFIX}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    payload = b"copydesk health probe"
    check_readable(store, settings)
    try:
        store.put(probe, payload, content_type="text/plain")
        if store.get(probe).data != payload:
            raise StartupError(f"store {store.url} returned different bytes than were written")
        store.delete(probe)
    except StoreError as exc:
        raise StartupError(f"store {store.url} is not writable: {type(exc).__name__}: {exc}") from None


def check_broker(broker_url: str, timeout: float = 5.0) -> None:
    import redis

    try:
        client = redis.Redis.from_url(broker_url, socket_connect_timeout=timeout, socket_timeout=timeout)
        client.ping()
    except Exception as exc:
        raise StartupError(f"broker {redact_text(broker_url)} does not answer: {type(exc).__name__}: {redact_text(str(exc))}") from None


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
