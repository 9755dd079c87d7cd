"""End-to-end throughput (issue 15): does the queue and the store cost less than the work?

One command, side by side in one run on the same inputs (BBC texts and the HTML pages of the
article-extraction benchmark, from ../shared/data, never copied into the repository):

- `process`: the stages alone, in one process (what `copydesk process` runs, without printing);
- `process-pool` (ask for it with --paths): the stages alone in `--concurrency` processes at
  once, each over its share of the inputs: the ceiling of a pool on the same cores;
- `embedded`: `copydesk run DIR --once` (EmbeddedRunner; indexing included), as the CLI runs it:
  a pool of `--concurrency` worker processes; `embedded-1proc`: `--threads C`, one process;
- `celery-folder`: Celery prefork workers on a folder store;
- `celery-s3`: the same on S3 (moto's standalone server, CPU-bound itself);
- `noop`: a Celery task that does nothing, same app, same settings, same queue: the floor.

Celery paths run an article worker (`-Q copydesk.articles,copydesk.maintenance -c C`) and an
index worker (`-Q copydesk.index -c 1`), both `celery -A bench._e2e_app` (copydesk's app with a
request-counting store and a finish hook in Redis), and the bench itself plays the listener:
it uploads the inputs, then submits one event per object through the real dispatcher, the
burst inside one `batching()` block (as a sweep's page: up to COPYDESK_DISPATCH_BATCH articles
a message), the half-capacity phase as the HTTP listener does (each event in a thread of its
own, lingering up to COPYDESK_DISPATCH_BATCH_SECONDS for others to share its message).
`celery-folder-single` (ask for it with --paths) is celery-folder with one article a message.

For each path: articles/s (time from the first event to the last record), CPU ms per article by
process (worker main, pool children, index worker, S3 server, the bench as listener),
store requests per new article by verb (dispatcher + task + the index batches, amortised) and
per article already current (every event sent again), and upload→record latency p50/p95/p99
with objects uploaded at half the measured capacity, in a fixed shuffled order (texts and pages
also apart). Ratios against `process` and `noop` of
the same run are what to read; the machine is shared and noisy.

    redis-server --port 6384 --save "" --appendonly no --daemonize yes --dir /tmp
    .venv/bin/python bench/e2e.py --bbc 300 --html 60 --redis-port 6384

Never point it at a Redis other benchmarks or workers use: it flushes its database.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _extraction_data import load_pages, shared_dir  # noqa: E402
from _ports import free_port, wait_port  # noqa: E402

PATHS = ("process", "embedded", "celery-folder", "celery-s3", "noop")
#: Optional: `copydesk run --once --threads C`, everything in one process (before issue 15's
#: third session, the only embedded mode).
ONE_PROCESS = "embedded-1proc"
#: Optional paths (ask for them with --paths): the folder store with COPYDESK_FSYNC_RECORDS=0.
NOFSYNC = {"embedded-nofsync": "embedded", "celery-folder-nofsync": "celery-folder"}
#: Optional: Celery on the folder store with one article per task message
#: (COPYDESK_DISPATCH_BATCH=1, as before issue 15's fourth session).
SINGLE = {"celery-folder-single": "celery-folder"}
REPORTED = ("process", "process-pool", "embedded", "embedded-nofsync", "embedded-1proc", "celery-folder", "celery-folder-single",
            "celery-folder-nofsync", "celery-s3", "noop")
CLK = os.sysconf("SC_CLK_TCK")
PROCESS_TASK = "copydesk.process_article"
#: The article tasks: one article a message, or a dispatcher's batch (COPYDESK_DISPATCH_BATCH).
ARTICLE_TASKS = (PROCESS_TASK, "copydesk.process_articles")
NOOP_TASK = "bench.noop"


# -- inputs ---------------------------------------------------------------------------------
def build_inputs(bbc: int, html: int) -> list[tuple[str, bytes]]:
    """(relative name, bytes): BBC texts as .txt, then HTML pages (cycled; copies differ)."""
    items: list[tuple[str, bytes]] = []
    with open(shared_dir() / "data" / "bbc_news" / "bbc_news.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if len(items) >= bbc:
                break
            doc = json.loads(line)
            items.append((f"bbc/{doc['id']}.txt", f"{doc['title']}\n\n{doc['body']}\n".encode()))
    pages = load_pages() if html else []
    for i in range(html):
        page = pages[i % len(pages)]
        copy = i // len(pages)
        data = page.html.encode("utf-8") + (f"\n<!-- copy {copy} -->\n".encode() if copy else b"")
        items.append((f"html/{page.id}-{copy}.html", data))
    return items


def mixed(inputs) -> list:
    """The inputs in a fixed shuffled order: every stretch of them has the same mix of BBC texts
    and HTML pages."""
    import random

    out = list(inputs)
    random.Random(15).shuffle(out)
    return out


def variant(name: str, data: bytes, tag: str) -> bytes:
    """The same input with a different etag (for the latency phase)."""
    return data + (f"\n<!-- {tag} -->\n".encode() if name.endswith(".html") else f"\n\n{tag}\n".encode())


# -- process accounting ---------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK  # utime, stime


def children_of(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError):
            kids += [int(x) for x in (task / "children").read_text().split()]
    return kids


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def tree_cpu(pid: int) -> tuple[float, float]:
    """(main process CPU s, sum of its children's CPU s)."""
    return cpu_seconds(pid), sum(cpu_seconds(c) for c in children_of(pid))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


# -- child modes (run in their own process so their CPU is theirs) -------------------------
def warm_up(pipeline, datas: list[tuple[str, bytes]]) -> None:
    """What both one-process paths run before their clock starts: two texts and one HTML page
    through the stages. The first text loads the language and topic models (~1.4 s of CPU on
    the test VM) and the first HTML page lxml's and trafilatura's lazy parts (~0.35 s): in a
    run of 450 articles that is ~4 ms per article, which only the path that was not warmed
    paid (the embedded child was not, until issue 15's second session)."""
    from tasks.article import Source
    from tasks.pipeline import process_document

    texts = [d for d in datas if not d[0].endswith(".html")][:2]
    pages = [d for d in datas if d[0].endswith(".html")][:1]
    for key, data in texts + pages:
        process_document(data, Source("bench", key, "warm"), pipeline)


def child_process(folder: Path, part: str = "") -> dict:
    """The stages alone over the inputs; with `part` "i/n", over every n-th input from the
    i-th, starting the clock when the parent says go (a line on stdin) so that the n parts run
    at once."""
    from tasks.article import Source
    from tasks.pipeline import build_pipeline, process_document

    files = sorted(p for p in (folder / "incoming").rglob("*") if p.is_file())
    datas = [(p.relative_to(folder).as_posix(), p.read_bytes()) for p in files]
    pipeline = build_pipeline()
    warm_up(pipeline, datas)
    if part:
        i, n = (int(x) for x in part.split("/"))
        datas = datas[i::n]
        print("ready", flush=True)
        sys.stdin.readline()
    cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for key, data in datas:
        result = process_document(data, Source("bench", key, None, len(data)), pipeline)
        json.dumps(result.record or result.quarantine, ensure_ascii=False)
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"n": len(datas), "wall": wall, "cpu_main": cpu, "rss_mb": cpu1.ru_maxrss / 1024}


