"""The Celery side: JSON-only messages, late acks, and the retry policy of the base task.

The task body runs through `Task.apply` here (in this process), to test the retry and
quarantine logic alone; the real broker and worker processes are in tests/integration/.
"""

from __future__ import annotations

import json

import pytest

import worker.runtime as runtime_module
from worker.app import PROCESS_ARTICLE, app, celery_config
import worker.jobs.article  # noqa: F401  (registers the task)
from worker.jobs.base import backoff_seconds
from worker.runtime import Runtime
from worker.settings import Settings
from worker.storage import Unreachable
from worker.storage.memory import MemoryStore


def test_messages_are_json_only_and_acks_are_late():
    conf = celery_config(Settings.from_env({}))
    assert conf["accept_content"] == ["json"] and conf["task_serializer"] == "json"
    assert conf["result_accept_content"] == ["json"]
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    options = conf["broker_transport_options"]
    assert options["visibility_timeout"] > conf["task_time_limit"] > conf["task_soft_time_limit"]
    assert options["unacked_restore_interval"] <= 10 and options["unacked_restore_throttle"] == 1
    assert "pickle" not in app.conf.accept_content


def test_backoff_is_exponential_capped_and_jittered():
    samples = [backoff_seconds(n, cap=300) for n in range(12) for _ in range(50)]
    assert all(0 <= s <= 300 for s in samples)
    assert max(backoff_seconds(1, cap=300) for _ in range(200)) <= 4
    assert len({round(backoff_seconds(5, cap=300), 6) for _ in range(20)}) > 1  # jitter


class DownStore(MemoryStore):
    """A store whose reads of inputs fail as a throttling S3 would."""

    def get(self, key, **kwargs):
        if key.startswith("incoming/"):
            raise Unreachable("503 SlowDown")
        return super().get(key, **kwargs)


@pytest.fixture
def down_runtime(monkeypatch):
    store = DownStore("news")
    store.put("incoming/a.txt", b"some text")
    runtime = Runtime(Settings.from_env({}, store="memory://news", max_retries=2), store=store)
    monkeypatch.setattr(runtime_module, "_runtime", runtime)
    monkeypatch.setattr(runtime_module, "_runtime_pid", __import__("os").getpid())
    return runtime


def test_transient_errors_retry_then_quarantine(down_runtime, monkeypatch):
    monkeypatch.setattr("worker.jobs.base.backoff_seconds", lambda *a, **k: 0)
    task = app.tasks[PROCESS_ARTICLE]
    result = task.apply(kwargs={"bucket": "news", "key": "incoming/a.txt", "etag": "e1"}).get()
    assert result["status"] == "quarantined" and result["reason"] == "retries_exhausted"
    record = json.loads(down_runtime.store.get("quarantine/a.txt.json").data)
    assert record["attempts"] == 3 and record["error_class"] == "Unreachable"
    events = [json.loads(line) for line in down_runtime.store.get("logs/a.txt.jsonl").data.splitlines()]
    assert [e["attempt"] for e in events if e["event"] == "article_started"] == [1, 2, 3]
    assert events[-1]["event"] == "article_quarantined"
