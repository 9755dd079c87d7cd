"""A batch of articles (issue 15) whose pool child is killed mid-way, through a real prefork
worker on moto's S3: the message is redelivered, split into single articles, and every record
is written once. (Its own module: the workers of one module's stack take any message of the
test Redis' queues.)

The worker runs with COPYDESK_TEST_STAGE_DELAY and tests/slow_stages on its PYTHONPATH (a
test-only pause before each article's stages) so the batch is reliably in flight when the child
is killed.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from integration_support import wait_until

pytestmark = pytest.mark.integration

SLOW_STAGES = Path(__file__).resolve().parents[1] / "slow_stages"


def task_names(worker, key: str) -> set[str]:
    return {e.get("task") for e in worker.events() if e.get("key") == key and e.get("event") == "article_started"}


@pytest.fixture(scope="module")
def slow_stack(make_stack, tmp_path_factory):
    stack = make_stack("batchkill")
    stack.started = tmp_path_factory.mktemp("in-flight")
    # Limits well above the pauses: this test is about the killed child, not the limits.
    stack.worker = stack.start_worker("w1", concurrency=2, COPYDESK_TEST_STAGE_DELAY="2", PYTHONPATH=str(SLOW_STAGES),
                                      COPYDESK_TEST_STAGE_STARTED_DIR=str(stack.started),
                                      COPYDESK_SOFT_TIME_LIMIT="60", COPYDESK_TIME_LIMIT="90")
    stack.wait_worker_ready(stack.worker)
    return stack


def test_a_batch_whose_child_is_killed_is_redelivered_split_and_each_record_written_once(slow_stack, sample):
    stack = slow_stack
    names = ("a.txt", "b.txt", "c.txt")
    keys = [f"incoming/kill/{name}" for name in names]
    for key in keys:
        stack.put(key, sample + key.encode())
    submitted = stack.copydesk("submit", *keys)
    assert submitted.returncode == 0, submitted.stderr[-3000:]

    inspect = stack.control_app().control.inspect([stack.worker.node], timeout=1.0)

    def running_batch():
        for task in (inspect.active() or {}).get(stack.worker.node, []):
            if task.get("name") == "copydesk.process_articles":
                return task
        return None

    task = wait_until(running_batch, 60, "the batch to be active on the worker", [stack.worker])
    wait_until(lambda: any(stack.started.iterdir()), 30, "the first article's stages to start", [stack.worker])
    assert stack.get_json("processed/kill/c.txt.json") is None, "the batch finished before it could be killed"
    os.kill(task["worker_pid"], signal.SIGKILL)

    for name in names:
        record = stack.wait_json(f"processed/kill/{name}.json", timeout=120, what=f"the record of {name} after the redelivery")
        assert record["source"]["key"] == f"incoming/kill/{name}"
    events = stack.worker.events()
    assert any(e.get("event") == "batch_split" and e.get("reason") == "redelivered" for e in events), "the redelivered batch was not split"
    for name, key in zip(names, keys, strict=True):
        assert len(stack.versions(f"processed/kill/{name}.json")) == 1, f"{name}: record written more than once"
        # The articles went on alone after the split.
        assert "copydesk.process_article" in task_names(stack.worker, key), key
        log = stack.log_events(f"logs/kill/{name}.jsonl")
        assert [e["event"] for e in log].count("article_processed") == 1
    assert stack.worker.alive(), "the worker's main process died with its child"
    wait_until(lambda: stack.queue_depth() == 0 and stack.redis.hlen("unacked") == 0, 30, "nothing left unacknowledged", [stack.worker])
