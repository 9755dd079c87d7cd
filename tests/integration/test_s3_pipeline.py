"""Upload → S3 notification → SQS → `copydesk listen --sqs` → celery worker → outputs in the bucket.

All real: moto's S3+SQS server delivers the bucket notification to a real SQS queue, the listener
and two prefork workers are subprocesses on a real Redis.
"""

from __future__ import annotations

import hashlib
import json
import threading

import pytest

from integration_support import REDIS_TEST_URL, sample_paragraphs, wait_until, with_password

pytestmark = pytest.mark.integration

TOPIC_LABELS = {"world", "politics", "business", "sports", "scitech", "entertainment", "health"}
BROKER_PASSWORD = "pw-9d41e7c0-never-logged"


@pytest.fixture(scope="module")
def stack(make_stack):
    stack = make_stack("sqs", broker_url=with_password(REDIS_TEST_URL, BROKER_PASSWORD))
    stack.notify_sqs("incoming/")
    stack.worker = stack.start_worker("w1", concurrency=2)
    stack.listener = stack.start_sqs_listener()
    stack.wait_worker_ready(stack.worker)
    return stack


def runs(events: list[dict]) -> list[dict]:
    return [e for e in events if e.get("event") == "article_started"]


def test_upload_is_processed_end_to_end(stack, sample):
    key = "incoming/world/business standard paywalled.txt"  # a space: `+` in the notification
    put = stack.put(key, sample)

    record = stack.wait_json("processed/world/business standard paywalled.txt.json", timeout=90)

    source = record["source"]
    assert source == {
        "bucket": stack.bucket,
        "key": key,
        "etag": put["etag"],
        "size": len(sample),
        "sha256": hashlib.sha256(sample).hexdigest(),
        "version_id": put["version_id"],
    }
    assert isinstance(record["pipeline_version"], str) and record["pipeline_version"]
    for field in ("title", "byline", "published", "url", "processed_at", "removed", "timings_ms", "task"):
        assert field in record, field
    assert record["url"] is None
    assert record["language"]["code"] == "en" and 0 < record["language"]["score"] <= 1
    topics = record["topics"]
    assert topics[0]["label"] == "world", topics
    assert {t["label"] for t in topics} <= TOPIC_LABELS
    assert [t["score"] for t in topics] == sorted((t["score"] for t in topics), reverse=True)
    paragraphs = sample_paragraphs(sample)
    assert len(paragraphs) == 11
    assert record["text"] == "\n\n".join(paragraphs)
    assert record["removed"]["lines"] > 0 and record["removed"]["chars"] > 0
    timed = set(record["timings_ms"])
    assert {"fetch", "decode", "clean", "index"} <= timed and timed & {"classify", "language", "topics"}, timed
    assert record["task"]["id"] and record["task"]["attempts"] == 1

    # The listener turned the SQS notification into the task (not some other source).
    enqueued = [e for e in stack.listener.events() if e.get("event") == "article_enqueued" and e.get("key") == key]
    assert len(enqueued) == 1 and enqueued[0].get("origin") == "sqs", enqueued
    assert not [e for e in stack.listener.events() if e.get("event") == "sqs_message_unparseable"], \
        "moto's s3:TestEvent (or another message) was not understood"

    # The lineage log: every event bound to this article and this task, one run, in order.
    events = stack.log_events("logs/world/business standard paywalled.txt.jsonl")
    assert events, "no lineage log"
    assert events[0]["event"] == "article_started"
    assert len(runs(events)) == 1
    for event in events:
        assert event["key"] == key and event["etag"] == put["etag"], event
        assert event["task_id"] == record["task"]["id"], event
    # At INFO the per-stage events are DEBUG: the one summary event carries every stage's time.
    assert not [e for e in events if e.get("event") == "stage_finished"]
    assert events[-1]["event"] == "article_processed"
    timings = events[-1]["timings_ms"]
    assert {"fetch", "decode", "clean", "index"} <= set(timings), timings
    assert all(isinstance(v, (int, float)) for v in timings.values())

    # The index document has no object of its own: its pending marker carries it to a batch,
    # which folds it into a segment; `copydesk export` shows it as search sees it.
    assert not stack.keys("index/docs/")
    wait_until(lambda: not stack.keys("index/pending/"), 60, "the pending marker consumed by a batch", [stack.worker])
    exported = stack.copydesk("export")
    assert exported.returncode == 0, exported.stderr
    sources = [json.loads(line) for line in exported.stdout.splitlines()[1::2]]
    index_doc = next((doc for doc in sources if doc.get("source_key") == key), None)
    assert index_doc is not None, "no index document"
    assert index_doc["title"] == record["title"]
    assert index_doc["text"] == record["text"]
    assert index_doc["language"] == "en" or index_doc["language"].get("code") == "en"
    for field in ("id", "topics", "published", "url"):
        assert field in index_doc, field
    assert key in json_values(index_doc), "the index document does not name its source key"

    # Outputs are written once, the source is untouched, nothing landed under the input prefix.
    assert len(stack.versions("processed/world/business standard paywalled.txt.json")) == 1
    assert len(stack.versions(key)) == 1 and stack.get(key) == sample
    assert stack.keys("incoming/world/") == [key]
    assert stack.get_json("quarantine/world/business standard paywalled.txt.json") is None


