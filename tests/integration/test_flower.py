"""Flower, installed by the development setup, started with `copydesk flower` against a real
worker (task events on: `-E`), with basic auth from FLOWER_BASIC_AUTH as in docker-compose: its
API lists our worker and the tasks it ran, and refuses requests without the credentials."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
import uuid

import pytest

from integration_support import BIN, free_port, wait_until

pytestmark = pytest.mark.integration

USER, PASSWORD = "ops", "flower-test-pw-81c2"


def api(port: int, path: str, auth: bool = True) -> tuple[int, object]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if auth:
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            body = resp.read()
            return resp.status, json.loads(body) if body.strip().startswith((b"{", b"[")) else body.decode()
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None


@pytest.fixture(scope="module")
def stack(make_stack):
    stack = make_stack("flower")
    stack.flower_port = free_port()
    stack.flower = stack.service(
        "flower", [str(BIN / "copydesk"), "flower", "--", f"--port={stack.flower_port}", "--address=127.0.0.1"],
        FLOWER_BASIC_AUTH=f"{USER}:{PASSWORD}",
    )
    node = f"flower-w1-{uuid.uuid4().hex[:6]}@copydesk-test"
    stack.worker = stack.service("w1", [
        str(BIN / "celery"), "-A", "worker.app", "worker", "--pool", "prefork", "-c", "2", "-n", node, "-E",
        "-Q", "copydesk.articles,copydesk.index,copydesk.maintenance", "--without-gossip", "--without-mingle",
    ])
    stack.worker.node = node
    stack.wait_worker_ready(stack.worker)
    wait_until(lambda: api(stack.flower_port, "/healthcheck", auth=False)[0] == 200, 60, "flower's /healthcheck", [stack.flower])
    return stack


def test_flower_api_needs_the_credentials(stack):
    assert api(stack.flower_port, "/api/workers", auth=False)[0] == 401
    assert PASSWORD not in stack.flower.text()


def test_flower_shows_our_worker_and_its_tasks(stack, sample):
    keys = [f"incoming/flower/{i}.txt" for i in range(2)]
    for i, key in enumerate(keys):
        stack.put(key, sample + f"\n\nFlower {i}.\n".encode())
    result = stack.copydesk("submit", *keys)
    assert result.returncode == 0, result.stderr[-2000:]
    for key in keys:
        stack.wait_json("processed/" + key[len("incoming/"):] + ".json")

    def workers():
        status, body = api(stack.flower_port, "/api/workers?refresh=1")
        return body if status == 200 and isinstance(body, dict) and stack.worker.node in body else None

    body = wait_until(workers, 60, "flower to list the worker", [stack.flower, stack.worker])
    assert {"copydesk.process_article", "copydesk.process_articles"} <= set(body[stack.worker.node].get("registered", []))

    def tasks():
        # `submit` of two keys sends them in one message (a batch, COPYDESK_DISPATCH_BATCH).
        status, body = api(stack.flower_port, "/api/tasks?taskname=copydesk.process_articles")
        if status != 200 or not isinstance(body, dict):
            return None
        done = {t["kwargs"] for t in body.values() if t.get("state") == "SUCCESS" and t.get("worker") == stack.worker.node}
        return done if all(any(key in kwargs for kwargs in done) for key in keys) else None

    wait_until(tasks, 60, "flower to list the batch of both articles as succeeded", [stack.flower, stack.worker])
