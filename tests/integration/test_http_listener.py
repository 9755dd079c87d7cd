"""MinIO's webhook path: `copydesk listen --http` receives a POSTed notification (MinIO's shape,
bearer token), answers 2xx only after enqueueing, and a worker processes the object."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import quote_plus

import pytest

from integration_support import BIN, free_port, wait_until

pytestmark = pytest.mark.integration

TOKEN = "webhook-test-token-5f2c"


@pytest.fixture(scope="module")
def stack(make_stack):
    stack = make_stack("http")
    stack.port = free_port()
    stack.worker = stack.start_worker("w1", concurrency=2)
    stack.listener = stack.service(
        "listen-http", [str(BIN / "copydesk"), "listen", "--http", f"127.0.0.1:{stack.port}"], COPYDESK_HTTP_TOKEN=TOKEN
    )
    wait_until(lambda: http(stack, "GET", "/healthz")[0] == 200, 60, "the listener's /healthz", [stack.listener])
    stack.wait_worker_ready(stack.worker)
    return stack


def http(stack, method: str, path: str, body: bytes | None = None, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{stack.port}{path}", data=body, method=method)
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=15) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except OSError:
        return 0, {}


def minio_notification(bucket: str, key: str, etag: str, size: int, version_id: str | None) -> bytes:
    """What MinIO's webhook target POSTs: the S3 Records plus EventName and Key at the top."""
    return json.dumps({
        "EventName": "s3:ObjectCreated:Put",
        "Key": f"{bucket}/{key}",
        "Records": [{
            "eventVersion": "2.0",
            "eventSource": "minio:s3",
            "awsRegion": "",
            "eventTime": "2026-01-01T00:00:00.000Z",
            "eventName": "s3:ObjectCreated:Put",
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "Config",
                "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                "object": {"key": quote_plus(key), "size": size, "eTag": etag, "versionId": version_id or "",
                           "contentType": "text/plain", "sequencer": "17F2A0B1C2D3E4F5"},
            },
        }],
    }).encode()


def test_health_reports_store_and_broker(stack):
    status, body = http(stack, "GET", "/healthz")
    assert status == 200 and body.get("ok") is True, body


def test_webhook_needs_the_token_and_a_notification(stack, sample):
    body = minio_notification(stack.bucket, "incoming/web/x.txt", "0" * 32, 1, None)
    assert http(stack, "POST", "/", body)[0] == 401
    assert http(stack, "POST", "/", body, token="wrong")[0] == 401
    assert http(stack, "POST", "/", b'{"not": "a notification"}', token=TOKEN)[0] == 400
    assert TOKEN not in stack.listener.text(), "the bearer token leaked into the log"


def test_minio_webhook_event_is_processed_once(stack, sample):
    key = "incoming/web/minio upload.txt"
    put = stack.put(key, sample)
    body = minio_notification(stack.bucket, key, put["etag"], len(sample), put["version_id"])

    status, answer = http(stack, "POST", "/", body, token=TOKEN)
    assert status == 200 and answer.get("results") == ["enqueued"], answer

    record = stack.wait_json("processed/web/minio upload.txt.json", timeout=90)
    assert record["source"]["key"] == key and record["source"]["etag"] == put["etag"]
    assert record["topics"][0]["label"] == "world"

    # MinIO retries until it gets a 2xx: the same event again is acknowledged, not re-run.
    status, answer = http(stack, "POST", "/", body, token=TOKEN)
    assert status == 200 and answer.get("results") == ["current"], answer
    events = stack.log_events("logs/web/minio upload.txt.jsonl")
    assert [e["event"] for e in events].count("article_started") == 1
    assert len(stack.versions("processed/web/minio upload.txt.json")) == 1


def test_webhook_refuses_other_buckets_and_accepts_any_scheme_case(stack, sample):
    key = "incoming/web/lower-case scheme.txt"
    put = stack.put(key, sample)
    other = minio_notification("someone-elses-bucket", key, put["etag"], len(sample), put["version_id"])
    request = urllib.request.Request(f"http://127.0.0.1:{stack.port}/", data=other, method="POST")
    request.add_header("Authorization", f"bearer {TOKEN}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=15)
    assert refused.value.code == 403
    assert stack.keys("processed/web/lower-case") == []
    ours = minio_notification(stack.bucket, key, put["etag"], len(sample), put["version_id"])
    request = urllib.request.Request(f"http://127.0.0.1:{stack.port}/", data=ours, method="POST")
    request.add_header("Authorization", f"bearer {TOKEN}")
    with urllib.request.urlopen(request, timeout=15) as resp:
        assert resp.status == 200
    stack.wait_json("processed/web/lower-case scheme.txt.json", timeout=90)
