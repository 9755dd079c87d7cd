"""What kombu's Redis transport keeps in Redis, read without a broker plugin.

A queue is a list (LPUSH in, BRPOP from the right end, so the oldest message is at index -1),
its priority levels are sibling lists, and every message handed to a consumer and not yet
acknowledged is in one hash (`unacked`). copydesk stamps the publish time in each message's
headers (ENQUEUED_AT_HEADER, see worker/metrics.py), so the age of the oldest waiting message
is read from the list itself. Used by `copydesk status` and the queue metrics.
"""

from __future__ import annotations

import json
import time
from typing import Any

#: Message header carrying the publish time (epoch seconds) of every task.
ENQUEUED_AT_HEADER = "copydesk_enqueued_at"

# kombu's Redis transport keeps priority levels of a queue in sibling lists named
# queue + sep + priority; count them all.
KOMBU_PRIORITY_SEP = "\x06\x16"
KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)
KOMBU_UNACKED = "unacked"
#: copydesk's own: worker name -> last heartbeat (Redis server time), see worker/heartbeat.py.
WORKER_HEARTBEATS = "copydesk:workers"


def _lists(queue: str) -> list[str]:
    return [queue] + [f"{queue}{KOMBU_PRIORITY_SEP}{p}" for p in KOMBU_PRIORITY_STEPS if p]


def _enqueued_at(raw: bytes | None) -> float | None:
    if not raw:
        return None
    try:
        value = json.loads(raw).get("headers", {}).get(ENQUEUED_AT_HEADER)
        return float(value) if value is not None else None
    except (ValueError, TypeError, AttributeError):
        return None


def _routing_key(raw: bytes) -> str | None:
    try:
        _message, _exchange, routing_key = json.loads(raw)
        return routing_key
    except (ValueError, TypeError):
        return None


def queue_snapshot(client, queues: tuple[str, ...], now: float | None = None) -> dict[str, Any]:
    """Waiting, unacked and oldest age per queue and the workers' heartbeats, all read in one
    MULTI/EXEC round trip."""
    pipe = client.pipeline(transaction=True)
    for queue in queues:
        for name in _lists(queue):
            pipe.llen(name)
            pipe.lindex(name, -1)
    pipe.hvals(KOMBU_UNACKED)
    pipe.zrange(WORKER_HEARTBEATS, 0, -1, withscores=True)
    pipe.time()
    results = pipe.execute()
    now = time.time() if now is None else now
    unacked_by_queue: dict[str, int] = {}
    for raw in results[-3]:
        key = _routing_key(raw)
        if key is not None:
            unacked_by_queue[key] = unacked_by_queue.get(key, 0) + 1
    report: dict[str, Any] = {}
    i = 0
    for queue in queues:
        waiting = 0
        oldest: float | None = None
        for _name in _lists(queue):
            length, last = results[i], results[i + 1]
            i += 2
            waiting += int(length)
            stamp = _enqueued_at(last)
            if stamp is not None and (oldest is None or stamp < oldest):
                oldest = stamp
        report[queue] = {
            "waiting": waiting,
            "unacked": unacked_by_queue.get(queue, 0),
            "oldest_age_s": round(max(0.0, now - oldest), 3) if oldest is not None and waiting else None,
        }
    server_seconds, server_micro = results[-1]
    return {
        "time": now,
        "queues": report,
        # ZRANGE's (name, stamp) pairs and the server's clock: worker/heartbeat.py tells who is alive.
        "heartbeats": results[-2],
        "server_time": float(server_seconds) + float(server_micro) / 1e6,
    }
