"""Folder events for the embedded runner: watchdog tells us when a file lands in `incoming/`.

A file is announced when it is closed after writing or moved into place (the usual atomic
upload). A file that appears without either (moved in from another file system or folder,
which inotify reports as a creation) is announced after a short settle time. Its etag comes
from the store, like every other source's; a file announced twice with the same content is
processed once (the dispatcher sees the same etag).
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
    FileMovedEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from ..logging import get_logger

log = get_logger("copydesk.listen.folder")

#: Seconds a created file waits for its close event before it is announced anyway.
SETTLE_SECONDS = 1.0


class _Handler(FileSystemEventHandler):
    def __init__(self, root: Path, on_key: Callable[[str], None], on_removed: Callable[[str], None] | None):
        self.root = root
        self.on_key = on_key
        self.on_removed = on_removed
        self._settling: dict[str, threading.Timer] = {}
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

    def on_created(self, event):
        if isinstance(event, FileCreatedEvent) and not event.is_directory:
            timer = threading.Timer(SETTLE_SECONDS, self._settled, args=(event.src_path,))
            timer.daemon = True
            with self._lock:
                self._settling[event.src_path] = timer
            timer.start()

    def _settled(self, path: str) -> None:
        with self._lock:
            if self._settling.pop(path, None) is None:
                return  # its close event came first
        if os.path.isfile(path):
            self._announce(path)

    def on_closed(self, event):
        if isinstance(event, FileClosedEvent) and not event.is_directory:
            with self._lock:
                timer = self._settling.pop(event.src_path, None)
            if timer is not None:
                timer.cancel()
            self._announce(event.src_path)

    def on_moved(self, event):
        if isinstance(event, FileMovedEvent) and not event.is_directory:
            self._announce(event.dest_path)
            self._announce(event.src_path, removed=True)

    def on_deleted(self, event):
        if isinstance(event, FileDeletedEvent) and not event.is_directory:
            self._announce(event.src_path, removed=True)


class FolderWatcher:
    """Calls on_key(key) for each file that lands below root/watch_prefix."""

    def __init__(
        self,
        root: Path,
        watch_prefix: str,
        on_key: Callable[[str], None],
        on_removed: Callable[[str], None] | None = None,
    ):
        self.root = Path(root).resolve()
        self.watch_dir = self.root / watch_prefix
        self.watch_dir.mkdir(parents=True, exist_ok=True)
        self.observer = Observer()
        self.observer.schedule(_Handler(self.root, on_key, on_removed), str(self.watch_dir), recursive=True)

    def start(self) -> None:
        self.observer.start()
        log.info("folder_watching", path=str(self.watch_dir))

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)
