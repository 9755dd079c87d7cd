"""The embedded default: `copydesk run DIR` with a local folder as the store, no servers.

The same ArticleJob the Celery task runs, fed by an in-process queue drained by a few threads,
with the same dispatcher (in-memory claims). Transient errors are retried with tenacity
(exponential backoff with jitter, bounded by COPYDESK_MAX_RETRIES and
COPYDESK_RETRY_BACKOFF_MAX).

Stopping: `stop()` (the CLI calls it on the first Ctrl-C or SIGTERM) lets the articles in flight
finish, starts no new one and leaves the rest in `incoming/` for the next run; the report
counts them as left.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_never,
    stop_when_event_set,
    wait_random_exponential,
)

from .dispatch import CURRENT, REMOVAL_ENQUEUED, Dispatcher, MemoryClaims
from .events.folder import FolderWatcher
from .events.model import REMOVED, ObjectEvent
from .events.sweep import sweep
from .logging import get_logger
from .processing import PROCESSED, QUARANTINED, SKIPPED, ArticleJob, Outcome, is_transient
from .runtime import Runtime
from .settings import Settings
from .storage.local import LocalStore

log = get_logger("copydesk.run")

#: Threads of `copydesk run` when neither --threads nor COPYDESK_CONCURRENCY says.
DEFAULT_THREADS = 2
#: First backoff of a transient error, in seconds (doubled per attempt, randomised, capped).
RETRY_BASE_SECONDS = 2
#: Most articles a thread's group commit holds (one flush of the file system per batch), and
#: the longest it holds the first of them (slow articles are not held back by the batch).
RECORD_BATCH = 32
RECORD_BATCH_SECONDS = 0.5
#: While a run's inputs are being processed, the runner's own thread indexes whenever this many
#: documents wait in its cache (the index worker's BATCH_COUNT), checking every JOIN_POLL_SECONDS.
INDEX_EVERY = 200
JOIN_POLL_SECONDS = 0.02


class _RunQueue:
    """What both of `copydesk run`'s queues share: the counts, the stop, the hand-over of
    inputs, removals, and the reporting of answered inputs."""

    def __init__(self, job: ArticleJob, settings: Settings, on_outcome: Callable[[Outcome], None] | None,
                 stopping: Any) -> None:
        self.job = job
        self._settings = settings
        self.on_outcome = on_outcome
        self._queue: queue.Queue = queue.Queue()
        self.outcomes: list[Outcome] = []
        #: Inputs enqueued but not processed (stopping, or their worker gone): the next run's.
        self.left = 0
        self.enqueued = 0
        self.removed = 0
        #: Set by stop() (a multiprocessing Event in a pool and its children: the parent sets it).
        self.stopping = stopping
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the workers, if they do not start with the queue (see ProcessPoolQueue.start)."""

    def enqueue(self, event: ObjectEvent, *, force: bool = False, prior: str | None = None) -> None:
        with self._lock:
            self.enqueued += 1
            if self.stopping.is_set():  # stopping: counted, and left in incoming/ for the next run
                self.left += 1
                return
        self.start()
        self._queue.put((event, force, prior))

    def enqueue_removal(self, event: ObjectEvent) -> None:
        from .search.indexer import remove_document

        remove_document(self.job.store, self._settings, event.key)
        with self._lock:
            self.removed += 1

    def join(self) -> None:
        self._queue.join()

    @property
    def pending(self) -> int:
        """Tasks queued or running."""
        return self._queue.unfinished_tasks

    def _report(self, held: list[Outcome | None]) -> None:
        """Count and report answered inputs whose records are in place (None: left for the next
        run), then mark them done."""
        try:
            for outcome in held:
                with self._lock:
                    if outcome is None:
                        self.left += 1
                        continue
                    self.outcomes.append(outcome)
                if self.on_outcome is not None:
                    self.on_outcome(outcome)
        finally:
            for _ in held:
                self._queue.task_done()


