"""Storage behind one narrow interface: `open_store("s3://bucket" | "file:///path" | "memory://name")`."""

from __future__ import annotations

from pathlib import Path

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
    StoreMissing,
    Unreachable,
    validate_key,
)
from .urls import parse_store_url

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
    "StoreMissing",
    "Unreachable",
    "open_store",
    "parse_store_url",
    "validate_key",
]


def open_store(url: str) -> Store:
    """The store `url` names (see worker/storage/urls.py); ValueError when it names none.

    Opening checks nothing remote: `Store.ensure_exists` says whether the folder or bucket is there.
    """
    location = parse_store_url(url)
    if location.scheme == "s3":
        from .s3 import S3Store

        return S3Store(location.name)
    if location.scheme == "file":
        from .local import LocalStore

        return LocalStore(Path(location.name))
    from .memory import MemoryStore

    return MemoryStore(location.name)
