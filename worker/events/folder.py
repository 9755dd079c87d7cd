"""Folder events for the embedded runner: watchdog tells us when a file lands in `incoming/`.

A file moved into place (the usual atomic upload) is announced at once. A file written in
place is announced only once its size and modification time have stayed the same for the
settle time (COPYDESK_WATCH_SETTLE_SECONDS), whatever events it sends meanwhile (a writer may
close and reopen it, or never send a close event): a half-written file is never processed.
Its etag comes from the store, like every other source's; a file announced twice with the same
content is processed once (the dispatcher sees the same etag).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from collections.abc import Callable

from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from ..logging import get_logger

log = get_logger("copydesk.listen.folder")

#: Default seconds a file's size and mtime must stay unchanged before it is announced.
SETTLE_SECONDS = 1.0


def _signature(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


class _Handler(FileSystemEventHandler):
    def __init__(self, root: Path, on_key: Callable[[str], None], on_removed: Callable[[str], None] | None,
                 settle_seconds: float = SETTLE_SECONDS):
        self.root = root
        self.on_key = on_key
        self.on_removed = on_removed
        self.settle_seconds = settle_seconds
        #: path -> (timer, signature when the timer started)
        self._settling: dict[str, tuple[threading.Timer, tuple[int, int] | None]] = {}
        self._lock = threading.Lock()

    def _announce(self, path: str, removed: bool = False) -> None:
        rel = os.path.relpath(path, self.root).replace(os.sep, "/")
        name = rel.rsplit("/", 1)[-1]
        if rel.startswith("..") or name.startswith("."):
            return  # temporary files of editors and of our own atomic writes
        try:
            if removed:
                if self.on_removed is not None:
                    self.on_removed(rel)
            else:
                self.on_key(rel)
        except Exception as exc:  # one bad event must not stop the watcher
            log.error("folder_event_failed", key=rel, error=type(exc).__name__, message=str(exc)[:300])

    def _timer(self, path: str) -> threading.Timer:
        timer = threading.Timer(self.settle_seconds, self._settled)
        timer.args = (path, timer)
        timer.daemon = True
        return timer

    def _settle(self, path: str) -> None:
        """(Re)start the settle timer of `path`: announced when nothing changed for settle_seconds."""
        timer = self._timer(path)
        with self._lock:
            previous = self._settling.get(path)
            if previous is not None:
                previous[0].cancel()
            self._settling[path] = (timer, _signature(path))
        timer.start()

    def _settled(self, path: str, timer: threading.Timer) -> None:
        now = _signature(path)
        with self._lock:
            entry = self._settling.get(path)
            if entry is None or entry[0] is not timer:
                return  # cancelled, or replaced by a newer timer
            if now is not None and now != entry[1]:
                again = self._timer(path)
                self._settling[path] = (again, now)
                again.start()
                return  # still being written: wait another settle time
            del self._settling[path]
        if now is not None and os.path.isfile(path):
            self._announce(path)

    def on_created(self, event):
        if isinstance(event, FileCreatedEvent) and not event.is_directory:
            self._settle(event.src_path)

    def on_modified(self, event):
        if isinstance(event, FileModifiedEvent) and not event.is_directory:
            self._settle(event.src_path)

    def on_closed(self, event):
        if isinstance(event, FileClosedEvent) and not event.is_directory:
            self._settle(event.src_path)

    def on_moved(self, event):
        if isinstance(event, FileMovedEvent) and not event.is_directory:
            with self._lock:
                pending = self._settling.pop(event.src_path, None)
            if pending is not None:
                pending[0].cancel()
            self._announce(event.dest_path)  # a rename is atomic: the content is complete
            self._announce(event.src_path, removed=True)

    def on_deleted(self, event):
        if isinstance(event, FileDeletedEvent) and not event.is_directory:
            with self._lock:
                pending = self._settling.pop(event.src_path, None)
            if pending is not None:
                pending[0].cancel()
            self._announce(event.src_path, removed=True)

    def cancel_all(self) -> None:
        with self._lock:
            for timer, _ in self._settling.values():
                timer.cancel()
            self._settling.clear()


class FolderWatcher:
    """Calls on_key(key) for each file that lands below root/watch_prefix."""

    def __init__(
        self,
        root: Path,
        watch_prefix: str,
        on_key: Callable[[str], None],
        on_removed: Callable[[str], None] | None = None,
        settle_seconds: float | None = None,
    ):
        self.root = Path(root).resolve()
        self.watch_dir = self.root / watch_prefix
        self.watch_dir.mkdir(parents=True, exist_ok=True)
        self.observer = Observer()
        self.handler = _Handler(self.root, on_key, on_removed, SETTLE_SECONDS if settle_seconds is None else settle_seconds)
        self.observer.schedule(self.handler, str(self.watch_dir), recursive=True)

    def start(self) -> None:
        self.observer.start()
        log.info("folder_watching", path=str(self.watch_dir))

    def stop(self) -> None:
        self.handler.cancel_all()
        self.observer.stop()
        self.observer.join(timeout=5)
