"""The one narrow storage interface every backend implements.

Backends translate their own errors into the exceptions below at the boundary, so the rest of
copydesk never sees botocore or OSError details and can decide on retry vs. quarantine by class.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from collections.abc import Iterable, Iterator


class StoreError(Exception):
    """Base class for storage failures."""

    transient = False


class NotFound(StoreError):
    """The key does not exist."""


class AccessDenied(StoreError):
    """Credentials are missing or not allowed to do this."""


class StoreMissing(AccessDenied):
    """The store itself (folder or bucket) does not exist: nothing in it can be read or written."""


class Unreachable(StoreError):
    """The store did not answer, throttled us or failed on its side (5xx): worth retrying."""

    transient = True


class PreconditionFailed(StoreError):
    """A conditional write lost the race: the object changed since it was read."""


class InvalidKey(StoreError, ValueError):
    """The key is not one copydesk will read or write."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    etag: str
    size: int
    version_id: str | None = None
    last_modified: float | None = None  # POSIX seconds


@dataclass(frozen=True)
class StoredObject:
    info: ObjectInfo
    data: bytes


def validate_key(key: str) -> str:
    """Reject keys that could escape a prefix or a folder root."""
    if not isinstance(key, str) or not key:
        raise InvalidKey("empty key")
    if "\x00" in key:
        raise InvalidKey(f"key contains NUL: {key!r}")
    if key.startswith("/"):
        raise InvalidKey(f"key starts with '/': {key!r}")
    if "\\" in key:
        raise InvalidKey(f"key contains a backslash: {key!r}")
    for segment in key.split("/"):
        if segment in ("..", "."):
            raise InvalidKey(f"key has a {segment!r} segment: {key!r}")
    if len(key.encode("utf-8")) > 1024:
        raise InvalidKey("key longer than 1024 bytes")
    return key


#: Deferred writes of a group commit, as take_batch() hands them over: (temporary file, final
#: path) on the folder store; opaque to callers, who only pass them to commit_writes().
PendingWrites = list[tuple[str, str]]


class Store(abc.ABC):
    """Object storage as copydesk needs it: whole objects, etags, conditional writes."""

    #: Bucket name for S3; the folder's name for the local backend.
    bucket: str
    #: A URL that names this store without credentials, for logs and records.
    url: str

    @abc.abstractmethod
    def get(self, key: str, *, version_id: str | None = None, max_bytes: int | None = None) -> StoredObject:
        """Read a whole object. Raises NotFound; raises StoreError subclasses on failure.

        With max_bytes, objects larger than that raise ObjectTooLarge before the body is read.
        """

    @abc.abstractmethod
    def head(self, key: str) -> ObjectInfo:
        """Metadata of an object, or NotFound."""

    @abc.abstractmethod
    def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        if_match: str | None = None,
        if_none_match: bool = False,
        durable: bool = True,
    ) -> ObjectInfo:
        """Write a whole object atomically.

        if_match: write only if the current etag equals this one (else PreconditionFailed).
        if_none_match: write only if no object exists at key (else PreconditionFailed).
        durable=False: the object can be rebuilt (index documents, lineage logs, markers), so a
        backend may skip flushing it to disk (the folder store skips fsync; S3 ignores it).
        """

    @abc.abstractmethod
    def list(self, prefix: str = "", start_after: str | None = None) -> Iterator[ObjectInfo]:
        """Every object whose key starts with prefix, in key order (only keys after
        `start_after` when given: S3's StartAfter)."""

    def list_keys(self, prefix: str = "", start_after: str | None = None) -> Iterator[str]:
        """The keys `list` would give, for callers that need no etag or size (a backend where
        those cost a read, the folder store, skips them)."""
        return (info.key for info in self.list(prefix, start_after=start_after))

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; missing keys are not an error. Never called on input objects."""

    def delete_many(self, keys: Iterable[str]) -> None:
        """Remove several objects (missing ones are not an error); S3 does 1,000 per request."""
        for key in keys:
            self.delete(key)

    # Group commit: a backend that can make many durable writes durable at once defers this
    # thread's durable unconditional writes from begin_batch() to commit_batch() (the folder
    # store); elsewhere every write is durable when put() returns and these do nothing.
    def begin_batch(self) -> None:  # noqa: B027 - optional hook
        """Defer this thread's durable unconditional writes until commit_batch()."""

    def commit_batch(self) -> int:
        """Make the deferred writes durable and visible; returns how many."""
        return self.commit_writes(self.take_batch())

    def take_batch(self) -> PendingWrites:
        """This thread's deferred writes so far, handed to the caller (the batch stays open):
        commit them with commit_writes(), from any thread, while this one writes on."""
        return []

    def commit_writes(self, writes: PendingWrites) -> int:
        """Make writes taken by take_batch() durable and visible; returns how many."""
        return 0

    def end_batch(self) -> None:  # noqa: B027 - optional hook
        """Stop deferring this thread's writes (uncommitted ones are dropped)."""

    def defers_durable_writes(self) -> bool:
        """Are this thread's durable unconditional writes deferred now (begin_batch() on a
        backend with group commit)? Elsewhere a durable write is in place when put() returns."""
        return False

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except NotFound:
            return False
        return True

    def ensure_exists(self, *, create: bool = False) -> None:  # noqa: B027 - in-memory stores always exist
        """StoreMissing when the folder or bucket does not exist, unless `create` makes it."""

    def close(self) -> None:  # noqa: B027 - optional hook: backends with resources override it
        return None


class ObjectTooLarge(StoreError):
    """The object is larger than the caller's limit; its body was not read."""

    def __init__(self, key: str, size: int, limit: int):
        super().__init__(f"{key}: {size} bytes is over the limit of {limit} bytes")
        self.key = key
        self.size = size
        self.limit = limit
