"""Parse S3 and MinIO event-notification JSON into ObjectEvents.

Handles the AWS shape (`{"Records": [...]}`), MinIO's webhook shape (the same Records plus
`EventName`/`Key` at the top), an SNS envelope around either (`{"Type": "Notification",
"Message": "<json>"}`), and the `s3:TestEvent` AWS sends when a notification is configured,
which carries no object and is skipped. Keys arrive URL-encoded with `+` for spaces.

Whatever the input, `parse_notification` either returns events or raises `NotificationError`
(a ValueError) with a short reason: wrong types (a bucket given as a list, a size of "abc"),
NaN or infinite numbers, JSON nested deeper than a notification ever is, bodies over
`MAX_BODY_BYTES`, too many records. Nothing else escapes (a hypothesis test in
tests/unit/test_notification_fuzz.py throws arbitrary JSON and bytes at it).
"""

from __future__ import annotations

import json
from typing import Any
from collections.abc import Iterable
from urllib.parse import unquote_plus

from .model import CREATED, REMOVED, ObjectEvent

#: A notification is a few KB; MinIO batches at most a few hundred records.
MAX_BODY_BYTES = 1 << 20
#: Nesting of a real notification is about 5; anything deeper is refused before json.loads
#: (whose recursion would otherwise raise RecursionError on a deep enough document).
MAX_DEPTH = 32
#: S3 keys are at most 1,024 bytes; URL-encoded a key can be three times that.
MAX_RAW_KEY_CHARS = 3 * 1024 + 16


class NotificationError(ValueError):
    """The message is not an S3 event notification."""


def parse_notification(body: str | bytes | dict[str, Any], origin: str = "notification", *, max_records: int | None = None) -> list[ObjectEvent]:
    """Every object event in one notification message; [] for test events.

    Raises NotificationError, and only that, for anything that is not a well-formed
    notification (or holds more than `max_records` records, when given)."""
    try:
        return _parse(body, origin, max_records)
    except NotificationError:
        raise
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError, RecursionError, UnicodeError, MemoryError) as exc:
        # The explicit checks below should leave nothing for this; it is the last fence.
        raise NotificationError(f"malformed notification: {type(exc).__name__}") from None


def _parse(body: Any, origin: str, max_records: int | None) -> list[ObjectEvent]:
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
    if max_records is not None and len(records) > max_records:
        raise NotificationError(f"notification has {len(records)} records; at most {max_records} are accepted per message")
    return [event for record in records for event in _parse_record(record, origin)]


def _refuse_constant(name: str) -> Any:
    raise NotificationError(f"notification holds {name}, which is not JSON")


def _load(body: Any) -> Any:
    if isinstance(body, (dict, list)):
        _check_depth(body)
        return body
    if isinstance(body, (bytes, bytearray)):
        if len(body) > MAX_BODY_BYTES:
            raise NotificationError(f"notification is larger than {MAX_BODY_BYTES} bytes")
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise NotificationError("notification is not UTF-8") from None
    if not isinstance(body, str):
        raise NotificationError(f"notification is a {type(body).__name__}, not JSON text")
    if len(body) > MAX_BODY_BYTES:
        raise NotificationError(f"notification is larger than {MAX_BODY_BYTES} bytes")
    _check_text_depth(body)
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except NotificationError:
        raise
    except (ValueError, RecursionError) as exc:
        raise NotificationError(f"notification is not JSON: {str(exc)[:200]}") from None


def _check_text_depth(text: str) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH without parsing it (brackets inside strings
    count too: a real notification is far from the limit either way)."""
    depth = 0
    for char in text:
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise NotificationError(f"notification is nested deeper than {MAX_DEPTH} levels")
        elif char in "]}":
            depth -= 1


def _check_depth(doc: Any) -> None:
    stack = [(doc, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise NotificationError(f"notification is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def _text(value: Any, what: str, *, required: bool, limit: int = 2048) -> str | None:
    if value is None or value == "":
        if required:
            raise NotificationError(f"record lacks {what}")
        return None
    if not isinstance(value, str):
        raise NotificationError(f"{what} is a {type(value).__name__}, not a string")
    if len(value) > limit:
        raise NotificationError(f"{what} is longer than {limit} characters")
    return value


def _size(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise NotificationError("size is a boolean, not a number of bytes")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or not value.is_integer():
            raise NotificationError(f"size {value!r} is not a whole number of bytes")
        number = int(value)
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        number = int(value)
    else:
        raise NotificationError(f"size {str(value)[:40]!r} is not a number of bytes")
    if not 0 <= number < 1 << 63:
        raise NotificationError(f"size {number} is out of range")
    return number


def _parse_record(record: Any, origin: str) -> Iterable[ObjectEvent]:
    if not isinstance(record, dict):
        raise NotificationError("a Records entry is not an object")
    name = record.get("eventName", "")
    if not isinstance(name, str):
        raise NotificationError("eventName is not a string")
    s3 = record.get("s3")
    if not isinstance(s3, dict) or not isinstance(s3.get("object"), dict):
        raise NotificationError(f"record {name[:80]!r} has no s3.object")
    if name.startswith(("ObjectCreated:", "s3:ObjectCreated:")):
        kind = CREATED
    elif name.startswith(("ObjectRemoved:", "s3:ObjectRemoved:")):
        kind = REMOVED
    else:
        return  # replication, restore, lifecycle...: nothing to process
    obj = s3["object"]
    bucket_doc = s3.get("bucket")
    if bucket_doc is not None and not isinstance(bucket_doc, dict):
        raise NotificationError("s3.bucket is not an object")
    bucket = _text((bucket_doc or {}).get("name"), "bucket name", required=True, limit=255)
    raw_key = _text(obj.get("key"), "object key", required=True, limit=MAX_RAW_KEY_CHARS)
    etag = _text(obj.get("eTag") if obj.get("eTag") is not None else obj.get("etag"), "eTag", required=False, limit=200)
    version_id = _text(obj.get("versionId"), "versionId", required=False, limit=1024)
    size = _size(obj.get("size"))
    assert bucket is not None and raw_key is not None
    try:
        key = unquote_plus(raw_key, errors="strict")
    except UnicodeDecodeError:
        raise NotificationError("object key is not URL-encoded UTF-8") from None
    yield ObjectEvent(
        bucket=bucket,
        key=key,
        etag=etag.strip('"') if etag else None,
        size=size,
        version_id=version_id,
        kind=kind,
        origin=origin,
    )
