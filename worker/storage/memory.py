"""In-memory twin of the store, for unit tests and `copydesk process`."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator

from .base import (
    NotFound,
    ObjectInfo,
    ObjectTooLarge,
    PreconditionFailed,
    Store,
    StoredObject,
    validate_key,
)


class MemoryStore(Store):
    def __init__(self, bucket: str = "memory"):
        self.bucket = bucket
        self.url = f"memory://{bucket}"
        self._objects: dict[str, tuple[bytes, ObjectInfo]] = {}
        self._lock = threading.Lock()

    def get(self, key, *, version_id=None, max_bytes=None):
        validate_key(key)
        with self._lock:
            try:
                data, info = self._objects[key]
            except KeyError:
                raise NotFound(key) from None
        if max_bytes is not None and info.size > max_bytes:
            raise ObjectTooLarge(key, info.size, max_bytes)
        return StoredObject(info, data)

    def head(self, key):
        validate_key(key)
        with self._lock:
            try:
                return self._objects[key][1]
            except KeyError:
                raise NotFound(key) from None

    def put(self, key, data, *, content_type="application/octet-stream", if_match=None, if_none_match=False, durable=True):
        validate_key(key)
        data = bytes(data)
        with self._lock:
            current = self._objects.get(key)
            if if_none_match and current is not None:
                raise PreconditionFailed(f"{key} exists")
            if if_match is not None and (current is None or current[1].etag != if_match):
                raise PreconditionFailed(f"{key} changed")
            info = ObjectInfo(key, hashlib.md5(data).hexdigest(), len(data), None, time.time())
            self._objects[key] = (data, info)
            return info

    def list(self, prefix="", start_after=None) -> Iterator[ObjectInfo]:
        with self._lock:
            infos = [info for k, (_, info) in self._objects.items() if k.startswith(prefix) and (start_after is None or k > start_after)]
        return iter(sorted(infos, key=lambda i: i.key))

    def delete(self, key):
        validate_key(key)
        with self._lock:
            self._objects.pop(key, None)