def child_embedded(folder: Path, processes: int, threads: int | None = None) -> dict:
    """`copydesk run --once` as the CLI runs it: a pool of `processes` worker processes (the
    CLI's default: one per CPU), or with `processes` 1, `threads` threads in this process."""
    import worker.embedded as embedded
    from worker.logging import configure_logging
    from worker.settings import Settings
    from worker.storage.counting import CountingStore
    from worker.storage.local import LocalStore

    import multiprocessing

    verbs = ("GET", "PUT", "HEAD", "LIST", "DELETE")
    # In shared memory: a pool's children (forked) count into the same cells as this process.
    shared = multiprocessing.get_context("fork").Array("q", len(verbs))

    class SharedCountingStore(CountingStore):
        def _count(self, verb: str, n: int = 1) -> None:
            with shared.get_lock():
                shared[verbs.index(verb)] += n

        def reset(self) -> Counter[str]:
            with shared.get_lock():
                counts = Counter({verb: shared[i] for i, verb in enumerate(verbs) if shared[i]})
                for i in range(len(verbs)):
                    shared[i] = 0
            return counts

    counting: list[CountingStore] = []

    def local_store(path):
        store = SharedCountingStore(LocalStore(path))
        counting.append(store)
        return store

    embedded.LocalStore = local_store  # type: ignore[assignment,misc]
    settings = Settings.from_env()
    configure_logging(settings.log_level, stream=open(folder.parent / "embedded.log", "w"))  # noqa: SIM115 - lives with the process
    runner = embedded.EmbeddedRunner(folder, settings, threads=threads, processes=processes)
    files = sorted(p for p in (folder / "incoming").rglob("*") if p.is_file())
    # Warmed before the pool forks: the children inherit the loaded models, as Celery's
    # prefork children inherit the ones the worker's main process loads at start (worker_init).
    warm_up(runner.runtime.pipeline, [(p.relative_to(folder).as_posix(), p.read_bytes()) for p in files])
    n = len(files)
    runner.queue.start()
    pids = list(getattr(runner.queue, "pids", []))
    pool0 = sum(cpu_seconds(pid) for pid in pids)
    cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    report = runner.run_once()
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    pool1 = sum(cpu_seconds(pid) for pid in pids)
    pool_rss = [round(rss_mb(pid), 1) for pid in pids]
    new_counts = dict(counting[0].reset())
    # Every input again: each is current now.
    runner.queue.outcomes.clear()
    runner.run_once()
    current_counts = dict(counting[0].reset())
    runner.close()
    return {
        "n": n,
        "processed": len(report.processed),
        "indexed": report.indexed,
        "wall": wall,
        "processes": processes,
        "cpu_pool": pool1 - pool0,
        "pool_rss_mb": pool_rss,
        "cpu_main": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
        "requests": new_counts,
        "requests_current": current_counts,
        "rss_mb": cpu1.ru_maxrss / 1024,
    }


