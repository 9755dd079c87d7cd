"""`copydesk status`: what the fleet is doing, from the broker, the workers and the bucket."""

from __future__ import annotations

from typing import Any

from .app import QUEUES
from .layout import Layout
from .storage import Store

# kombu's Redis transport keeps priority levels of a queue in sibling lists named
# queue + sep + priority; count them all.
KOMBU_PRIORITY_SEP = "\x06\x16"
KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)


def queue_depths(redis_client) -> dict[str, int]:
    depths = {}
    for queue in QUEUES:
        names = [queue] + [f"{queue}{KOMBU_PRIORITY_SEP}{p}" for p in KOMBU_PRIORITY_STEPS if p]
        depths[queue] = sum(int(redis_client.llen(name)) for name in names)
    return depths


def worker_activity(celery_app, timeout: float = 1.5) -> dict[str, Any]:
    inspect = celery_app.control.inspect(timeout=timeout)
    ping = inspect.ping() or {}
    active = inspect.active() or {}
    reserved = inspect.reserved() or {}
    return {
        "workers_alive": sorted(ping),
        "active": sum(len(v) for v in active.values()),
        "reserved": sum(len(v) for v in reserved.values()),
        "active_by_worker": {k: len(v) for k, v in active.items()},
    }


def article_counts(store: Store, layout: Layout) -> dict[str, int]:
    return {
        "inputs": sum(1 for info in store.list(layout.input_prefix) if layout.is_input(info.key)),
        "processed": sum(1 for info in store.list(layout.processed_prefix) if info.key.endswith(".json")),
        "quarantined": sum(1 for info in store.list(layout.quarantine_prefix) if info.key.endswith(".json")),
    }
