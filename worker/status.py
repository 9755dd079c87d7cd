"""`copydesk status`: what the fleet is doing, from the broker and the workers.

One snapshot: every queue figure and the workers' heartbeats come from one Redis MULTI/EXEC (so
waiting, unacked and the oldest message's age agree with each other), then the workers with a
fresh heartbeat (worker/heartbeat.py) are asked, all at once by each of three broadcasts
(stats, then active and reserved of those that answered it), each ending as soon as all of them
answered, or after a short timeout; with no heartbeat nothing is broadcast. The bucket is only
listed on request (`--articles`): on a big bucket that listing is what made the old command take
seconds.

Kombu's Redis transport keeps a queue as a list (LPUSH in, BRPOP from the right end, so the
oldest message is at index -1), its priority levels in sibling lists, and every message handed
to a consumer and not yet acknowledged in one hash (`unacked`). copydesk stamps the publish
time in each message's headers (`copydesk_enqueued_at`, see worker/metrics.py), so the age of
the oldest waiting message is read from the list without a broker plugin.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .app import PROCESS_ARTICLE, PROCESS_ARTICLES, QUEUES
from .broker import queue_snapshot as _queue_snapshot
from .heartbeat import alive as alive_workers

def queue_snapshot(client, queues: tuple[str, ...] = QUEUES, now: float | None = None) -> dict[str, Any]:
    """Waiting, unacked and oldest age of copydesk's queues, in one MULTI/EXEC (worker/broker.py)."""
    return _queue_snapshot(client, queues, now)


def queue_depths(redis_client) -> dict[str, int]:
    return {name: q["waiting"] for name, q in queue_snapshot(redis_client)["queues"].items()}


#: BRPOP timeout of the connection that collects the workers' replies.
REPLY_POLL_SECONDS = 0.1


def worker_activity(celery_app, timeout: float, expected: int) -> dict[str, Any]:
    """stats, active and reserved from every worker: each is one broadcast that all workers
    answer at once.

    `expected` is the number of workers with a fresh heartbeat: `stats` ends when that many
    answered; when it is 0 no worker can answer, so nothing is broadcast (the broadcast would
    only wait out its timeout)."""
    if expected == 0:
        return {"workers": {}, "workers_alive": 0, "active": 0, "reserved": 0}

    def ask(method: str, limit: int | None) -> dict:
        # The replies are read by BRPOP, and closing the connection waits for the one in flight:
        # with kombu's 1 s BRPOP timeout a silent worker cost ~0.9 s more after the broadcast's
        # own timeout. A short poll bounds that wait.
        with celery_app.connection_for_read(transport_options={"polling_interval": REPLY_POLL_SECONDS}) as conn:
            inspect = celery_app.control.inspect(timeout=timeout, connection=conn, limit=limit)
            return getattr(inspect, method)() or {}

    # One broadcast at a time: three at once from threads took ~1 s together whatever the
    # timeout when a worker did not answer (they contend in kombu's Redis polling). `stats`
    # first; `active` and `reserved` then wait only for the workers that answered it, so a
    # silent one costs one timeout, not three.
    stats = ask("stats", expected)
    active = ask("active", len(stats)) if stats else {}
    reserved = ask("reserved", len(stats)) if stats else {}
    workers: dict[str, dict[str, Any]] = {}
    for name in sorted(set(stats) | set(active) | set(reserved)):
        s = stats.get(name) or {}
        totals = s.get("total") or {}
        workers[name] = {
            "concurrency": (s.get("pool") or {}).get("max-concurrency"),
            "active": len(active.get(name) or []),
            "reserved": len(reserved.get(name) or []),
            "tasks_total": sum(int(v) for v in totals.values()),
            # Article task messages: one article each, or a batch (copydesk.process_articles,
            # counted once: Celery's totals count messages).
            "articles_total": int(totals.get(PROCESS_ARTICLE, 0)) + int(totals.get(PROCESS_ARTICLES, 0)),
            "uptime_s": s.get("uptime"),
        }
    return {
        "workers": workers,
        "workers_alive": len(workers),
        "active": sum(w["active"] for w in workers.values()),
        "reserved": sum(w["reserved"] for w in workers.values()),
    }


def article_counts(store, layout) -> dict[str, int]:
    """Lists the bucket: seconds on a big one, so only on request."""
    return {
        "inputs": sum(1 for info in store.list(layout.input_prefix) if layout.is_input(info.key)),
        "processed": sum(1 for info in store.list(layout.processed_prefix) if info.key.endswith(".json")),
        "quarantined": sum(1 for info in store.list(layout.quarantine_prefix) if info.key.endswith(".json")),
    }


