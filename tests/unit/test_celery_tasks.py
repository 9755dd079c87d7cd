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
from worker.storage import AccessDenied, Unreachable
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


def test_task_events_and_results_are_off_by_default():
    """Per task, events doubled the worker main process's CPU and results cost a Redis write
    (issue 15); Flower turns events on by itself when it runs."""
    conf = celery_config(Settings.from_env({}))
    assert conf["worker_send_task_events"] is False and conf["task_send_sent_event"] is False
    assert conf["task_ignore_result"] is True


def test_backoff_is_exponential_capped_and_jittered():
    samples = [backoff_seconds(n, cap=300) for n in range(12) for _ in range(50)]
    assert all(0 <= s <= 300 for s in samples)
    assert max(backoff_seconds(1, cap=300) for _ in range(200)) <= 4
    assert len({round(backoff_seconds(5, cap=300), 6) for _ in range(20)}) > 1  # jitter


class FlakyStore(MemoryStore):
    """A store whose reads of inputs fail `failures` times (as a store in an outage would),
    then answer; `error` is what it raises."""

    def __init__(self, bucket, failures, error):
        super().__init__(bucket)
        self.failures = failures
        self.error = error

    def get(self, key, **kwargs):
        if key.startswith("incoming/") and self.failures > 0:
            self.failures -= 1
            raise self.error
        return super().get(key, **kwargs)


def install_runtime(monkeypatch, store):
    runtime = Runtime(Settings.from_env({}, store="memory://news"), store=store)
    monkeypatch.setattr(runtime_module, "_runtime", runtime)
    monkeypatch.setattr(runtime_module, "_runtime_pid", __import__("os").getpid())
    return runtime


def logged(caplog) -> list[dict]:
    """copydesk's structured events as the logging records carry them."""
    return [r.msg for r in caplog.records if isinstance(r.msg, dict) and "event" in r.msg]


ARTICLE = b"<html><body><h1>Harbour budget</h1><p>" + b"The council approved the harbour budget on Tuesday. " * 20 + b"</p></body></html>"


@pytest.mark.parametrize(
    "error",
    [Unreachable("503 SlowDown"), AccessDenied("InvalidAccessKeyId"), ConnectionError("broker down")],
    ids=["store-down", "misconfigured-credentials", "connection-refused"],
)
def test_outages_retry_until_they_end_and_are_never_quarantined(monkeypatch, error, caplog):
    """More failures than the old fixed budget of 6: still no quarantine, the article is
    processed once the store answers (Celery's autoretry, max_retries=None)."""
    store = FlakyStore("news", failures=9, error=error)
    store.put("incoming/a.html", ARTICLE)
    install_runtime(monkeypatch, store)
    task = app.tasks[PROCESS_ARTICLE]
    assert task.max_retries is None and task.retry_backoff and task.retry_jitter
    assert isinstance(error, task.autoretry_for)
    result = task.apply(kwargs={"bucket": "news", "key": "incoming/a.html", "etag": None}).get()
    assert result["status"] == "processed", result
    assert not store.exists("quarantine/a.html.json")
    record = json.loads(store.get("processed/a.html.json").data)
    assert record["task"]["attempts"] == 10
    retries = [e for e in logged(caplog) if e["event"] == "task_retry"]
    assert [r["attempt"] for r in retries] == list(range(1, 10))
    assert all(r["key"] == "incoming/a.html" and r["error"] == type(error).__name__ for r in retries)
    assert all(0 <= r["countdown_s"] <= Settings.from_env({}).retry_backoff_max for r in retries)


class QuarantineWriteFails(MemoryStore):
    """Bad input, and the store goes down exactly when its quarantine record is written."""

    def __init__(self, bucket):
        super().__init__(bucket)
        self.down = 1

    def put(self, key, data, **kwargs):
        if key.startswith("quarantine/") and self.down:
            self.down -= 1
            raise Unreachable("connection refused")
        return super().put(key, data, **kwargs)