class InProcessQueue(_RunQueue):
    """A TaskQueue whose workers are threads of this process."""

    def __init__(self, job: ArticleJob, settings: Settings, threads: int,
                 on_outcome: Callable[[Outcome], None] | None = None, stopping: Any = None):
        super().__init__(job, settings, on_outcome, stopping if stopping is not None else threading.Event())
        self.max_retries = settings.max_retries
        self.backoff_cap = settings.retry_backoff_max
        #: Per thread: the outcomes whose records wait for the thread's group commit.
        self._local = threading.local()
        #: Batches handed to the committer thread: (writes taken from the store, outcomes).
        self._commits: queue.Queue = queue.Queue()
        self._threads = [threading.Thread(target=self._work, daemon=True, name=f"copydesk-run-{i}") for i in range(threads)]
        if settings.fsync_records:
            self._threads.append(threading.Thread(target=self._commit_loop, daemon=True, name="copydesk-run-commit"))
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        """Nothing to release: the threads are daemons, idle once the queue is drained."""

    def _work(self) -> None:
        # Group commit (folder store, fsync'd records): each thread defers its records' writes
        # (LocalStore.begin_batch) and hands a batch to the committer thread when it holds
        # RECORD_BATCH outcomes, when its first is RECORD_BATCH_SECONDS old or when the queue
        # has nothing more for now, then goes on with the next article at once: the flush of
        # the file system runs beside the work, not in its way. The committer makes the batch
        # durable before renaming its records into place, and only then are its outcomes
        # counted and reported: `join()` returns once every record is in place.
        batching = self._settings.fsync_records
        if batching:
            self.job.store.begin_batch()
        held: list[Outcome | None] = []
        self._local.held = held
        oldest = 0.0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                self._publish()  # nothing more for now: commit before waiting
                item = self._queue.get()
            event, force, prior = item
            if not held:
                oldest = time.monotonic()
            if self.stopping.is_set():
                held.append(None)
            else:
                held.append(self._run(event, force, prior))
            if not batching or len(held) >= RECORD_BATCH or time.monotonic() - oldest >= RECORD_BATCH_SECONDS:
                self._publish()

    def _publish(self) -> None:
        """Hand this thread's held outcomes, with their records' deferred writes, to the
        committer (None: left for the next run); without group commit, report them now."""
        held: list[Outcome | None] = list(self._local.held)
        self._local.held.clear()
        if not held:
            return
        if not self._settings.fsync_records:
            self._report(held)
            return
        self._commits.put((self.job.store.take_batch(), held))

    def _commit_loop(self) -> None:
        """The committer thread: every batch handed over since its last commit, made durable
        with one flush of the file system, renamed into place, then reported."""
        while True:
            batches = [self._commits.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    batches.append(self._commits.get_nowait())
            writes = [write for taken, _ in batches for write in taken]
            held = [outcome for _, outcomes in batches for outcome in outcomes]
            try:
                self.job.store.commit_writes(writes)
            except Exception as exc:
                # Their records are not in place (nothing half-written): the next run
                # processes these inputs again (their logs say "seen", the records do not).
                log.error("records_commit_failed", articles=len(held), error=type(exc).__name__, message=str(exc)[:300])
                held = [None] * len(held)
            self._report(held)

    def _sleep(self, seconds: float) -> None:
        self._publish()  # the articles done before this retry are not held through its backoff
        self.stopping.wait(seconds)  # a stop cuts the backoff short

    def _run(self, event: ObjectEvent, force: bool, prior: str | None = None) -> Outcome | None:
        """Process one input; None when a transient error was still being retried at stop."""
        task_id = f"local-{time.time_ns():x}"
        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            # COPYDESK_MAX_RETRIES=0: an outage is waited out (until the run is stopped).
            stop=(stop_after_attempt(self.max_retries + 1) if self.max_retries else stop_never) | stop_when_event_set(self.stopping),
            wait=wait_random_exponential(multiplier=RETRY_BASE_SECONDS, max=self.backoff_cap),
            sleep=self._sleep,
            reraise=False,
        )
        attempt = 0
        try:
            for try_ in retrying:
                with try_:
                    attempt = try_.retry_state.attempt_number
                    # A retry reads the state again: the first attempt may have written it.
                    return self.job.run(
                        event.key, event.etag, force=force, task_id=task_id, attempt=attempt,
                        prior=prior if attempt == 1 else None,
                    )
        except RetryError as exc:
            error = exc.last_attempt.exception()
            if self.stopping.is_set():
                return None  # left for the next run, not quarantined
            assert error is not None
            return self.job.quarantine_after_retries(event.key, event.etag, error, attempt, task_id)
        except Exception as exc:  # not transient: the job quarantines bad input itself
            return self.job.quarantine_after_retries(event.key, event.etag, exc, attempt, task_id)
        raise AssertionError("unreachable")


