"""Worker heartbeats in Redis: who is alive, without a broadcast.

Each worker's main process stamps its name in one sorted set (`WORKER_HEARTBEATS`) every
`BEAT_SECONDS`, scored with the Redis server's clock (so hosts with skewed clocks agree), and
removes itself on a warm shutdown. `copydesk status` reads the set in the same MULTI as the
queues: a worker whose stamp is younger than `FRESH_SECONDS` is alive. The broadcast that asks
workers for their active and reserved tasks then waits for exactly those workers, and is not
sent at all when there are none. Without the set, a worker killed with SIGKILL would leave its
control queue binding behind and every `status` would wait out the broadcast timeout for it.
"""

from __future__ import annotations

import threading

from .broker import WORKER_HEARTBEATS
from .logging import get_logger

log = get_logger("copydesk.heartbeat")

BEAT_SECONDS = 2
#: A worker missing three beats in a row is taken for dead.
FRESH_SECONDS = 3 * BEAT_SECONDS
#: Stamps older than this are dropped by the next beat of any worker (the set stays small).
FORGET_SECONDS = 24 * 3600


def beat(client, name: str) -> None:
    """One heartbeat: stamp `name` with the server's time, forget long-dead workers."""
    now, _micro = client.time()
    pipe = client.pipeline(transaction=True)
    pipe.zadd(WORKER_HEARTBEATS, {name: now})
    pipe.zremrangebyscore(WORKER_HEARTBEATS, "-inf", now - FORGET_SECONDS)
    pipe.execute()


def alive(stamps: list[tuple[bytes | str, float]], server_now: float) -> dict[str, float]:
    """Workers whose last beat is fresh, with its age in seconds (from ZRANGE WITHSCORES)."""
    out: dict[str, float] = {}
    for raw, score in stamps:
        name = raw.decode() if isinstance(raw, bytes) else raw
        age = server_now - float(score)
        if age <= FRESH_SECONDS:
            out[name] = round(max(0.0, age), 1)
    return out


class Heartbeat:
    """The beating thread of one worker's main process (started on `worker_ready`)."""

    def __init__(self, broker_url: str, name: str) -> None:
        self.broker_url = broker_url
        self.name = name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="copydesk-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _client(self):
        import redis

        return redis.Redis.from_url(self.broker_url, socket_timeout=5, socket_connect_timeout=5)

    def _run(self) -> None:
        client = self._client()
        failing = False
        while not self._stop.is_set():
            try:
                beat(client, self.name)
            except Exception as exc:  # the broker being away is the worker's problem, not ours
                if not failing:  # once per outage, not every BEAT_SECONDS
                    log.warning("heartbeat_failed", worker=self.name, error=f"{type(exc).__name__}: {exc}")
                failing = True
            else:
                if failing:
                    log.info("heartbeat_restored", worker=self.name)
                failing = False
            self._stop.wait(BEAT_SECONDS)

    def stop(self) -> None:
        self._stop.set()
        try:
            self._client().zrem(WORKER_HEARTBEATS, self.name)
        except Exception as exc:
            log.warning("heartbeat_remove_failed", worker=self.name, error=f"{type(exc).__name__}: {exc}")


_current: Heartbeat | None = None


def start(broker_url: str, name: str) -> None:
    """Start beating for the worker `name` (its main process, once)."""
    global _current
    if _current is None:
        _current = Heartbeat(broker_url, name)
        _current.start()


def stop() -> None:
    if _current is not None:
        _current.stop()