def test_a_quarantine_is_logged_only_after_its_record_is_written(monkeypatch, caplog):
    store = QuarantineWriteFails("news")
    store.put("incoming/empty.txt", b"")
    install_runtime(monkeypatch, store)
    result = app.tasks[PROCESS_ARTICLE].apply(kwargs={"bucket": "news", "key": "incoming/empty.txt", "etag": None}).get()
    assert result["status"] == "quarantined" and result["reason"] == "empty"
    events = [e["event"] for e in logged(caplog) if e.get("key") == "incoming/empty.txt"]
    # First attempt: the write failed, so no article_quarantined, a retry; second: written, then logged.
    assert events.count("article_quarantined") == 1, events
    assert events.index("task_retry") < events.index("article_quarantined")
    assert json.loads(store.get("quarantine/empty.txt.json").data)["attempts"] == 2


def test_hard_time_limit_retries_once_then_is_quarantined_by_the_main_process(monkeypatch):
    from billiard.exceptions import TimeLimitExceeded

    store = MemoryStore("news")
    store.put("incoming/slow.html", ARTICLE)
    install_runtime(monkeypatch, store)
    task = app.tasks[PROCESS_ARTICLE]
    kwargs = {"bucket": "news", "key": "incoming/slow.html", "etag": "e1"}
    sent = []
    monkeypatch.setattr(task, "apply_async", lambda **options: sent.append(options))
    task.on_failure(TimeLimitExceeded(12), "task-1", (), kwargs, None)  # first attempt
    assert sent and sent[0]["retries"] == 1 and sent[0]["kwargs"] == kwargs
    assert not store.exists("quarantine/slow.html.json")
    task.push_request(retries=1)  # the second attempt is as slow
    try:
        task.on_failure(TimeLimitExceeded(12), "task-1", (), kwargs, None)
    finally:
        task.pop_request()
    record = json.loads(store.get("quarantine/slow.html.json").data)
    assert record["reason"] == "time_limit" and record["source"]["key"] == "incoming/slow.html"


def test_hard_time_limit_after_the_record_was_written_quarantines_nothing(monkeypatch):
    from billiard.exceptions import TimeLimitExceeded

    store = MemoryStore("news")
    store.put("incoming/done.html", ARTICLE)
    store.put("processed/done.html.json", json.dumps({"source": {"etag": "e1"}, "pipeline_version": "x"}).encode())
    install_runtime(monkeypatch, store)
    task = app.tasks[PROCESS_ARTICLE]
    task.push_request(retries=1)
    try:
        task.on_failure(TimeLimitExceeded(12), "t", (), {"bucket": "news", "key": "incoming/done.html", "etag": "e1"}, None)
    finally:
        task.pop_request()
    assert not store.exists("quarantine/done.html.json")


def test_retry_countdown_fits_inside_the_visibility_timeout():
    settings = Settings.from_env({})
    conf = celery_config(settings)
    assert settings.retry_backoff_max + conf["task_time_limit"] < conf["broker_transport_options"]["visibility_timeout"]
    assert conf["worker_max_memory_per_child"] and conf["worker_max_tasks_per_child"]


def test_the_backoff_cap_and_a_retry_limit_come_from_the_settings_in_effect(monkeypatch, caplog):
    """COPYDESK_RETRY_BACKOFF_MAX and COPYDESK_MAX_RETRIES apply at retry time (nothing is read
    at import); with a limit, the article is quarantined as retries_exhausted once it is spent."""
    import worker.app as app_module

    store = FlakyStore("news", failures=50, error=Unreachable("503 SlowDown"))
    store.put("incoming/a.html", ARTICLE)
    install_runtime(monkeypatch, store)
    monkeypatch.setattr(app_module, "_settings", Settings.from_env({}, retry_backoff_max=0, max_retries=3))
    result = app.tasks[PROCESS_ARTICLE].apply(kwargs={"bucket": "news", "key": "incoming/a.html", "etag": None})
    retries = [e for e in logged(caplog) if e["event"] == "task_retry"]
    assert [r["countdown_s"] for r in retries] == [0, 0, 0]
    assert result.failed()
    record = json.loads(store.get("quarantine/a.html.json").data)
    assert record["reason"] == "retries_exhausted" and record["attempts"] == 4