def json_values(doc) -> list:
    if isinstance(doc, dict):
        return [v for value in doc.values() for v in json_values(value)]
    if isinstance(doc, list):
        return [v for value in doc for v in json_values(value)]
    return [doc]


def test_announced_by_sqs_and_sweep_is_processed_once(stack, sample):
    key = "incoming/twice/article.txt"
    record_key = "processed/twice/article.txt.json"
    put = stack.put(key, sample)  # announced by the notification → SQS → listener ...
    sweep = threading.Thread(target=lambda: results.append(stack.copydesk("sweep")))
    results: list = []
    sweep.start()  # ... and by a sweep at the same moment
    record = stack.wait_json(record_key, timeout=90)
    sweep.join(timeout=120)
    assert results and results[0].returncode == 0, results and results[0].stderr[-2000:]

    # Announced again after it was processed: by the same notification redelivered (SQS is
    # at-least-once) and by another sweep. Neither may run it again.
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=notification(stack.bucket, key, put["etag"], len(sample)))
    again = stack.copydesk("sweep")
    assert again.returncode == 0, again.stderr[-2000:]
    wait_until(
        lambda: [e for e in stack.listener.events()
                 if e.get("key") == key and e.get("event") == "event_already_processed"],
        60, "the listener to see the redelivered notification as already processed", stack.services,
    )
    wait_until(stack.sqs_drained, 30, "the SQS queue to drain", stack.services)
    wait_until(lambda: stack.queue_depth() == 0, 30, "the task queue to drain", stack.services)

    events = stack.log_events("logs/twice/article.txt.jsonl")
    assert len(runs(events)) == 1, [e["event"] for e in events]
    assert len(stack.versions(record_key)) == 1
    assert stack.get_json(record_key) == record
    enqueued = [e for e in stack.listener.events() if e.get("event") == "article_enqueued" and e.get("key") == key]
    assert len(enqueued) <= 1, enqueued


def test_overwritten_object_is_processed_again(stack, sample):
    key = "incoming/overwrite/story.txt"
    record_key = "processed/overwrite/story.txt.json"
    first = stack.put(key, sample)
    record1 = stack.wait_json(record_key, timeout=90, until=lambda r: r["source"]["etag"] == first["etag"])

    lines = sample.decode("utf-8").splitlines()
    changed = "\n".join(lines[:11]).replace("North Korean", "South Korean", 1).encode("utf-8")
    second = stack.put(key, changed)
    assert second["etag"] != first["etag"]
    record2 = stack.wait_json(record_key, timeout=90, until=lambda r: r["source"]["etag"] == second["etag"],
                              what="the record of the overwritten object")

    assert record2["source"]["version_id"] == second["version_id"] != record1["source"]["version_id"]
    assert record2["source"]["sha256"] == hashlib.sha256(changed).hexdigest()
    assert record2["text"].startswith("South Korean and US officials")
    assert record1["text"].startswith("North Korean and US officials")
    assert len(stack.versions(record_key)) == 2
    events = stack.log_events("logs/overwrite/story.txt.jsonl")
    started = runs(events)
    assert [e["etag"] for e in started] == [first["etag"], second["etag"]]


def notification(bucket: str, key: str, etag: str, size: int) -> str:
    """An S3 event notification as S3 (and moto) sends it: the key URL-encoded, `+` for spaces."""
    import json
    from urllib.parse import quote_plus

    return json.dumps({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventName": "ObjectCreated:Put",
            "s3": {
                "s3SchemaVersion": "1.0",
                "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                "object": {"key": quote_plus(key), "size": size, "eTag": etag},
            },
        }]
    })


def test_no_credential_reaches_any_log(stack):
    """Last in the module: everything above ran with a password in the broker URL and AWS keys."""
    assert BROKER_PASSWORD in stack.env["COPYDESK_BROKER_URL"]
    outputs = {service.name: service.text() for service in stack.services}
    for key in stack.keys("logs/"):
        outputs[key] = stack.get(key).decode("utf-8", "replace")
    assert len(outputs) > len(stack.services), "no lineage log to look at"
    for name, text in outputs.items():
        assert text, f"{name} printed nothing"
        for secret in (BROKER_PASSWORD, stack.env["AWS_SECRET_ACCESS_KEY"]):
            assert secret not in text, f"{name} shows a credential"


def test_new_articles_are_indexed_by_a_batch_they_asked_for(stack, sample):
    """Each new document asks the index queue for a batch (debounced in Redis, by count and
    age, stale requests skipped by generation); the batch reads the documents from the Redis
    cache and consumes every pending marker."""
    keys = [f"incoming/indexed/{i}.txt" for i in range(3)]
    for i, key in enumerate(keys):
        stack.put(key, sample + f"\n\nIndex check {i}: the harbour board met again.".encode())
    for key in keys:
        stack.wait_json("processed/" + key.removeprefix("incoming/") + ".json", timeout=90)
    wait_until(lambda: not stack.keys("index/pending/"), 60, "every pending marker consumed by a batch", [stack.worker])
    manifest = stack.get_json("index/manifest.json")
    assert manifest and sum(segment["docs"] for segment in manifest["segments"]) >= len(keys)