class _ChildQueue(InProcessQueue):
    """InProcessQueue in a pool's child: every input handed to it is answered to the parent,
    once its record is in place (or as None, left for the next run)."""

    def __init__(self, conn: Any, job: ArticleJob, settings: Settings, stopping: Any) -> None:
        self._conn = conn
        self._send_lock = threading.Lock()
        #: Index documents written since the last answer: (marker, document), for the parent's
        #: DocumentCache (its index batches read them there instead of GETting each marker).
        self.documents: list[tuple[str, bytes]] = []
        super().__init__(job, settings, 1, stopping=stopping)

    def put(self, item: tuple[ObjectEvent, bool, str | None]) -> None:
        # No check of `stopping` here: the worker thread turns what it takes then into None.
        self._queue.put(item)

    def _report(self, held: list[Outcome | None]) -> None:
        try:
            with self._send_lock, contextlib.suppress(OSError):  # OSError: the parent is gone
                documents, self.documents = self.documents, []
                self._conn.send((held, documents))
        finally:
            for _ in held:
                self._queue.task_done()


def _pool_child(conn: Any, job: ArticleJob, settings: Settings, stopping: Any, documents: Any) -> None:
    """A pool child's main thread: hand each input the parent sends to this process's
    InProcessQueue (one worker thread and the committer); at None or when the parent is gone,
    finish what was handed over and exit."""
    import signal

    # Ctrl-C reaches the whole process group: the parent decides (it sets `stopping`).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    child = _ChildQueue(conn, job, settings, stopping)
    documents.sink = lambda marker, document: child.documents.append((marker, document))
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            stopping.set()  # the parent is gone: nobody will read what comes next
            break
        if item is None:
            break
        child.put(item)
    child.join()
    # The child ends with os._exit: flush what its log handlers buffered.
    import logging

    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()


class _PoolChild:
    def __init__(self, process: Any, conn: Any, slots: int) -> None:
        self.process = process
        self.conn = conn
        #: Inputs sent and not yet answered.
        self.in_flight = 0
        self.slots = threading.BoundedSemaphore(slots)
        self.alive = True


class ProcessPoolQueue(_RunQueue):
    """A TaskQueue whose workers are `processes` child processes forked from this one, like
    Celery's prefork pool: the stages run on every core, not under one GIL.

    This process keeps the sweep, the dispatcher, the index batches and the counting; a child
    runs the same job with one worker thread and its own group commit, and answers each input
    once its record is durable and in place (with the index documents it wrote, for this
    process's DocumentCache). Each child has at most `2 × RECORD_BATCH` inputs in hand, so the
    work spreads over the children and a child keeps working while its batch commits. A child
    that dies takes its unanswered inputs with it: they are counted as left (no record: the
    next run processes them again), and the other children go on."""

    def __init__(self, job: ArticleJob, settings: Settings, processes: int, documents: Any,
                 on_outcome: Callable[[Outcome], None] | None = None) -> None:
        import multiprocessing

        # fork: the children share the loaded models and the job as they are (copy-on-write).
        self._context = multiprocessing.get_context("fork")
        super().__init__(job, settings, on_outcome, self._context.Event())
        self.processes = processes
        self.documents = documents
        self._children: list[_PoolChild] = []
        self._threads: list[threading.Thread] = []

    @property
    def pids(self) -> list[int]:
        return [c.process.pid for c in self._children if c.process.pid is not None]

    def start(self) -> None:
        """Fork the children (once). The runner calls this before it starts any thread of its
        own, so a child inherits no lock that another thread held."""
        if self._children:
            return
        for i in range(self.processes):
            parent_end, child_end = self._context.Pipe()
            process = self._context.Process(
                target=_pool_child, args=(child_end, self.job, self._settings, self.stopping, self.documents),
                name=f"copydesk-run-{i}", daemon=True,
            )
            process.start()
            child_end.close()
            child = _PoolChild(process, parent_end, 2 * RECORD_BATCH)
            self._children.append(child)
            for target in (self._feed, self._receive):
                thread = threading.Thread(target=target, args=(child,), daemon=True, name=f"copydesk-pool-{target.__name__[1:]}-{i}")
                thread.start()
                self._threads.append(thread)

    def close(self) -> None:
        """Stop the children once they have answered everything (after join())."""
        for _ in self._children:
            self._queue.put(None)
        for child in self._children:
            child.process.join(timeout=30)
            if child.process.is_alive():
                child.process.terminate()
                child.process.join(timeout=5)
        self._children = []

    # -- the parent's threads, two per child -----------------------------------------------
    def _feed(self, child: _PoolChild) -> None:
        while True:
            child.slots.acquire()
            item = self._queue.get()
            if item is None:  # close()
                with contextlib.suppress(OSError):
                    child.conn.send(None)
                self._queue.task_done()
                return
            with self._lock:
                alive, stopping = child.alive, self.stopping.is_set()
                if alive and not stopping:
                    child.in_flight += 1
            if not alive:
                child.slots.release()
                if self._any_alive():
                    self._queue.put(item)  # for another child; this feeder is done
                    self._queue.task_done()
                    return
                self._report([None])  # no child left: left for the next run
                continue
            if stopping:
                child.slots.release()
                self._report([None])  # stopping: left for the next run
                continue
            with contextlib.suppress(OSError):  # the child is gone: its receiver counts what it held as left
                child.conn.send(item)

    def _any_alive(self) -> bool:
        return any(c.alive for c in self._children)

    def _receive(self, child: _PoolChild) -> None:
        while True:
            try:
                held, documents = child.conn.recv()
            except (EOFError, OSError):
                break
            for marker, document in documents:
                self.documents.put(marker, document)
            with self._lock:
                child.in_flight -= len(held)
            self._report(held)
            for _ in held:
                child.slots.release()
        # The child exited or died: what it had not answered has no record.
        with self._lock:
            child.alive = False
            lost, child.in_flight = child.in_flight, 0
        if lost:
            log.error("run_process_lost", pid=child.process.pid, articles=lost)
            self._report([None] * lost)


