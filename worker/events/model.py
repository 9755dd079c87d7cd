"""One event model for every source: an object was created (or removed) in a bucket."""

from __future__ import annotations

from dataclasses import asdict, dataclass

CREATED = "created"
REMOVED = "removed"


@dataclass(frozen=True)
class ObjectEvent:
    bucket: str
    key: str
    etag: str | None = None
    size: int | None = None
    version_id: str | None = None
    kind: str = CREATED
    #: Which source saw it: sqs, http, sweep, folder, submit.
    origin: str = "unknown"

    def as_dict(self) -> dict:
        return asdict(self)
