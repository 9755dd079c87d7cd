"""Where an article task's CPU goes beyond the stages (issue 15), in one process.

Runs the same inputs (BBC texts, HTML pages) twice in one process: through the stages alone
(`process_document`), then through the Celery task `copydesk.process_article`, applied eagerly
(Celery's tracer, the task's base class, the job, the folder store or moto, the Redis debounce
and document cache) with the dispatcher in front, as the listener runs it. Prints CPU ms per
article of each and their ratio; with `--profile`, the functions that cost most outside the
stages (cProfile, cumulative).

    redis-server --port 6393 ...   # a Redis this script may write to (it flushes --redis-db)
    .venv/bin/python bench/task_profile.py --bbc 300 --html 30 --redis-port 6393 [--profile]

What it leaves out: the broker round trip (message fetch, ack) and the pool's IPC, which
`bench/e2e.py`'s Celery no-op floor measures.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from e2e import build_inputs, write_inputs  # noqa: E402


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bbc", type=int, default=300)
    ap.add_argument("--html", type=int, default=30)
    ap.add_argument("--redis-port", type=int, default=6393)
    ap.add_argument("--redis-db", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="cProfile the task pass; print the top functions")
    ap.add_argument("--top", type=int, default=35)
    args = ap.parse_args()
    if args.redis_port == 6379:
        ap.error("6379 is the machine's shared Redis")

    workdir = Path(tempfile.mkdtemp(prefix="copydesk-taskprof-"))
    folder = workdir / "bucket"
    inputs = build_inputs(args.bbc, args.html)
    write_inputs(folder, inputs)
    broker = f"redis://127.0.0.1:{args.redis_port}/{args.redis_db}"
    os.environ.update(
        COPYDESK_STORE=folder.as_uri(),
        COPYDESK_BROKER_URL=broker,
        COPYDESK_LOG_LEVEL="INFO",
        COPYDESK_CACHE_DIR=str(workdir / "cache"),
    )
    import redis

    redis.Redis.from_url(broker).flushdb()

    from tasks.article import Source
    from tasks.pipeline import process_document
    from worker.app import configure
    from worker.dispatch import Dispatcher, RedisClaims
    from worker.events.model import ObjectEvent
    from worker.jobs.article import process_article
    from worker.logging import configure_logging
    from worker.runtime import for_this_process
    from worker.settings import Settings

    settings = Settings.from_env()
    configure_logging(settings.log_level, stream=open(workdir / "task.log", "w"))  # noqa: SIM115
    app = configure(settings)
    app.conf.task_always_eager = True
    runtime = for_this_process()
    pipeline = runtime.pipeline
    keys = [f"incoming/{name}" for name, _ in inputs]
    datas = [data for _, data in inputs]
    for data in datas[:3]:  # warm-up
        process_document(data, Source("bench", "warm", "warm"), pipeline)

    c0, t0 = cpu(), time.perf_counter()
    for key, data in zip(keys, datas, strict=True):
        process_document(data, Source("bench", key, None, len(data)), pipeline)
    stages_cpu, stages_wall = cpu() - c0, time.perf_counter() - t0

    import hashlib

    class EagerQueue:
        def enqueue(self, event, *, force=False, prior=None):
            process_article.apply(
                kwargs={"bucket": event.bucket, "key": event.key, "etag": event.etag, "force": force, "prior": prior}
            )

        def enqueue_removal(self, event):
            raise AssertionError

    dispatcher = Dispatcher(runtime.store, runtime.layout, EagerQueue(), RedisClaims(runtime.redis), pipeline.version, 600)
    etags = [hashlib.md5(d).hexdigest() for d in datas]
    profiler = cProfile.Profile() if args.profile else None
    c0, t0 = cpu(), time.perf_counter()
    if profiler:
        profiler.enable()
    for key, etag in zip(keys, etags, strict=True):
        dispatcher.submit(ObjectEvent(runtime.store.bucket, key, etag, origin="bench"))
    if profiler:
        profiler.disable()
    task_cpu, task_wall = cpu() - c0, time.perf_counter() - t0
    n = len(keys)
    print(f"{n} inputs ({args.bbc} BBC + {args.html} HTML), one process, folder store")
    print(f"stages alone: {stages_cpu * 1000 / n:.2f} CPU ms/article ({stages_wall * 1000 / n:.2f} wall)")
    print(f"dispatcher + task (eager): {task_cpu * 1000 / n:.2f} CPU ms/article ({task_wall * 1000 / n:.2f} wall)")
    print(f"ratio stages/task CPU: {stages_cpu / task_cpu:.2f}")
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
