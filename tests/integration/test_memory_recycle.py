"""Pool children are recycled after a memory threshold (issue 11.8: after one large input a
child used to keep 1.7 GB for good). A worker with one pool child and
COPYDESK_MAX_MEMORY_PER_CHILD set between what an ordinary article and what a 15 MB input
cost: the child survives the ordinary article and is replaced after the large one."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from integration_support import ROOT, wait_until

pytestmark = pytest.mark.integration

PARAGRAPH = "<p>" + "The harbour council approved next year's budget after a long debate about dredging. " * 20 + "</p>\n"
LARGE = ("<html><body><article>" + PARAGRAPH * 9000 + "</article></body></html>").encode()  # ~15 MB


def baseline_kib() -> int:
    """Peak RSS of a process that loaded the models, as a worker's pool child starts with.
    Read as VmHWM, the peak of the process's own memory: Linux carries ru_maxrss across exec,
    so a subprocess of a pytest that had loaded the models itself (unit tests run first)
    reported the pytest's peak, ~90 MB more, and the threshold was never crossed."""
    code = (
        "from tasks.stages.classify import warm_up; import worker.app; warm_up(); "
        "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def stack(make_stack):
    stack = make_stack("memory")
    stack.threshold = baseline_kib() + 120 * 1024
    stack.worker = stack.start_worker(
        "w1", concurrency=1,
        COPYDESK_MAX_MEMORY_PER_CHILD=str(stack.threshold),
        # Generous limits: the child must be replaced for its memory, not killed for its time.
        COPYDESK_SOFT_TIME_LIMIT="100", COPYDESK_TIME_LIMIT="120",
    )
    stack.wait_worker_ready(stack.worker)
    return stack


def children(stack) -> list[int]:
    return [e["pid"] for e in stack.worker.events() if e.get("event") == "worker_process_started"]


def submit(stack, key: str, data: bytes) -> None:
    stack.put(key, data)
    result = stack.copydesk("submit", key)
    assert result.returncode == 0 and json.loads(result.stdout.strip().splitlines()[-1]) == {"enqueued": 1}, result.stderr[-2000:]


def test_child_is_replaced_after_a_large_input_only(stack, sample):
    first = wait_until(lambda: children(stack), 60, "the pool child to start", [stack.worker])
    assert len(first) == 1
    submit(stack, "incoming/memory/small.txt", sample)
    stack.wait_json("processed/memory/small.txt.json", timeout=120)
    assert children(stack) == first, "an ordinary article must not push the child over the threshold"

    submit(stack, "incoming/memory/large.html", LARGE)
    wait_until(
        lambda: stack.get_json("processed/memory/large.html.json") or stack.get_json("quarantine/memory/large.html.json"),
        240, "the large input's outcome", [stack.worker],
    )
    replaced = wait_until(lambda: len(children(stack)) >= 2 and children(stack), 60, "a new pool child", [stack.worker])
    assert replaced[-1] != first[0]
    assert stack.worker.alive()
