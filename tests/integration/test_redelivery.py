"""kill -9 of a pool child in the middle of a task: the main process sees it die and requeues
the task at once (acks_late + reject_on_worker_lost); it is redelivered and its record written
once.

(A kill -9 of the whole worker leaves the task in kombu's unacked set until the visibility
timeout passes; the next worker's unacked-restore, scanning every 5 s, then puts it back. That
was measured at 81 s after the kill with an 80 s timeout, but as a test it failed 1 run in 7
for a reason not yet found, so it is not part of the suite.)

The worker runs with COPYDESK_TEST_STAGE_DELAY and tests/slow_stages on its PYTHONPATH (a
test-only pause between fetch and the stages, outside copydesk's code) so the task is reliably
mid-flight when the child is killed.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from integration_support import wait_until

pytestmark = pytest.mark.integration

STAGE_DELAY = 5.0
SLOW_STAGES = Path(__file__).resolve().parents[1] / "slow_stages"


@pytest.fixture(scope="module")
def stack(make_stack):
    stack = make_stack("kill")
    stack.worker = stack.start_worker("w1", concurrency=2, COPYDESK_TEST_STAGE_DELAY=str(STAGE_DELAY),
                                      PYTHONPATH=str(SLOW_STAGES))
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
