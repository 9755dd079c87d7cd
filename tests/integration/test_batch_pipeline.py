"""Several articles in one task message (issue 15), through a real prefork worker on moto's S3:
`copydesk submit` with several keys sends one `copydesk.process_articles` message; a bad file
in it is quarantined and the others processed. A killed batch: test_batch_redelivery.py.
"""

from __future__ import annotations

import json
import pytest

from integration_support import wait_until

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def stack(make_stack):
    stack = make_stack("batch")
    stack.worker = stack.start_worker("w1", concurrency=2)
    stack.wait_worker_ready(stack.worker)
    return stack


def task_names(worker, key: str) -> set[str]:
    return {e.get("task") for e in worker.events() if e.get("key") == key and e.get("event") == "article_started"}


def test_one_bad_file_in_a_batch_is_quarantined_and_the_others_processed(stack, sample):
    keys = [f"incoming/batch/{name}" for name in ("a.txt", "empty.txt", "b.txt", "c.txt")]
    for key in keys:
        stack.put(key, b"" if key.endswith("empty.txt") else sample + key.encode())
    submitted = stack.copydesk("submit", *keys)
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    assert json.loads(submitted.stdout.strip().splitlines()[-1]) == {"enqueued": 4}

    for name in ("a.txt", "b.txt", "c.txt"):
        record = stack.wait_json(f"processed/batch/{name}.json")
        assert record["source"]["key"] == f"incoming/batch/{name}" and record["words"] > 100
    quarantine = stack.wait_json("quarantine/batch/empty.txt.json")
    assert quarantine["reason"] == "empty"
    assert stack.get_json("processed/batch/empty.txt.json") is None
    # All four ran in one batch message.
    for key in keys:
        assert task_names(stack.worker, key) == {"copydesk.process_articles"}, key
    wait_until(lambda: stack.queue_depth() == 0 and stack.redis.hlen("unacked") == 0, 30, "the queue to drain", [stack.worker])