@dataclass
class RunReport:
    outcomes: list[Outcome] = field(default_factory=list)
    indexed: int = 0
    #: Inputs whose records were already current (not enqueued at all).
    current: int = 0
    #: Inputs left for the next run by a stop.
    left: int = 0
    #: Inputs removed from incoming/ (and so from the index) while watching.
    removed: int = 0
    interrupted: bool = False

    @property
    def processed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == PROCESSED]

    @property
    def quarantined(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == QUARANTINED]

    @property
    def skipped(self) -> int:
        """Inputs not processed because their records are current (or their source vanished)."""
        return self.current + sum(1 for o in self.outcomes if o.status == SKIPPED)

    def summary(self) -> str:
        text = (
            f"{len(self.processed)} processed, {len(self.quarantined)} quarantined, {self.skipped} skipped; "
            f"{self.indexed} indexed"
        )
        if self.removed:
            text += f"; {self.removed} removed from the index"
        if self.left:
            text += f"; {self.left} left for the next run"
        return text


class _RecordingDispatcher(Dispatcher):
    """The dispatcher, remembering which inputs were current so the report can count them."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.current_keys: set[str] = set()
        self._keys_lock = threading.Lock()

    def submit(self, event: ObjectEvent, *, force: bool = False) -> str:
        result = super().submit(event, force=force)
        if result == CURRENT:
            with self._keys_lock:
                self.current_keys.add(event.key)
        return result


class EmbeddedRunner:
    def __init__(
        self,
        folder: Path,
        settings: Settings,
        *,
        threads: int | None = None,
        processes: int = 1,
        force: bool = False,
        on_outcome: Callable[[Outcome], None] | None = None,
        watch_settle_seconds: float | None = None,
    ):
        self.folder = Path(folder).resolve()
        self.store = LocalStore(self.folder)
        self.settings = settings.with_(store=self.store.url)
        self.runtime = Runtime(self.settings, store=self.store)
        self.force = force
        self.watch_settle_seconds = watch_settle_seconds
        from .search.indexer import DocumentCache, document_written

        # The documents as written, for this process's index batches (no GET per document).
        self.documents = DocumentCache()
        self.job = self.runtime.job(
            on_document_written=lambda doc_key, document: document_written(
                self.store, self.settings, doc_key, document, announce=self.documents.put
            ),
            instrumented=False,  # `copydesk run` serves no /metrics
        )
        self.queue: InProcessQueue | ProcessPoolQueue
        if processes > 1:
            self.queue = ProcessPoolQueue(self.job, self.settings, processes, self.documents, on_outcome=on_outcome)
        else:
            self.queue = InProcessQueue(self.job, self.settings, threads or DEFAULT_THREADS, on_outcome=on_outcome)
        self.dispatcher = _RecordingDispatcher(
            self.store,
            self.runtime.layout,
            self.queue,
            MemoryClaims(),
            self.runtime.pipeline_version,
            self.settings.claim_seconds,
        )
        self._indexed = 0

    # -- control ---------------------------------------------------------------------------
    def stop(self) -> None:
        """Finish the articles in flight, start no new one (the rest stay for the next run)."""
        if not self.queue.stopping.is_set():
            log.info("run_stopping", enqueued=self.enqueued, done=self.done)
        self.queue.stopping.set()

    @property
    def stopping(self) -> bool:
        return self.queue.stopping.is_set()

    @property
    def enqueued(self) -> int:
        return self.queue.enqueued

    @property
    def done(self) -> int:
        return len(self.queue.outcomes) + self.queue.left

    # -- work ------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the worker processes of a pool (nothing to do in one process)."""
        self.queue.close()

    def run_once(self) -> RunReport:
        self.queue.start()  # a pool forks here, before this runner starts any thread of its own
        (self.folder / self.settings.input_prefix).mkdir(parents=True, exist_ok=True)
        self.store.remove_stale_temporary_files()
        sweep(self.store, self.runtime.layout, self.dispatcher, force=self.force)
        self._join_indexing()
        self.index()
        return self.report()

    def _join_indexing(self) -> None:
        """Wait until every input enqueued is answered; meanwhile fold the documents written so
        far into the index whenever INDEX_EVERY are waiting, so that the index batches run beside
        the work (this thread is idle otherwise) instead of all after it."""
        while self.queue.pending:
            if self.documents.held() >= INDEX_EVERY:
                self._index_batch(cached_only=True)
            else:
                time.sleep(JOIN_POLL_SECONDS)
        self.queue.join()

    def _index_batch(self, cached_only: bool = False) -> int:
        from .search.indexer import index_pending

        # Only this thread indexes: no shard claims needed.
        indexed = index_pending(self.store, self.settings, exclusive=True, cache=self.documents, cached_only=cached_only)
        self._indexed += indexed
        return indexed

    def report(self) -> RunReport:
        outcomes = list(self.queue.outcomes)
        done_keys = {o.key for o in outcomes}
        return RunReport(
            outcomes,
            self._indexed,
            current=len(self.dispatcher.current_keys - done_keys),
            left=self.queue.left,
            removed=self.queue.removed,
            interrupted=self.stopping,
        )

    def index(self) -> int:
        total = 0
        while indexed := self._index_batch():
            total += indexed
        return total

    def watch(self, stop: threading.Event, idle_index_seconds: float = 2.0) -> RunReport:
        """Process what is there, then what lands, until `stop` is set.

        The watcher starts before the first sweep, so a file landing while the sweep runs is
        not missed (announced twice at worst, and processed once).
        """

        def on_key(key: str) -> None:
            if self.runtime.layout.is_input(key) and not self.stopping:
                self.dispatcher.submit(ObjectEvent(self.store.bucket, key, None, origin="folder"))

        def on_removed(key: str) -> None:
            if self.runtime.layout.is_input(key) and not self.stopping:
                result = self.dispatcher.submit(ObjectEvent(self.store.bucket, key, None, kind=REMOVED, origin="folder"))
                if result == REMOVAL_ENQUEUED:
                    log.info("article_unindexed", key=key)

        self.queue.start()  # before the watcher's thread (see ProcessPoolQueue.start)
        watcher = FolderWatcher(self.folder, self.settings.input_prefix, on_key, on_removed,
                                settle_seconds=self.watch_settle_seconds)
        watcher.start()
        seen = 0
        try:
            self.run_once()
            while not stop.wait(idle_index_seconds):
                if len(self.queue.outcomes) != seen and self.queue.pending == 0:
                    seen = len(self.queue.outcomes)
                    self.index()
        finally:
            self.stop()
            watcher.stop()
            self.queue.join()
            self.index()
        return self.report()


