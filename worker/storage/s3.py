"""S3 through boto3: AWS, MinIO, moto and any S3-compatible API (`s3://BUCKET[/ROOT]`).

Endpoint, region and credentials come from boto3's standard settings (AWS_ENDPOINT_URL,
AWS_REGION / AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, profiles, instance roles), so copydesk
talks to a store exactly as the AWS CLI would. botocore errors are translated here.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError as BotoConnectionError

from .base import (
    AccessDenied,
    StoreMissing,
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

_NOT_FOUND = {"NoSuchKey", "404", "NotFound", "NoSuchVersion"}
_DENIED = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
_PRECONDITION = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_NO_BUCKET = {"NoSuchBucket"}
#: Keys per DeleteObjects request (S3's limit).
DELETE_BATCH = 1000


class S3Store(Store):
    def __init__(self, bucket: str, *, client=None, connect_timeout: float = 5, read_timeout: float = 30):
        self.bucket = bucket
        self.url = f"s3://{bucket}"
        self._client = client or boto3.session.Session().client(
            "s3",
            config=Config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                # Retries with backoff for throttling and 5xx happen at the task level, where
                # they can be logged and bounded; keep botocore's own short.
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )

    @property
    def client(self):
        return self._client

    def _call(self, key: str, fn, **kwargs):
        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            raise _translate(exc, key) from exc
        except (BotoConnectionError, BotoCoreError) as exc:
            raise Unreachable(f"{self.url}/{key}: {exc.__class__.__name__}: {exc}") from exc

    def ensure_exists(self, *, create: bool = False) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if status != 404 and code not in _NO_BUCKET and code != "404":
                raise _translate(exc, "") from exc
        except (BotoConnectionError, BotoCoreError) as exc:
            raise Unreachable(f"{self.url}: {exc.__class__.__name__}: {exc}") from exc
        if not create:
            raise StoreMissing(f"no such bucket: {self.bucket} (create it, or pass --create)")
        self._call("", self._client.create_bucket)

    def head(self, key):
        validate_key(key)
        resp = self._call(key, self._client.head_object, Key=key)
        return _info(key, resp, resp["ContentLength"])

    def get(self, key, *, version_id=None, max_bytes=None):
        validate_key(key)
        kwargs = {"Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        resp = self._call(key, self._client.get_object, **kwargs)
        size = resp["ContentLength"]
        body = resp["Body"]
        try:
            if max_bytes is not None and size > max_bytes:
                raise ObjectTooLarge(key, size, max_bytes)
            data = body.read()
        except (BotoConnectionError, BotoCoreError) as exc:
            raise Unreachable(f"{self.url}/{key}: {exc}") from exc
        finally:
            body.close()
        return StoredObject(_info(key, resp, len(data)), data)

    def put(self, key, data, *, content_type="application/octet-stream", if_match=None, if_none_match=False, durable=True):
        validate_key(key)
        kwargs = {"Key": key, "Body": bytes(data), "ContentType": content_type}
        if if_match is not None:
            kwargs["IfMatch"] = _quote(if_match)
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        resp = self._call(key, self._client.put_object, **kwargs)
        return ObjectInfo(key, _unquote(resp.get("ETag", "")), len(kwargs["Body"]), resp.get("VersionId"), None)

    def list(self, prefix="", start_after=None) -> Iterator[ObjectInfo]:
        paginator = self._client.get_paginator("list_objects_v2")
        kwargs = {"StartAfter": start_after} if start_after else {}
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, **kwargs):
                for obj in page.get("Contents", ()):
                    yield ObjectInfo(
                        obj["Key"],
                        _unquote(obj.get("ETag", "")),
                        obj.get("Size", 0),
                        None,
                        obj["LastModified"].timestamp() if obj.get("LastModified") else None,
                    )
        except ClientError as exc:
            raise _translate(exc, prefix) from exc
        except (BotoConnectionError, BotoCoreError) as exc:
            raise Unreachable(f"{self.url}/{prefix}: {exc}") from exc

    def delete(self, key):
        validate_key(key)
        self._call(key, self._client.delete_object, Key=key)

    def delete_many(self, keys):
        """DeleteObjects: up to 1,000 keys per request instead of one DELETE each."""
        keys = [validate_key(k) for k in keys]
        for start in range(0, len(keys), DELETE_BATCH):
            chunk = keys[start:start + DELETE_BATCH]
            resp = self._call(chunk[0], self._client.delete_objects, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
            errors = [e for e in resp.get("Errors", ()) if e.get("Code") not in _NOT_FOUND]
            if errors:
                first = errors[0]
                code = str(first.get("Code", ""))
                message = f"{first.get('Key')}: {code} {first.get('Message', '')}"
                raise Unreachable(message) if code in {"SlowDown", "InternalError", "ServiceUnavailable"} else StoreError(message)


def _info(key: str, resp: dict, size: int) -> ObjectInfo:
    modified = resp.get("LastModified")
    version = resp.get("VersionId")
    return ObjectInfo(
        key,
        _unquote(resp.get("ETag", "")),
        size,
        None if version in (None, "null") else version,
        modified.timestamp() if modified else None,
    )


def _unquote(etag: str) -> str:
    return etag.strip('"')


def _quote(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


def _translate(exc: ClientError, key: str) -> StoreError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    message = f"{key}: {code or status} {error.get('Message', '')}".strip()
    if code in _NOT_FOUND or (status == 404 and code not in _NO_BUCKET):
        return NotFound(message)
    if code in _NO_BUCKET:
        return StoreMissing(f"no such bucket: {message}")
    if code in _DENIED or status == 403:
        return AccessDenied(message)
    if code in _PRECONDITION or status in (409, 412):
        return PreconditionFailed(message)
    if status >= 500 or status == 429 or code in {"SlowDown", "Throttling", "RequestTimeout", "ServiceUnavailable"}:
        return Unreachable(message)
    return StoreError(message)
