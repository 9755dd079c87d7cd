"""The index in the bucket: immutable segments under `index/segments/` and one manifest.

`index/manifest.json` lists the live segments (and tombstones of deleted inputs). It changes
only by compare-and-swap: read it with its etag, apply a change, write it back with `If-Match`
(or `If-None-Match: *` when it does not exist yet), and on `PreconditionFailed` read again and
re-apply the change. Segments are uploaded with `If-None-Match: *` before the manifest names
them and never change afterwards, so readers can cache them forever by name.

The compare-and-swap relies on the store's conditional write being atomic, as it is on AWS S3,
MinIO and the folder backend (flock). Conflicts are retried with tenacity: full-jitter
exponential backoff, at most PUBLISH_ATTEMPTS times.

Segments retired by a merge stay in the bucket for RETIRE_GRACE seconds, listed under
"retired", so a reader that fetched the previous manifest can still download them.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from ..logging import get_logger
from ..settings import Settings
from ..storage import NotFound, PreconditionFailed, Store

log = get_logger("copydesk.search")

MANIFEST_FORMAT = 1
PUBLISH_ATTEMPTS = 60
#: Backoff after a lost compare-and-swap: uniform(0, min(max, multiplier * 2^n)) seconds.
CONFLICT_BACKOFF = 0.01
CONFLICT_BACKOFF_MAX = 0.5
RETIRE_GRACE = 600.0
SEGMENT_SUFFIX = ".sqlite"


class PublishFailed(RuntimeError):
    """The manifest could not be updated after many attempts (heavy contention)."""


@dataclass
class Manifest:
    generation: int = 0
    segments: list[dict[str, Any]] = field(default_factory=list)
    #: doc id → POSIX time of deletion.
    tombstones: dict[str, float] = field(default_factory=dict)
    #: [{"key", "at"}]: segments merged away, deleted from the bucket after RETIRE_GRACE.
    retired: list[dict[str, Any]] = field(default_factory=list)
    updated_at: float = 0.0
    #: Etag of the manifest object this was read from (None: no manifest yet).
    etag: str | None = None

    @classmethod
    def from_json(cls, data: bytes, etag: str | None) -> Manifest:
        raw = json.loads(data)
        if raw.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"unknown index manifest format {raw.get('format')!r}")
        return cls(
            generation=raw.get("generation", 0),
            segments=raw.get("segments", []),
            tombstones=raw.get("tombstones", {}),
            retired=raw.get("retired", []),
            updated_at=raw.get("updated_at", 0.0),
            etag=etag,
        )

    def to_json(self) -> bytes:
        body = {
            "format": MANIFEST_FORMAT,
            "generation": self.generation,
            "updated_at": self.updated_at,
            "segments": self.segments,
            "tombstones": self.tombstones,
            "retired": self.retired,
        }
        return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()

    @property
    def segment_names(self) -> set[str]:
        return {s["name"] for s in self.segments}


def new_segment_name() -> str:
    """Sortable by creation time, unique across writers."""
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"


class Catalog:
    """Reads and publishes the manifest; uploads and downloads segment files."""

    def __init__(self, store: Store, settings: Settings, cache_dir: str | os.PathLike | None = None):
        self.store = store
        self.prefix = settings.index_prefix
        self.manifest_key = f"{self.prefix}manifest.json"
        self.segments_prefix = f"{self.prefix}segments/"
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir(store, settings)
        #: The manifest this catalog last wrote (or found already changed): what a caller
        #: that just published reads instead of GETting it again.
        self.last_published: Manifest | None = None

    # -- manifest --------------------------------------------------------------------------
    def read(self) -> Manifest:
        try:
            obj = self.store.get(self.manifest_key)
        except NotFound:
            return Manifest()
        return Manifest.from_json(obj.data, obj.info.etag)

    def manifest_etag(self) -> str | None:
        try:
            return self.store.head(self.manifest_key).etag
        except NotFound:
            return None

    def publish(
        self,
        change: Callable[[Manifest], Manifest | None],
        applied: Callable[[Manifest], bool],
        what: str,
    ) -> Manifest | None:
        """Apply change to the current manifest and write it conditionally, until it sticks.

        change gets a copy of the current manifest and returns the new one, or None when the
        change no longer makes sense (e.g. a merge whose inputs another merge took): then
        nothing is written and None is returned. applied tells whether a manifest already
        contains the change (a publish retried after its write went through).
        """
        retrying = Retrying(
            retry=retry_if_exception_type(PreconditionFailed),
            stop=stop_after_attempt(PUBLISH_ATTEMPTS),
            # Full jitter, growing slowly: publishers of a busy fleet spread out.
            wait=wait_random_exponential(multiplier=CONFLICT_BACKOFF, max=CONFLICT_BACKOFF_MAX),
        )
        try:
            for attempt in retrying:
                with attempt:
                    current = self.read()
                    if applied(current):
                        self.last_published = current
                        return current
                    proposed = change(copy.deepcopy(current))
                    if proposed is None:
                        return None
                    proposed.generation = current.generation + 1
                    proposed.updated_at = time.time()
                    conditions: dict[str, Any] = {"if_none_match": True} if current.etag is None else {"if_match": current.etag}
                    info = self.store.put(self.manifest_key, proposed.to_json(), content_type="application/json", **conditions)
                    proposed.etag = info.etag
                    self.last_published = proposed
                    tries = attempt.retry_state.attempt_number
                    log.info("index_published", change=what, generation=proposed.generation, conflicts=tries - 1, attempts=tries)
                    return proposed
        except RetryError:
            raise PublishFailed(f"could not publish {what} after {PUBLISH_ATTEMPTS} attempts") from None
        raise AssertionError("unreachable")

    # -- segments --------------------------------------------------------------------------
    def segment_key(self, name: str) -> str:
        return f"{self.segments_prefix}{name}{SEGMENT_SUFFIX}"

    def upload(self, name: str, path: Path, docs: int, level: int = 0) -> dict[str, Any]:
        data = path.read_bytes()
        key = self.segment_key(name)
        self.store.put(key, data, content_type="application/vnd.sqlite3", if_none_match=True)
        # Keep the file we built: it is already the cached copy of this segment.
        cached = self.cached_path(name)
        cached.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # another filesystem: the cache downloads it when needed
            os.replace(path, cached)
        return {
            "name": name,
            "key": key,
            "docs": docs,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "level": level,
            "created_at": time.time(),
        }

    def cached_path(self, name: str) -> Path:
        return self.cache_dir / "segments" / f"{name}{SEGMENT_SUFFIX}"

    def fetch(self, entry: dict[str, Any]) -> Path:
        """The local copy of a segment, downloaded on first use (segments never change)."""
        path = self.cached_path(entry["name"])
        if path.exists() and path.stat().st_size == entry.get("bytes", path.stat().st_size):
            return path
        data = self.store.get(entry["key"]).data
        if "sha256" in entry and hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ValueError(f"segment {entry['key']} does not match its checksum in the manifest")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return path

    def prune_cache(self, keep: set[str], older_than: float = RETIRE_GRACE) -> int:
        """Delete cached segments no manifest names any more (open files stay readable on POSIX)."""
        folder = self.cache_dir / "segments"
        if not folder.is_dir():
            return 0
        removed = 0
        cutoff = time.time() - older_than
        for path in folder.glob(f"*{SEGMENT_SUFFIX}"):
            name = path.name[: -len(SEGMENT_SUFFIX)]
            if name not in keep and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def scratch_dir(self) -> Path:
        path = self.cache_dir / "build"
        path.mkdir(parents=True, exist_ok=True)
        return path


def default_cache_dir(store: Store, settings: Settings) -> Path:
    """One folder per store under COPYDESK_CACHE_DIR, else $XDG_CACHE_HOME/copydesk."""
    base = settings.cache_dir
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "copydesk")
    tag = hashlib.sha1(f"{store.url}|{settings.index_prefix}".encode()).hexdigest()[:16]
    return Path(base) / "index" / tag
