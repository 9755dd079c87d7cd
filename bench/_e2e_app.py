"""The Celery app of bench/e2e.py: copydesk's own app, plus what the bench needs to see.

- every store a worker process opens is wrapped in CountingStore;
- each finished task is recorded in Redis with one RPUSH to `bench:events` (its name, finish
  time, the articles it answered and its store requests), so the bench needs no polling of the
  store and the hook costs the pool little;
- `bench.noop`: a task with copydesk's base class and settings that does nothing, the floor.

Start it as `celery -A bench._e2e_app worker ...` with the same environment as copydesk.
"""

from __future__ import annotations

import os
import time

import redis
from celery.signals import task_postrun

import worker.runtime as runtime_module
from worker.app import ARTICLES_QUEUE, app
from worker.jobs.base import CopydeskTask
from worker.storage.counting import CountingStore

__all__ = ["app"]

NOOP = "bench.noop"
_open_store = runtime_module.open_store


def _counting_open_store(url: str):
    return CountingStore(_open_store(url))


runtime_module.open_store = _counting_open_store  # type: ignore[assignment]
app.conf.task_routes = {**app.conf.task_routes, NOOP: {"queue": ARTICLES_QUEUE}}

_redis: redis.Redis | None = None
_redis_pid: int | None = None


def _client() -> redis.Redis:
    global _redis, _redis_pid
    if _redis is None or _redis_pid != os.getpid():
        _redis = redis.Redis.from_url(os.environ["COPYDESK_BROKER_URL"])
        _redis_pid = os.getpid()
    return _redis


@app.task(bind=True, base=CopydeskTask, name=NOOP)
def noop(self, bucket: str, key: str, etag: str | None = None, **_kwargs):
    return {"status": "noop", "key": key}


@task_postrun.connect
def _after_task(task=None, kwargs=None, retval=None, **_rest):
    """One RPUSH per task: `name TAB finish time TAB keys (US-separated) TAB requests`, the
    articles whose records are in place (a batch's answered ones) and the store requests the
    task made; the bench parses the list (Stack.events)."""
    finished = time.time()
    name = getattr(task, "name", "?")
    if isinstance(retval, dict) and retval.get("status") == "batch":
        keys = [a[1] for a in retval.get("articles") or ()]
    elif isinstance(retval, dict) and kwargs and "key" in kwargs:
        keys = [kwargs["key"]]
    else:
        keys = []  # a retry, a failure, an index or maintenance task
    rt = runtime_module._runtime
    counts = rt.store.reset() if rt is not None and "store" in rt.__dict__ and isinstance(rt.store, CountingStore) else {}
    requests = ",".join(f"{verb}={n}" for verb, n in counts.items())
    _client().rpush("bench:events", f"{name}\t{finished:.6f}\t{chr(31).join(keys)}\t{requests}")


# -- optional: cProfile each pool child (BENCH_PROFILE_DIR=dir), stats written as it exits --
if os.environ.get("BENCH_PROFILE_DIR"):
    import cProfile

    from celery.signals import worker_process_init, worker_process_shutdown

    import time as _time

    _profiler = cProfile.Profile(_time.process_time)  # CPU time: the machine is shared

    @worker_process_init.connect
    def _start_profile(**_kw):
        _profiler.enable()

    @worker_process_shutdown.connect
    def _dump_profile(**_kw):
        _profiler.disable()
        _profiler.dump_stats(os.path.join(os.environ["BENCH_PROFILE_DIR"], f"child-{os.getpid()}.prof"))
