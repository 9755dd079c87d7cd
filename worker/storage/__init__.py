"""Storage behind one narrow interface: `open_store("s3://bucket" | "file:///path" | "memory://name")`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from .base import (
    AccessDenied,
    InvalidKey,
    NotFound,
    ObjectInfo,
    ObjectTooLarge,
    PreconditionFailed,
    Store,
    StoredObject,
    StoreError,
    Unreachable,
    validate_key,
)

__all__ = [
    "AccessDenied",
    "InvalidKey",
    "NotFound",
    "ObjectInfo",
    "ObjectTooLarge",
    "PreconditionFailed",
    "Store",
    "StoredObject",
    "StoreError",
    "Unreachable",
    "open_store",
    "validate_key",
]


def open_store(url: str) -> Store:
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        from .s3 import S3Store

        if not parsed.netloc:
            raise ValueError(f"store URL needs a bucket: {url!r}")
        return S3Store(parsed.netloc)
    if parsed.scheme == "file":
        from .local import LocalStore

        # file:///abs/path, file://relative/path and file://./path all name a folder.
        path = unquote(url[len("file://"):])
        if path.startswith("localhost/"):
            path = path[len("localhost"):]
        return LocalStore(Path(path))
    if parsed.scheme == "memory":
        from .memory import MemoryStore

        return MemoryStore(parsed.netloc or "memory")
    if parsed.scheme == "" and url:
        from .local import LocalStore

        return LocalStore(Path(url))
    raise ValueError(f"unsupported store URL {url!r}: use s3://BUCKET or file:///path")
