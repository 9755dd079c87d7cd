"""kill -9 in the middle of a task, and the task is redelivered and its record written once:
- of a pool child: the main process sees it die and requeues the task at once (acks_late +
  reject_on_worker_lost);
- of the whole worker: the task stays in kombu's unacked set until the visibility timeout has
  passed, then the next worker's unacked-restore puts it back.

The worker runs with COPYDESK_TEST_STAGE_DELAY (a test-only pause between fetch and the stages,
worker/processing.py) so the task is reliably mid-flight when the child is killed.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from integration_support import wait_until
from worker.settings import Settings

pytestmark = pytest.mark.integration

STAGE_DELAY = 5.0


@pytest.fixture(scope="module")
def stack(make_stack):
    stack = make_stack("kill")
    stack.worker = stack.start_worker("w1", concurrency=2, COPYDESK_TEST_STAGE_DELAY=str(STAGE_DELAY))
    stack.wait_worker_ready(stack.worker)
    return stack


def parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def worker_events(stack, key: str, name: str) -> list[dict]:
    return [e for e in stack.worker.events() if e.get("event") == name and e.get("key") == key]


def test_killed_child_task_is_redelivered_and_written_once(stack, sample):
    key = "incoming/kill/article.txt"
    record_key = "processed/kill/article.txt.json"
    stack.put(key, sample)
    submitted = stack.copydesk("submit", key)
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    assert json.loads(submitted.stdout.strip().splitlines()[-1]) == {"enqueued": 1}

    inspect = stack.control_app().control.inspect([stack.worker.node], timeout=1.0)

    def running_task():
        for task in (inspect.active() or {}).get(stack.worker.node, []):
            if task.get("name") == "copydesk.process_article" and key in json.dumps(task.get("kwargs")):
                return task
        return None

    task = wait_until(running_task, 60, "the task to be active on the worker", [stack.worker])
    wait_until(lambda: worker_events(stack, key, "article_started"), 30, "the task to start", [stack.worker])
    assert stack.get_json(record_key) is None, "the task finished before it could be killed"
    child = task["worker_pid"]
    assert child != stack.worker.pid and parent_pid(child) == stack.worker.pid, "not a pool child of the worker"

    os.kill(child, signal.SIGKILL)

    record = stack.wait_json(record_key, timeout=120, what="the record after the redelivered task")
    assert record["task"]["id"] == task["id"], "the record was not written by the redelivered message"
    assert len(worker_events(stack, key, "article_started")) == 2, "the task did not run a second time"
    assert stack.worker.alive(), "the worker's main process died with its child"
    assert len(stack.versions(record_key)) == 1, "the record was written more than once"
    assert stack.get_json("quarantine/kill/article.txt.json") is None
    log = stack.log_events("logs/kill/article.txt.jsonl")
    assert [e["event"] for e in log].count("article_processed") == 1
    wait_until(lambda: stack.queue_depth() == 0, 30, "the task queue to drain", [stack.worker])
    # Nothing left unacknowledged for kombu to restore later (which would run it a third time).
    wait_until(lambda: stack.redis.hlen("unacked") == 0, 30, "no unacked messages", [stack.worker])


def test_task_of_a_dead_worker_is_restored_after_the_visibility_timeout(stack, sample):
    """The whole worker dies (main process and children, kill -9): nobody rejects its task, so
    kombu's unacked-restore must put it back once the visibility timeout has passed. With
    unacked_restore_interval 5 s and throttle 1 that happens within seconds of the timeout,
    not ~100 s later (kombu's defaults: 10 s x every 10th call)."""
    key = "incoming/kill/dead-worker.txt"
    record_key = "processed/kill/dead-worker.txt.json"
    stack.worker.stop()  # the module's worker must not pick the task up
    limits = {"COPYDESK_SOFT_TIME_LIMIT": "8", "COPYDESK_TIME_LIMIT": "10"}  # visibility timeout 70 s
    visibility_timeout = Settings.from_env(limits).visibility_timeout
    victim = stack.start_worker("victim", concurrency=1, COPYDESK_TEST_STAGE_DELAY="600", **limits)
    stack.wait_worker_ready(victim)
    stack.put(key, sample)
    submitted = stack.copydesk("submit", key)
    assert submitted.returncode == 0, submitted.stderr[-3000:]

    wait_until(lambda: [e for e in victim.events() if e.get("event") == "article_started" and e.get("key") == key],
               60, "the task to start on the victim", [victim])
    delivered_at = time.monotonic()  # no later than the delivery the unacked entry records
    assert stack.redis.hlen("unacked") == 1
    victim.kill()
    # A worker killed inside its restore scan leaves kombu's restore mutex held (for
    # unacked_mutex_expire seconds); say so if the task is then not restored in time.
    mutex_ttl = stack.redis.ttl("unacked_mutex")

    rescuer = stack.start_worker("rescuer", concurrency=1, **limits)
    record = stack.wait_json(record_key, timeout=visibility_timeout + 60,
                             what=f"the restored task's record (restore mutex TTL after the kill: {mutex_ttl})")
    restored_after = time.monotonic() - delivered_at
    assert record["source"]["key"] == key
    assert restored_after >= visibility_timeout - 5, f"restored after {restored_after:.0f}s: before the visibility timeout"
    # Interval 5 s, throttle 1: a scan at most ~5 s after the timeout, plus the processing
    # (kombu's default throttle would scan every 50 s here).
    assert restored_after <= visibility_timeout + 15, f"restored only after {restored_after:.0f}s"
    assert [e["event"] for e in rescuer.events() if e.get("key") == key].count("article_started") == 1
    assert len(stack.versions(record_key)) == 1
    wait_until(lambda: stack.redis.hlen("unacked") == 0, 30, "no unacked messages", [rescuer])