def snapshot(celery_app, redis_client, *, timeout: float, max_age: float) -> dict[str, Any]:
    started = time.perf_counter()
    queues = queue_snapshot(redis_client)
    beating = alive_workers(queues["heartbeats"], queues["server_time"])
    # Only the workers with a fresh heartbeat can answer: the broadcast waits for them alone.
    workers = worker_activity(celery_app, timeout=timeout, expected=len(beating))
    for name, age in beating.items():
        # Alive by its heartbeat but no answer within the timeout (busy main process, or
        # stopped since its last beat): listed, its figures unknown.
        entry = workers["workers"].setdefault(name, {
            "concurrency": None, "active": 0, "reserved": 0, "tasks_total": 0, "articles_total": 0,
            "uptime_s": None, "answered": False,
        })
        entry.setdefault("answered", True)
        entry["heartbeat_age_s"] = age
    workers["workers"] = dict(sorted(workers["workers"].items()))
    workers["workers_alive"] = len(workers["workers"])
    problems = []
    if not workers["workers_alive"]:
        problems.append("no worker alive")
    for name, q in queues["queues"].items():
        if q["oldest_age_s"] is not None and q["oldest_age_s"] > max_age:
            problems.append(f"{name}: oldest message waited {q['oldest_age_s']:.0f}s (limit {max_age:.0f}s)")
    return {
        "ok": not problems,
        "problems": problems,
        "time": queues["time"],
        "queues": queues["queues"],
        **workers,
        "elapsed_s": round(time.perf_counter() - started, 3),
    }


# -- --watch: rates over the last minutes ----------------------------------------------------
@dataclass
class Rates:
    """Keeps recent snapshots; rates over a window from per-worker task totals (a restarted
    worker's counter going down is not counted as negative work)."""

    windows: tuple[int, ...] = (60, 300)
    history: deque = field(default_factory=lambda: deque(maxlen=2000))

    def add(self, snap: dict[str, Any]) -> None:
        self.history.append(
            (
                snap["time"],
                {name: w["articles_total"] for name, w in snap["workers"].items()},
                {name: q["waiting"] for name, q in snap["queues"].items()},
            )
        )
        horizon = snap["time"] - max(self.windows) - 5
        while self.history and self.history[0][0] < horizon:
            self.history.popleft()

    def _base(self, window: int):
        now = self.history[-1][0]
        for item in self.history:
            if item[0] >= now - window:
                return item
        return self.history[-1]

    def articles_per_s(self, window: int) -> float | None:
        if len(self.history) < 2:
            return None
        t1, done1, _ = self.history[-1]
        t0: float | None = None
        # Each worker counts from its first sighting in the window: one that starts (or first
        # answers) mid-window is not left out until the window has slid past its arrival.
        first_seen: dict[str, int] = {}
        for t, done, _waiting in self.history:
            if t < t1 - window:
                continue
            if t0 is None:
                t0 = t
            for name, total in done.items():
                first_seen.setdefault(name, total)
        if t0 is None or t1 <= t0:
            return None
        work = sum(max(0, total - first_seen.get(name, total)) for name, total in done1.items())
        return work / (t1 - t0)

    def queue_growth_per_s(self, queue: str, window: int) -> float | None:
        if len(self.history) < 2:
            return None
        t0, _, waiting0 = self._base(window)
        t1, _, waiting1 = self.history[-1]
        if t1 <= t0:
            return None
        return (waiting1.get(queue, 0) - waiting0.get(queue, 0)) / (t1 - t0)


def render_table(snap: dict[str, Any], rates: Rates | None = None):
    """The rich renderable of `status --watch` (and of `status` on a terminal)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}/s"

    stamp = time.strftime("%H:%M:%S", time.localtime(snap["time"]))
    head = Text(f"copydesk status  {stamp}  ({snap['elapsed_s']:.2f}s)  ")
    head.append("OK" if snap["ok"] else "PROBLEM: " + "; ".join(snap["problems"]), style="bold green" if snap["ok"] else "bold red")
    queues = Table(title="queues", title_justify="left")
    for column in ("queue", "waiting", "unacked", "oldest age"):
        queues.add_column(column, justify="left" if column == "queue" else "right")
    if rates is not None:
        queues.add_column("growth 1m", justify="right")
        queues.add_column("growth 5m", justify="right")
    for name, q in snap["queues"].items():
        age = "-" if q["oldest_age_s"] is None else f"{q['oldest_age_s']:.1f}s"
        row = [name, str(q["waiting"]), str(q["unacked"]), age]
        if rates is not None:
            row += [rate(rates.queue_growth_per_s(name, 60)), rate(rates.queue_growth_per_s(name, 300))]
        queues.add_row(*row)
    workers = Table(title=f"workers ({snap['workers_alive']} alive)", title_justify="left")
    for column in ("worker", "procs", "active", "reserved", "articles", "tasks", "uptime"):
        workers.add_column(column, justify="left" if column == "worker" else "right")
    for name, w in snap["workers"].items():
        workers.add_row(
            name if w.get("answered", True) else f"{name} (no answer)", str(w["concurrency"] or "-"), str(w["active"]), str(w["reserved"]),
            str(w["articles_total"]), str(w["tasks_total"]), "-" if w["uptime_s"] is None else f"{w['uptime_s']}s",
        )
    parts: list[Any] = [head, queues, workers]
    if rates is not None:
        parts.append(Text(f"articles processed: {rate(rates.articles_per_s(60))} over 1 min, {rate(rates.articles_per_s(300))} over 5 min"))
    return Group(*parts)
