"""Parse S3 and MinIO event-notification JSON into ObjectEvents.

Handles the AWS shape (`{"Records": [...]}`), MinIO's webhook shape (the same Records plus
`EventName`/`Key` at the top), an SNS envelope around either (`{"Type": "Notification",
"Message": "<json>"}`), and the `s3:TestEvent` AWS sends when a notification is configured,
which carries no object and is skipped. Keys arrive URL-encoded with `+` for spaces.
"""

from __future__ import annotations

import json
from typing import Any
from collections.abc import Iterable
from urllib.parse import unquote_plus

from .model import CREATED, REMOVED, ObjectEvent


class NotificationError(ValueError):
    """The message is not an S3 event notification."""


def parse_notification(body: str | bytes | dict[str, Any], origin: str = "notification") -> list[ObjectEvent]:
    """Every object event in one notification message; [] for test events."""
    doc = _load(body)
    if isinstance(doc, dict) and doc.get("Type") == "Notification" and "Message" in doc:
        doc = _load(doc["Message"])  # SNS → SQS fan-out
    if not isinstance(doc, dict):
        raise NotificationError("notification is not a JSON object")
    if doc.get("Event") == "s3:TestEvent":
        return []
    records = doc.get("Records")
    if not isinstance(records, list):
        raise NotificationError("notification has no Records list")
    return [event for record in records for event in _parse_record(record, origin)]


def _load(body: str | bytes | dict) -> Any:
    if isinstance(body, (dict, list)):
        return body
    try:
        return json.loads(body)
    except (TypeError, ValueError) as exc:
        raise NotificationError(f"notification is not JSON: {exc}") from None


def _parse_record(record: Any, origin: str) -> Iterable[ObjectEvent]:
    if not isinstance(record, dict):
        raise NotificationError("a Records entry is not an object")
    name = str(record.get("eventName", ""))
    s3 = record.get("s3")
    if not isinstance(s3, dict) or not isinstance(s3.get("object"), dict):
        raise NotificationError(f"record {name!r} has no s3.object")
    if name.startswith(("ObjectCreated:", "s3:ObjectCreated:")):
        kind = CREATED
    elif name.startswith(("ObjectRemoved:", "s3:ObjectRemoved:")):
        kind = REMOVED
    else:
        return  # replication, restore, lifecycle...: nothing to process
    obj = s3["object"]
    bucket = (s3.get("bucket") or {}).get("name")
    raw_key = obj.get("key")
    if not bucket or not raw_key:
        raise NotificationError(f"record {name!r} lacks bucket or key")
    etag = obj.get("eTag") or obj.get("etag")
    size = obj.get("size")
    yield ObjectEvent(
        bucket=bucket,
        key=unquote_plus(raw_key),
        etag=etag.strip('"') if etag else None,
        size=int(size) if size is not None else None,
        version_id=obj.get("versionId") or None,
        kind=kind,
        origin=origin,
    )
