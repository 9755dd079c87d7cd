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


def sys_cpu() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bbc", type=int, default=300)
    ap.add_argument("--html", type=int, default=30)
    ap.add_argument("--redis-port", type=int, default=6393)
    ap.add_argument("--redis-db", type=int, default=3)
    ap.add_argument("--profile", nargs="?", const="task", choices=("task", "job", "batch"),
                    help="cProfile the task pass (or the job pass, or the batch pass) with a CPU-time clock; print the top functions")
    ap.add_argument("--batch", type=int, default=16, help="articles per message of the batch pass (copydesk.process_articles)")
    ap.add_argument("--top", type=int, default=35)
    args = ap.parse_args()
    if args.redis_port == 6379:
        ap.error("6379 is the machine's shared Redis")

    workdir = Path(tempfile.mkdtemp(prefix="copydesk-taskprof-"))
    folder = workdir / "bucket"
    inputs = build_inputs(args.bbc, args.html)
    # The same inputs under one prefix per pass: every article is new in every pass.
    for prefix in ("incoming/job/", "incoming/task/", "incoming/batch/"):
        write_inputs(folder, inputs, prefix=prefix)
    for prefix in ("incoming/warm-job/", "incoming/warm-task/", "incoming/warm-batch/"):  # first-use costs (imports, folders)
        write_inputs(folder, inputs[:5], prefix=prefix)
    broker = f"redis://127.0.0.1:{args.redis_port}/{args.redis_db}"
    os.environ.update(
        COPYDESK_STORE=folder.as_uri(),
        COPYDESK_BROKER_URL=broker,
        COPYDESK_LOG_LEVEL="INFO",
        COPYDESK_CACHE_DIR=str(workdir / "cache"),
    )
    import redis

    redis.Redis.from_url(broker).flushdb()

    import hashlib

    from tasks.article import Source
    from tasks.pipeline import process_document
    from worker.app import configure
    from worker.dispatch import Dispatcher, RedisClaims
    from worker.events.model import ObjectEvent
    from worker.jobs.article import process_article, process_articles, request_index_batch
    from worker.jobs.queues import article_item
    from worker.logging import configure_logging
    from worker.runtime import for_this_process
    from worker.search.indexer import document_written
    from worker.settings import Settings

    settings = Settings.from_env()
    configure_logging(settings.log_level, stream=open(workdir / "task.log", "w"))  # noqa: SIM115
    app = configure(settings)
    app.conf.task_always_eager = True
    app.send_task = lambda *a, **kw: None  # type: ignore[method-assign]  # index batches: not this bench's
    runtime = for_this_process()
    pipeline = runtime.pipeline
    datas = [data for _, data in inputs]
    etags = [hashlib.md5(d).hexdigest() for d in datas]
    for data in datas[:3]:  # warm-up
        process_document(data, Source("bench", "warm", "warm"), pipeline)

    c0, t0 = cpu(), time.perf_counter()
    for (name, _), data in zip(inputs, datas, strict=True):
        process_document(data, Source("bench", f"incoming/{name}", None, len(data)), pipeline)
    stages_cpu, stages_wall = cpu() - c0, time.perf_counter() - t0

    job = runtime.job(
        on_document_written=lambda doc_key, document: document_written(
            runtime.store, settings, doc_key, document,
            announce=lambda marker, doc: request_index_batch(runtime, marker, doc),
        )
    )

    class JobQueue:
        """The job itself, without Celery: what the task adds is the difference."""

        def enqueue(self, event, *, force=False, prior=None):
            job.run(event.key, event.etag, force=force, prior=prior)

        def enqueue_removal(self, event):
            raise AssertionError

    class EagerQueue:
        def enqueue(self, event, *, force=False, prior=None):
            process_article.apply(
                kwargs={"bucket": event.bucket, "key": event.key, "etag": event.etag, "force": force, "prior": prior}
            )

        def enqueue_removal(self, event):
            raise AssertionError

    class EagerBatchQueue(EagerQueue):
        def enqueue_many(self, items):
            process_articles.apply(kwargs={"bucket": items[0].event.bucket,
                                           "items": [article_item(i.event, i.force, i.prior) for i in items]})

    def run_pass(prefix: str, queue, count: int | None = None) -> tuple[float, float]:
        dispatcher = Dispatcher(runtime.store, runtime.layout, queue, RedisClaims(runtime.redis), pipeline.version, 600,
                                batch_size=args.batch)
        c0, t0, s0 = cpu(), time.perf_counter(), sys_cpu()
        with dispatcher.batching():
            for (name, _), etag in list(zip(inputs, etags, strict=True))[:count]:
                dispatcher.submit(ObjectEvent(runtime.store.bucket, f"{prefix}{name}", etag, origin="bench"))
        system[prefix] = sys_cpu() - s0
        return cpu() - c0, time.perf_counter() - t0

    system: dict[str, float] = {}

    run_pass("incoming/warm-job/", JobQueue(), 5)
    run_pass("incoming/warm-task/", EagerQueue(), 5)
    run_pass("incoming/warm-batch/", EagerBatchQueue(), 5)
    # CPU time, not wall time: waits on Redis and the disk are not what this looks for.
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    if profiler and args.profile == "job":
        profiler.enable()
    job_cpu, job_wall = run_pass("incoming/job/", JobQueue())
    if profiler and args.profile == "job":
        profiler.disable()
    if profiler and args.profile == "task":
        profiler.enable()
    task_cpu, task_wall = run_pass("incoming/task/", EagerQueue())
    if profiler and args.profile == "task":
        profiler.disable()
    if profiler and args.profile == "batch":
        profiler.enable()
    batch_cpu, batch_wall = run_pass("incoming/batch/", EagerBatchQueue())
    if profiler and args.profile == "batch":
        profiler.disable()
    n = len(inputs)
    print(f"{n} inputs ({args.bbc} BBC + {args.html} HTML), one process, folder store")
    print(f"stages alone: {stages_cpu * 1000 / n:.2f} CPU ms/article ({stages_wall * 1000 / n:.2f} wall)")
    print(f"dispatcher + job (no Celery): {job_cpu * 1000 / n:.2f} CPU ms/article, of which system "
          f"{system['incoming/job/'] * 1000 / n:.2f} ({job_wall * 1000 / n:.2f} wall)")
    print(f"dispatcher + task (eager): {task_cpu * 1000 / n:.2f} CPU ms/article, of which system "
          f"{system['incoming/task/'] * 1000 / n:.2f} ({task_wall * 1000 / n:.2f} wall)")
    print(f"dispatcher + batch task (eager, {args.batch} a message): {batch_cpu * 1000 / n:.2f} CPU ms/article, of which "
          f"system {system['incoming/batch/'] * 1000 / n:.2f} ({batch_wall * 1000 / n:.2f} wall)")
    print(f"ratio stages/task CPU: {stages_cpu / task_cpu:.2f}; stages/batch task CPU: {stages_cpu / batch_cpu:.2f}")
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
        if os.environ.get("TASK_PROFILE_CALLERS"):
            stats.print_callers(os.environ["TASK_PROFILE_CALLERS"])


if __name__ == "__main__":
    main()
