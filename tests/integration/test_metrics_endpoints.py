"""The /metrics endpoints of real processes while work flows: a prefork `celery worker` (two
pool children, multiprocess mode) on COPYDESK_METRICS_PORT and `copydesk listen --http` on its
own port. The numbers are checked against what the test did: notifications posted, articles
good and bad, bytes in the versioned bucket. `copydesk status` runs against the same fleet."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from worker.broker import WORKER_HEARTBEATS
from worker.heartbeat import FRESH_SECONDS

from integration_support import BIN, free_port, wait_until
from test_http_listener import TOKEN, http, minio_notification

pytestmark = pytest.mark.integration

GOOD, BAD = 4, 2
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
OUTPUT_PREFIXES = ("processed/", "logs/", "quarantine/", "index/pending/")
#: Each article's stages wait this long, so tasks are seen in flight.
STAGE_DELAY = "1.0"
#: The test-only pause between fetch and the stages (tests/slow_stages/sitecustomize.py).
SLOW_STAGES = Path(__file__).resolve().parents[1] / "slow_stages"


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
def stack(make_stack, tmp_path_factory):
    stack = make_stack("metrics")
    stack.metrics_port = free_port()
    stack.port = free_port()
    # A stale value left in the multiprocess folder by an earlier run must not be counted.
    stack.multiproc = tmp_path_factory.mktemp("multiproc")
    subprocess.run(
        [sys.executable, "-c",
         "from prometheus_client import Counter; Counter('copydesk_articles_processed', 'x').inc(100)"],
        env={**stack.env, "PROMETHEUS_MULTIPROC_DIR": str(stack.multiproc)}, check=True,
    )
    assert list(stack.multiproc.glob("counter_*.db"))
    stack.worker = stack.start_worker(
        "w1", concurrency=2, COPYDESK_METRICS_PORT=str(stack.metrics_port),
        PROMETHEUS_MULTIPROC_DIR=str(stack.multiproc), COPYDESK_TEST_STAGE_DELAY=STAGE_DELAY,
        PYTHONPATH=str(SLOW_STAGES),
    )
    stack.listener = stack.service(
        "listen-http", [str(BIN / "copydesk"), "listen", "--http", f"127.0.0.1:{stack.port}"], COPYDESK_HTTP_TOKEN=TOKEN
    )
    wait_until(lambda: http(stack, "GET", "/healthz")[0] == 200, 60, "the listener's /healthz", [stack.listener])
    stack.wait_worker_ready(stack.worker)
    return stack


def status(stack, *args: str) -> tuple[int, dict]:
    result = stack.copydesk("status", "--json", "--timeout", "2", *args, timeout=60)
    return result.returncode, json.loads(result.stdout)


def test_metrics_count_what_was_done(stack, sample):
    inputs = {}
    for i in range(GOOD):
        inputs[f"incoming/m/good-{i}.txt"] = sample + f"\n\nEdition {i}.\n".encode()
    for i in range(BAD):
        inputs[f"incoming/m/bad-{i}.html"] = PNG + bytes([i])
    events = 0
    for key, data in inputs.items():
        put = stack.put(key, data)
        body = minio_notification(stack.bucket, key, put["etag"], len(data), put["version_id"])
        assert http(stack, "POST", "/", body, token=TOKEN)[0] == 200
        events += 1
    # The same notification again (MinIO retries), one outside the input prefix, one garbage body.
    key = "incoming/m/good-0.txt"
    etag = stack.put("elsewhere/x.txt", b"not an input")["etag"]
    first = stack.s3.head_object(Bucket=stack.bucket, Key=key)
    assert http(stack, "POST", "/", minio_notification(stack.bucket, key, first["ETag"].strip('"'), first["ContentLength"], first.get("VersionId")), token=TOKEN)[0] == 200
    assert http(stack, "POST", "/", minio_notification(stack.bucket, "elsewhere/x.txt", etag, 12, None), token=TOKEN)[0] == 200
    assert http(stack, "POST", "/", b'{"Records": "nope"}', token=TOKEN)[0] == 400

    # While the work flows: both pool processes busy, seen by the worker's /metrics and status.
    busy = wait_until(
        lambda: (lambda s: s if value(s, "copydesk_tasks_in_flight", task="copydesk.process_article") == 2 else None)(scrape(stack.metrics_port)),
        60, "two articles in flight", [stack.worker],
    )
    assert value(busy, "copydesk_worker_processes") == 2
    code, report = status(stack)
    assert code == 0, report
    assert report["workers_alive"] == 1 and stack.worker.node in report["workers"]
    seen = report["workers"][stack.worker.node]
    # Counted from its heartbeat and then answered the broadcast.
    assert seen["answered"] is True and seen["heartbeat_age_s"] <= FRESH_SECONDS and seen["concurrency"] == 2
    articles = report["queues"]["copydesk.articles"]
    assert articles["waiting"] + articles["unacked"] <= GOOD + BAD

    for i in range(GOOD):
        stack.wait_json(f"processed/m/good-{i}.txt.json")
    for i in range(BAD):
        stack.wait_json(f"quarantine/m/bad-{i}.html.json")

    def settled():
        s = scrape(stack.metrics_port)
        done = value(s, "copydesk_tasks_finished_total", task="copydesk.process_article", state="SUCCESS")
        return s if done == GOOD + BAD and value(s, "copydesk_tasks_in_flight", task="copydesk.process_article") == 0 else None

    s = wait_until(settled, 60, "every article task finished", [stack.worker])
    assert value(s, "copydesk_articles_processed_total") == GOOD  # the stale 100 was cleaned away
    assert value(s, "copydesk_articles_quarantined_total", reason="binary") == BAD
    for stage in ("fetch", "decode", "clean", "write"):
        assert value(s, "copydesk_stage_duration_seconds_count", stage=stage) == GOOD, stage
    assert value(s, "copydesk_article_duration_seconds_count") == GOOD
    # Seconds: the test delay sits between fetch and the stages, so each article took >= it.
    assert value(s, "copydesk_article_duration_seconds_sum") >= GOOD * float(STAGE_DELAY)
    assert value(s, "copydesk_store_read_bytes_total") == sum(len(d) for d in inputs.values())
    # Every version of every article output; the startup checks' probe objects
    # (logs/_copydesk-health/) are the worker's own, not an article's.
    written = sum(
        v["Size"]
        for prefix in OUTPUT_PREFIXES
        for v in stack.s3.list_object_versions(Bucket=stack.bucket, Prefix=prefix).get("Versions", [])
        if "/_copydesk-health/" not in v["Key"]
    )
    assert value(s, "copydesk_store_written_bytes_total") == written
    assert value(s, "copydesk_queue_messages", queue="copydesk.articles") == 0

    listener = scrape(stack.port)
    assert value(listener, "copydesk_listener_events_received_total", source="http") == events + 3
    assert value(listener, "copydesk_listener_events_total", source="http", result="enqueued") == events
    assert value(listener, "copydesk_listener_events_total", source="http", result="duplicate") == 1
    assert value(listener, "copydesk_listener_events_total", source="http", result="ignored") == 1
    assert value(listener, "copydesk_listener_events_total", source="http", result="failed") == 1
    assert ("copydesk_queue_oldest_age_seconds", (("queue", "copydesk.articles"),)) in listener


def test_status_probe_fails_once_the_worker_is_gone(stack):
    assert stack.redis.zscore(WORKER_HEARTBEATS, stack.worker.node) is not None
    stack.worker.stop()
    # A warm shutdown takes the worker out of the heartbeats at once (no 30 s to wait).
    assert stack.redis.zscore(WORKER_HEARTBEATS, stack.worker.node) is None
    code, report = status(stack, "--timeout", "0.5")
    assert code == 1
    assert report["workers_alive"] == 0 and "no worker alive" in report["problems"]