def child_env(folder: Path, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """A one-process path's environment: INFO logs (as deployed), its own model cache."""
    return {**os.environ, "COPYDESK_LOG_LEVEL": "INFO", "COPYDESK_CACHE_DIR": str(folder.parent / "cache"), **(extra_env or {})}


def run_child(mode: str, folder: Path, args, extra_env: dict[str, str] | None = None) -> dict:
    env = child_env(folder, extra_env)
    cmd = [sys.executable, __file__, "--child", mode, "--child-dir", str(folder), "--concurrency", str(args.concurrency)]
    if mode == "embedded-1proc":
        cmd[3] = "embedded"
        cmd += ["--child-threads", str(args.concurrency)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_process_parts(folder: Path, args) -> dict:
    """`process-pool`: the stages alone in `--concurrency` processes at once, each over its
    share of the inputs: what the stages alone can do on the cores a pool gets (two processes
    on this VM's two vCPUs each run slower than one alone)."""
    env = child_env(folder)
    n = args.concurrency
    kids = [subprocess.Popen([sys.executable, __file__, "--child", "process", "--child-dir", str(folder),
                              "--child-part", f"{i}/{n}"], env=env, cwd=ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for i in range(n)]
    for kid in kids:  # every part warmed up before any clock starts
        assert kid.stdout is not None and kid.stdout.readline().strip() == "ready", "a part did not start"
    for kid in kids:
        assert kid.stdin is not None
        kid.stdin.write("go\n")
        kid.stdin.flush()
    parts = []
    for kid in kids:
        out, err = kid.communicate()
        if kid.returncode != 0:
            raise RuntimeError(f"process-pool part failed:\n{err[-3000:]}")
        parts.append(json.loads(out.strip().splitlines()[-1]))
    return {"n": sum(p["n"] for p in parts), "wall": max(p["wall"] for p in parts),
            "cpu_main": sum(p["cpu_main"] for p in parts), "rss_mb": max(p["rss_mb"] for p in parts)}


def write_inputs(folder: Path, inputs, prefix: str = "incoming/") -> None:
    for name, data in inputs:
        path = folder / prefix / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


# -- Celery paths ---------------------------------------------------------------------------
class Stack:
    """Redis (the caller's), optionally moto, an article worker and an index worker."""

    def __init__(self, args, workdir: Path, kind: str):
        import redis

        self.args, self.kind, self.workdir = args, kind, workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.broker = f"redis://127.0.0.1:{args.redis_port}/{args.redis_db}"
        self.redis = redis.Redis.from_url(self.broker)
        self.redis.flushdb()
        self.reset_counters()
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = {
            **os.environ,
            "COPYDESK_BROKER_URL": self.broker,
            "COPYDESK_LOG_LEVEL": "INFO",
            "COPYDESK_CACHE_DIR": str(workdir / "cache"),
            "COPYDESK_SWEEP_INTERVAL": "0",
            "PYTHONPATH": str(ROOT),
        }
        if kind == "s3":
            self._start_moto()
            self.bucket = "bench"
            self.env["COPYDESK_STORE"] = f"s3://{self.bucket}"
        else:
            self.folder = workdir / "bucket"
            self.folder.mkdir(parents=True, exist_ok=True)
            self.env["COPYDESK_STORE"] = self.folder.as_uri()
        for k, v in self.env.items():
            if k.startswith(("COPYDESK_", "AWS_")):
                os.environ[k] = v
        if kind == "s3":
            import boto3

            self.s3 = boto3.client("s3", endpoint_url=self.env["AWS_ENDPOINT_URL"])
            self.s3.create_bucket(Bucket=self.bucket)
        from worker.app import configure
        from worker.settings import Settings

        self.settings = Settings.from_env()
        self.app = configure(self.settings)

    def _start_moto(self) -> None:
        port = free_port()
        self.env.update(
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",  # noqa: S105 - moto's fake credentials
            AWS_DEFAULT_REGION="us-east-1",
        )
        log = open(self.workdir / "moto.log", "wb")  # noqa: SIM115 - the server's stdout while it runs
        moto = Path(sys.executable).with_name("moto_server")
        self.procs["moto"] = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
        wait_port(port, what="moto_server")

    def _log(self, name: str):
        return open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - the worker's stdout while it runs

    def start_workers(self) -> None:
        celery = [sys.executable, "-m", "celery", "-A", "bench._e2e_app", "worker", "--loglevel", "INFO", "-P", "prefork"]
        self.procs["articles"] = subprocess.Popen(
            [*celery, "-Q", "copydesk.articles,copydesk.maintenance", "-c", str(self.args.concurrency), "-n", "articles@bench"],
            env=self.env, cwd=ROOT, stdout=self._log("articles"), stderr=subprocess.STDOUT,
        )
        self.procs["index"] = subprocess.Popen(
            [*celery, "-Q", "copydesk.index", "-c", "1", "-n", "index@bench"],
            env=self.env, cwd=ROOT, stdout=self._log("index"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            replies = self.app.control.ping(timeout=1.0) or []
            names = {name for r in replies for name in r}
            if {"articles@bench", "index@bench"} <= names:
                # The pool children exist once the worker answers; give them a moment to finish forking.
                time.sleep(1.0)
                return
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.workdir}")
        raise RuntimeError("workers did not answer a ping")

    def store(self):
        from worker.storage import open_store

        return open_store(self.settings.store)

    def upload(self, key: str, data: bytes) -> str:
        if self.kind == "s3":
            return self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)["ETag"].strip('"')
        import hashlib

        path = self.folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return hashlib.md5(data).hexdigest()

    def _pull(self) -> None:
        """Read the tasks' finish lines (bench/_e2e_app.py's hook) added since the last pull."""
        raw = self.redis.lrange("bench:events", self._seen, -1)
        self._seen += len(raw)
        for line in raw:
            name, stamp, keys, counts = line.decode().split("\t")
            answered = keys.split("\x1f") if keys else []
            # Single articles and batches both count articles under PROCESS_TASK.
            task = PROCESS_TASK if name in ARTICLE_TASKS else name
            self._done[task] += len(answered) if task in (PROCESS_TASK, NOOP_TASK) else 1
            for key in answered:
                self._finished.setdefault(key, float(stamp))
            for part in filter(None, counts.split(",")):
                verb, n = part.split("=")
                self._requests[task][verb] += int(n)

    def done(self, task: str) -> int:
        self._pull()
        return self._done[task]

    def wait_done(self, task: str, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.done(task) < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.done(task)}/{n} {task} done after {timeout} s; see {self.workdir}")
            time.sleep(0.05)

    def finished(self) -> dict[str, float]:
        self._pull()
        return dict(self._finished)

    def wait_indexed(self, timeout: float = 90.0) -> None:
        from worker.search.indexer import pending_count

        store = self.store()
        deadline = time.monotonic() + timeout
        while pending_count(store, self.settings) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(0.5)

    def requests(self) -> dict[str, Counter]:
        self._pull()
        return {task: Counter(self._requests[task]) for task in (PROCESS_TASK, "copydesk.index_batch", "copydesk.index_merge")}

    def reset_counters(self) -> None:
        for key in self.redis.scan_iter("bench:*"):
            self.redis.delete(key)
        self._seen = 0
        self._done: Counter[str] = Counter()
        self._finished: dict[str, float] = {}
        self._requests: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def cpu(self) -> dict[str, float]:
        main, pool = tree_cpu(self.procs["articles"].pid)
        imain, ipool = tree_cpu(self.procs["index"].pid)
        out = {"main": main, "pool": pool, "index": imain + ipool, "bench": sum(resource.getrusage(resource.RUSAGE_SELF)[:2])}
        if "moto" in self.procs:
            out["s3"] = cpu_seconds(self.procs["moto"].pid)
        return out

    def pool_rss(self) -> list[float]:
        return [round(rss_mb(c), 1) for c in children_of(self.procs["articles"].pid)]

    def stop(self) -> None:
        for name in ("articles", "index", "moto"):
            proc = self.procs.get(name)
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def run_celery(kind: str, inputs, args, workdir: Path, extra_env: dict[str, str] | None = None) -> dict:
    """kind: folder | s3 | noop."""
    from worker.app import ARTICLES_QUEUE
    from worker.dispatch import Dispatcher, RedisClaims
    from worker.events.model import ObjectEvent
    from worker.jobs.queues import CeleryQueue
    from worker.layout import Layout
    from worker.storage.counting import CountingStore

    stack = Stack(args, workdir / (kind + ("-" + "-".join(extra_env) if extra_env else "")), "s3" if kind == "s3" else "folder")
    stack.env.update(extra_env or {})  # the workers' only
    try:
        stack.start_workers()
        store = CountingStore(stack.store())
        layout = Layout.from_settings(stack.settings)
        from tasks.pipeline import build_pipeline

        # The version the workers compute: the same model and settings.
        version = build_pipeline(model_dir=stack.settings.model_dir or None, parse_limits=stack.settings.parse_limits).version
        # The dispatcher's batches as configured (the path's environment may change them).
        batch = int((extra_env or {}).get("COPYDESK_DISPATCH_BATCH", stack.settings.dispatch_batch))
        dispatcher = Dispatcher(store, layout, CeleryQueue(stack.app), RedisClaims(stack.redis), version, 3600,
                                batch_size=batch, batch_seconds=stack.settings.dispatch_batch_seconds)
        task = NOOP_TASK if kind == "noop" else PROCESS_TASK

        sizes: dict[str, int] = {}  # as notifications and listings give them

        def submit(key: str, etag: str) -> None:
            if kind == "noop":
                stack.app.send_task(NOOP_TASK, kwargs={"bucket": store.bucket, "key": key, "etag": etag}, queue=ARTICLES_QUEUE)
            else:
                dispatcher.submit(ObjectEvent(store.bucket, key, etag, sizes.get(key), origin="bench"))

        # Warm-up: a few inputs through the whole path (pool children import and fork-share).
        warm = [(f"incoming/warm/{i}-{name.rsplit('/', 1)[-1]}", variant(name, data, "warm")) for i, (name, data) in enumerate(inputs[:4])]
        for key, data in warm:
            sizes[key] = len(data)
            submit(key, stack.upload(key, data))
        stack.wait_done(task, len(warm), 120)
        if kind != "noop":
            stack.wait_indexed()
        stack.reset_counters()
        store.reset()

        # Throughput: every input uploaded first (not timed), then one event each, as a burst
        # the dispatcher has at hand (a sweep's page, SQS polls): several articles to a message
        # (COPYDESK_DISPATCH_BATCH; the no-op floor sends one task per message).
        keyed = [(f"incoming/{name}", stack.upload(f"incoming/{name}", data)) for name, data in inputs]
        sizes.update((f"incoming/{name}", len(data)) for name, data in inputs)
        cpu0 = stack.cpu()
        t0 = time.time()
        with dispatcher.batching():
            for key, etag in keyed:
                submit(key, etag)
        stack.wait_done(task, len(keyed), 3600)
        t1 = max(stack.finished().values())
        if kind != "noop":
            stack.wait_indexed()
        cpu1 = stack.cpu()
        n = len(keyed)
        rate = n / (t1 - t0)
        result: dict = {"n": n, "rate": rate, "cpu_ms": {k: (cpu1[k] - cpu0[k]) * 1000 / n for k in cpu1},
                        "dispatch_batch": batch if kind != "noop" else 1}
        result["pool_rss_mb"] = stack.pool_rss()
        if kind != "noop":
            reqs = stack.requests()
            total = Counter(store.reset())
            result["dispatcher_requests"] = dict(total)
            for counts in reqs.values():
                total.update(counts)
            result["requests"] = dict(total)
            result["index_requests"] = dict(reqs["copydesk.index_batch"] + reqs["copydesk.index_merge"])
            result["index_runs"] = stack.done("copydesk.index_batch")
            # Already current: every event again; the dispatcher's state read answers.
            for key, etag in keyed:
                submit(key, etag)
            result["requests_current"] = dict(store.reset())

        # Latency at half capacity: new versions uploaded one by one at rate/2, each event
        # dispatched as the HTTP listener does a POSTed notification: in a thread of its own,
        # lingering up to COPYDESK_DISPATCH_BATCH_SECONDS for other events to share its message.
        from concurrent.futures import ThreadPoolExecutor

        def submit_lingering(key: str, etag: str) -> None:
            with dispatcher.batching(linger=True):
                submit(key, etag)

        listener = ThreadPoolExecutor(max_workers=40, thread_name_prefix="bench-listener")
        stack.reset_counters()
        pace = rate / 2
        count = max(20, min(len(inputs), int(pace * args.latency_seconds)))
        # Mixed (in file order the pages came last, all at once, at a rate meant for the mix).
        lat_inputs = [(f"incoming/lat/{name}", variant(name, data, "latency")) for name, data in mixed(inputs)[:count]]
        uploaded: dict[str, float] = {}
        lat_cpu0 = stack.cpu()
        start = time.time()
        for i, (key, data) in enumerate(lat_inputs):
            delay = start + i / pace - time.time()
            if delay > 0:
                time.sleep(delay)
            etag = stack.upload(key, data)
            uploaded[key] = time.time()
            sizes[key] = len(data)
            listener.submit(submit_lingering, key, etag)
        listener.shutdown(wait=True)
        stack.wait_done(task, len(lat_inputs), 600)
        if kind != "noop":
            stack.wait_indexed()
        lat_cpu1 = stack.cpu()
        # CPU per article at half capacity: index batches are smaller there than in the burst.
        result["latency_cpu_ms"] = {k: (lat_cpu1[k] - lat_cpu0[k]) * 1000 / len(lat_inputs) for k in lat_cpu1}
        result["latency_index_runs"] = stack.done("copydesk.index_batch")
        finished = stack.finished()
        lat = [finished[k] - uploaded[k] for k in uploaded if k in finished]
        result["latency_ms"] = {q: percentile(lat, q) * 1000 for q in (50, 95, 99)}
        # Texts and pages apart: the pages come last, and a page's stages cost ~10 texts'.
        for kind_, suffix in (("text", ".txt"), ("html", ".html")):
            part = [finished[k] - uploaded[k] for k in uploaded if k in finished and k.endswith(suffix)]
            if part:
                result[f"latency_ms_{kind_}"] = {q: percentile(part, q) * 1000 for q in (50, 95, 99)}
                result[f"latency_n_{kind_}"] = len(part)
        result["latency_n"] = len(lat)
        result["latency_rate"] = pace
        return result
    finally:
        stack.stop()


def run_rss(inputs, args, workdir: Path) -> dict:
    """Pool children's RSS over many articles (issue 15: flat within 10% from 2,000 to 10,000).

    Celery on the folder store, children never replaced (COPYDESK_MAX_TASKS_PER_CHILD=0 and
    COPYDESK_MAX_MEMORY_PER_CHILD=0; the defaults replace a child every 1,000 tasks, which would
    hide growth), the inputs (shuffled) cycled as new versions until `--rss-articles` are done.
    RSS of each child is sampled every 500 articles."""
    from worker.dispatch import Dispatcher, RedisClaims
    from worker.events.model import ObjectEvent
    from worker.jobs.queues import CeleryQueue
    from worker.layout import Layout

    os.environ["COPYDESK_MAX_TASKS_PER_CHILD"] = "0"
    os.environ["COPYDESK_MAX_MEMORY_PER_CHILD"] = "0"
    stack = Stack(args, workdir / "rss", "folder")
    stack.env.update(COPYDESK_MAX_TASKS_PER_CHILD="0", COPYDESK_MAX_MEMORY_PER_CHILD="0", COPYDESK_LOG_LEVEL="WARNING")
    try:
        stack.start_workers()
        from tasks.pipeline import build_pipeline

        version = build_pipeline(model_dir=stack.settings.model_dir or None, parse_limits=stack.settings.parse_limits).version
        store = stack.store()
        dispatcher = Dispatcher(store, Layout.from_settings(stack.settings), CeleryQueue(stack.app), RedisClaims(stack.redis), version, 3600,
                                batch_size=stack.settings.dispatch_batch, batch_seconds=stack.settings.dispatch_batch_seconds)
        total = args.rss_articles
        # Mixed: in file order the first 2,000 would be texts only, and the first HTML pages
        # would look like growth.
        inputs = mixed(inputs)
        children0 = sorted(children_of(stack.procs["articles"].pid))
        samples: list[dict] = []
        submitted = 0
        step = 500
        while submitted < total:
            batch = []
            for i in range(submitted, min(total, submitted + step)):
                name, data = inputs[i % len(inputs)]
                key = f"incoming/rss/{i // len(inputs)}/{name}"
                batch.append((key, stack.upload(key, variant(name, data, f"rss {i}"))))
            with dispatcher.batching():
                for key, etag in batch:
                    dispatcher.submit(ObjectEvent(store.bucket, key, etag, origin="bench"))
            submitted += len(batch)
            stack.wait_done(PROCESS_TASK, submitted, 3600)
            kids = sorted(children_of(stack.procs["articles"].pid))
            samples.append({"articles": submitted, "rss_mb": [round(rss_mb(c), 1) for c in kids], "children": kids})
            print(f"# rss: {submitted} articles, pool RSS MB {samples[-1]['rss_mb']}", file=sys.stderr, flush=True)
        return {"samples": samples, "children_at_start": children0}
    finally:
        stack.stop()


def rss_summary(result: dict, at: int = 2000) -> str:
    samples = result["samples"]
    first = next((s for s in samples if s["articles"] >= at), samples[0])
    last = samples[-1]
    same = first["children"] == last["children"] == result["children_at_start"]
    a, b = sum(first["rss_mb"]) / len(first["rss_mb"]), sum(last["rss_mb"]) / len(last["rss_mb"])
    peak = max(x for s in samples for x in s["rss_mb"])
    return (f"pool children RSS (mean of {len(last['rss_mb'])}): {a:.1f} MB after {first['articles']} articles -> {b:.1f} MB after "
            f"{last['articles']} ({(b / a - 1):+.1%}); peak {peak:.1f} MB; same children throughout: {same}")


# -- report ---------------------------------------------------------------------------------
def fmt_requests(counts: dict, n: int) -> str:
    if not counts:
        return "-"
    total = sum(counts.values()) / n
    parts = " ".join(f"{verb} {counts[verb] / n:.2f}" for verb in ("GET", "PUT", "HEAD", "LIST", "DELETE") if counts.get(verb))
    return f"{total:.2f} ({parts})"


def report(results: dict, args) -> None:
    base = results.get("process", {}).get("rate")
    floor = results.get("noop", {}).get("rate")
    print()
    print(f"inputs: {args.bbc} BBC texts + {args.html} HTML pages; Celery prefork -c {args.concurrency} + index worker -c 1")
    base_cpu = results.get("process", {}).get("cpu_ms", {}).get("main")
    print("x process: the path's rate / the stages' in ONE process (the issue's ratio; the pools use "
          f"{args.concurrency} processes). stages CPU / path CPU: CPU ms per article of the stages alone / of the "
          "whole path (main + pool + index worker + the bench as listener; the S3 server not counted), like with like")
    header = ["path", "art/s", "x process", "stages CPU / path CPU", "x noop", "CPU ms/art: main", "pool", "index wkr", "S3 srv", "bench/listener",
              "req/new art", "req/current art", "latency p50/p95/p99 ms (rate)", "pool RSS MB"]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for path in REPORTED:
        r = results.get(path)
        if not r:
            continue
        n = r["n"]
        cpu = r.get("cpu_ms", {})
        lat = r.get("latency_ms")
        path_cpu = sum(v for k, v in cpu.items() if k != "s3")
        row = [
            path,
            f"{r['rate']:.1f}",
            f"{r['rate'] / base:.2f}" if base else "-",
            f"{base_cpu / path_cpu:.2f}" if base_cpu and path_cpu and path != "noop" else "-",
            f"{r['rate'] / floor:.2f}" if floor and path.startswith(("celery", "noop")) else "-",
            f"{cpu.get('main', 0):.2f}",
            f"{cpu['pool']:.2f}" if "pool" in cpu else "-",
            f"{cpu['index']:.2f}" if "index" in cpu else "-",
            f"{cpu['s3']:.2f}" if "s3" in cpu else "-",
            f"{cpu['bench']:.2f}" if "bench" in cpu else "-",
            fmt_requests(r.get("requests", {}), n),
            fmt_requests(r.get("requests_current", {}), n),
            f"{lat[50]:.0f}/{lat[95]:.0f}/{lat[99]:.0f} ({r['latency_rate']:.1f}/s, n={r['latency_n']})" if lat else "-",
            ",".join(f"{x:.0f}" for x in r.get("pool_rss_mb", [])) or f"{r.get('rss_mb', 0):.0f}",
        ]
        print(" | ".join(row))
    ceiling = results.get("process-pool", {}).get("rate")
    if ceiling:
        pools = [p for p in REPORTED if p not in ("process", "process-pool", ONE_PROCESS) and p in results]
        print(f"x process-pool (the stages alone in {args.concurrency} processes at once, {ceiling:.1f} art/s): "
              + ", ".join(f"{p} {results[p]['rate'] / ceiling:.2f}" for p in pools))
    for path in ("celery-folder", "celery-folder-single", "celery-folder-nofsync", "celery-s3"):
        r = results.get(path)
        if r and r.get("cpu_ms", {}).get("pool"):
            share = r["cpu_ms"]["index"] / r["cpu_ms"]["pool"]
            print(f"{path}: up to {r.get('dispatch_batch', 1)} articles per task message in the burst; "
                  f"index worker CPU = {share:.1%} of the article pool's; {r['index_runs']} index batch runs for {r['n']} articles; "
                  f"index requests/article {fmt_requests(r['index_requests'], r['n'])}; dispatcher {fmt_requests(r['dispatcher_requests'], r['n'])}")
            lc = r.get("latency_cpu_ms") or {}
            if lc.get("pool"):
                parts = "; ".join(f"{k} p50/p95/p99 {v[50]:.0f}/{v[95]:.0f}/{v[99]:.0f} ms (n={r[f'latency_n_{k}']})"
                                  for k in ("text", "html") if (v := r.get(f"latency_ms_{k}")))
                print(f"{path} at half capacity ({r['latency_rate']:.1f}/s, {r['latency_n']} articles): latency {parts}; CPU ms/article main {lc['main']:.2f}, "
                      f"pool {lc['pool']:.2f}, index worker {lc['index']:.2f} = {lc['index'] / lc['pool']:.1%} of the pool's; "
                      f"{r['latency_index_runs']} index batch runs")
    print()
    print(json.dumps(results, default=str))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bbc", type=int, default=2000, help="BBC texts (up to 2,225)")
    ap.add_argument("--html", type=int, default=181, help="HTML pages (181 distinct; more are copies with a comment added)")
    ap.add_argument("--paths", default=",".join(PATHS),
                    help=f"comma-separated subset of {','.join(PATHS)}, or {','.join(NOFSYNC)} (COPYDESK_FSYNC_RECORDS=0), "
                         f"or {ONE_PROCESS} (embedded, threads in one process)")
    ap.add_argument("--concurrency", type=int, default=2,
                    help="Celery pool processes / embedded pool processes / threads of embedded-1proc")
    ap.add_argument("--latency-seconds", type=float, default=15.0, help="length of the half-capacity latency phase")
    ap.add_argument("--redis-port", type=int, default=6384)
    ap.add_argument("--redis-db", type=int, default=3, help="a database this bench may flush")
    ap.add_argument("--workdir", default=None, help="keep the run's folders and logs here")
    ap.add_argument("--rss-articles", type=int, default=0,
                    help="also run the RSS check: this many articles through Celery on the folder store (e.g. 10000)")
    ap.add_argument("--child", choices=("process", "embedded"), help=argparse.SUPPRESS)
    ap.add_argument("--child-dir", help=argparse.SUPPRESS)
    ap.add_argument("--child-threads", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--child-part", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        folder = Path(args.child_dir)
        if args.child == "process":
            result = child_process(folder, args.child_part)
        elif args.child_threads:
            result = child_embedded(folder, 1, args.child_threads)
        else:
            result = child_embedded(folder, args.concurrency)
        print(json.dumps(result))
        return
    if args.redis_port == 6379:
        ap.error("6379 is the machine's shared Redis: start your own (see the docstring)")

    from worker.logging import configure_logging

    configure_logging("WARNING")  # the bench's own dispatcher: one line per event otherwise
    inputs = build_inputs(args.bbc, args.html)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="copydesk-e2e-"))
    workdir.mkdir(parents=True, exist_ok=True)
    wanted = [p for p in args.paths.split(",") if p]
    results: dict[str, dict] = {}
    try:
        for path in wanted:
            started = time.time()
            try:
                run_path(path, inputs, args, workdir, results)
            except Exception as exc:  # one broken path must not hide the others' figures
                print(f"# {path} FAILED: {type(exc).__name__}: {str(exc)[-2000:]}", file=sys.stderr, flush=True)
                continue
            print(f"# {path}: {results[path]['rate']:.1f} art/s ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)
        if args.rss_articles:
            try:
                results["rss"] = run_rss(inputs, args, workdir)
            except Exception as exc:
                print(f"# rss FAILED: {type(exc).__name__}: {str(exc)[-2000:]}", file=sys.stderr, flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    report(results, args)
    if "rss" in results:
        print(rss_summary(results["rss"]))


def run_path(path: str, inputs, args, workdir: Path, results: dict) -> None:
    extra_env = {"COPYDESK_FSYNC_RECORDS": "0"} if path in NOFSYNC else {"COPYDESK_DISPATCH_BATCH": "1"} if path in SINGLE else None
    base = NOFSYNC.get(path) or SINGLE.get(path) or path
    if base in ("process", "process-pool", "embedded", "embedded-1proc"):
        folder = workdir / path / "bucket"
        write_inputs(folder, inputs)
        r = run_process_parts(folder, args) if base == "process-pool" else run_child(base, folder, args, extra_env)
        r["rate"] = r["n"] / r["wall"]
        r["cpu_ms"] = {"main": r["cpu_main"] * 1000 / r["n"]}
        if r.get("processes", 1) > 1:
            r["cpu_ms"]["pool"] = r["cpu_pool"] * 1000 / r["n"]
        results[path] = r
    elif base in ("celery-folder", "celery-s3", "noop"):
        results[path] = run_celery({"celery-folder": "folder", "celery-s3": "s3", "noop": "noop"}[base], inputs, args, workdir, extra_env)
    else:
        raise ValueError(f"unknown path {path!r}")


if __name__ == "__main__":
    main()
