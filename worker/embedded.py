"""The embedded default: `copydesk run DIR` with a local folder as the store, no servers.

The same ArticleJob the Celery task runs, fed by an in-process queue drained by a few threads,
with the same dispatcher (in-memory claims) and the same retry policy for transient errors.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .dispatch import Dispatcher, MemoryClaims
from .events.folder import FolderWatcher
from .events.model import REMOVED, ObjectEvent
from .events.sweep import sweep
from .jobs.base import backoff_seconds
from .logging import get_logger
from .processing import PROCESSED, QUARANTINED, ArticleJob, Outcome, is_transient
from .runtime import Runtime
from .settings import Settings
from .storage.local import LocalStore

log = get_logger("copydesk.run")


class InProcessQueue:
    """A TaskQueue whose workers are threads of this process."""

    def __init__(self, job: ArticleJob, settings: Settings, threads: int):
        self.job = job
        self._settings = settings
        self.max_retries = settings.max_retries
        self.backoff_cap = settings.retry_backoff_max
        self._queue: queue.Queue = queue.Queue()
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._work, daemon=True, name=f"copydesk-run-{i}") for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def enqueue(self, event: ObjectEvent, *, force: bool = False) -> None:
        self._queue.put((event, force))

    def join(self) -> None:
        self._queue.join()

    def enqueue_removal(self, event: ObjectEvent) -> None:
        from .search.indexer import remove_document

        remove_document(self.job.store, self._settings, event.key)

    @property
    def pending(self) -> int:
        """Tasks queued or running."""
        return self._queue.unfinished_tasks

    def _work(self) -> None:
        while True:
            event, force = self._queue.get()
            try:
                outcome = self._run(event, force)
                with self._lock:
                    self.outcomes.append(outcome)
            finally:
                self._queue.task_done()

    def _run(self, event: ObjectEvent, force: bool) -> Outcome:
        task_id = f"local-{time.time_ns():x}"
        attempt = 0
        while True:  # outages retry for as long as they last unless COPYDESK_MAX_RETRIES limits them
            attempt += 1
            try:
                return self.job.run(event.key, event.etag, force=force, task_id=task_id, attempt=attempt)
            except Exception as exc:
                if not is_transient(exc) or (self.max_retries and attempt > self.max_retries):
                    return self.job.quarantine_after_retries(event.key, event.etag, exc, attempt, task_id)
                time.sleep(backoff_seconds(attempt - 1, self.backoff_cap))


@dataclass
class RunReport:
    outcomes: list[Outcome] = field(default_factory=list)
    indexed: int = 0

    @property
    def processed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == PROCESSED]

    @property
    def quarantined(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == QUARANTINED]


class EmbeddedRunner:
    def __init__(self, folder: Path, settings: Settings, *, threads: int | None = None, force: bool = False):
        self.folder = Path(folder).resolve()
        self.store = LocalStore(self.folder)
        self.settings = settings.with_(store=self.store.url)
        self.runtime = Runtime(self.settings, store=self.store)
        self.force = force
        from .search.indexer import document_written

        self.job = self.runtime.job(
            on_document_written=lambda doc_key: document_written(self.store, self.settings, doc_key, enqueue=None)
        )
        threads = threads or self.settings.concurrency or 2
        self.queue = InProcessQueue(self.job, self.settings, threads)
        self.dispatcher = Dispatcher(
            self.store,
            self.runtime.layout,
            self.queue,
            MemoryClaims(),
            self.runtime.pipeline_version,
            self.settings.claim_seconds,
        )

    def run_once(self) -> RunReport:
        (self.folder / self.settings.input_prefix).mkdir(parents=True, exist_ok=True)
        sweep(self.store, self.runtime.layout, self.dispatcher, force=self.force)
        self.queue.join()
        return RunReport(list(self.queue.outcomes), self.index())

    def index(self) -> int:
        from .search.indexer import index_pending

        total = 0
        while True:
            indexed = index_pending(self.store, self.settings)
            total += indexed
            if not indexed:
                return total

    def watch(self, stop: threading.Event, idle_index_seconds: float = 2.0) -> RunReport:
        """Process what is there, then what lands, until `stop` is set.

        The watcher starts before the first sweep, so a file landing while the sweep runs is
        not missed (announced twice at worst, and processed once).
        """

        def on_key(key: str) -> None:
            if self.runtime.layout.is_input(key):
                self.dispatcher.submit(ObjectEvent(self.store.bucket, key, None, origin="folder"))

        def on_removed(key: str) -> None:
            if self.runtime.layout.is_input(key):
                self.dispatcher.submit(ObjectEvent(self.store.bucket, key, None, kind=REMOVED, origin="folder"))

        watcher = FolderWatcher(self.folder, self.settings.input_prefix, on_key, on_removed)
        watcher.start()
        seen = 0
        try:
            self.run_once()
            while not stop.wait(idle_index_seconds):
                if len(self.queue.outcomes) != seen and self.queue.pending == 0:
                    seen = len(self.queue.outcomes)
                    self.index()
        finally:
            watcher.stop()
            self.queue.join()
            self.index()
        return RunReport(list(self.queue.outcomes))
