"""Several articles in one task message (issue 15): the dispatcher's batches and the worker's
`copydesk.process_articles`, run through `Task.apply` in this process on a folder store (the
group commit is real: temporary files, one flush, renames). Real workers: tests/integration/
test_batch_pipeline.py and test_batch_redelivery.py.
"""

from __future__ import annotations

import json
import threading

import pytest

import worker.jobs.article as article_module
import worker.runtime as runtime_module
from worker.app import PROCESS_ARTICLE, PROCESS_ARTICLES, app
from worker.dispatch import ENQUEUED, Dispatcher, MemoryClaims, Queued
from worker.events.model import ObjectEvent
from worker.jobs.queues import CeleryQueue, article_item
from worker.layout import Layout
from worker.runtime import Runtime
from worker.settings import Settings
from worker.storage import Unreachable
from worker.storage.local import LocalStore
from worker.storage.memory import MemoryStore

TEXT = b"Harbour council approves budget\n\n" + b"The harbour council approved next year's budget on Tuesday after a long debate. " * 12
LAYOUT = Layout("incoming/", "processed/", "logs/", "quarantine/", "index/")


class FlakyLocalStore(LocalStore):
    """A folder store whose reads of `flaky` fail `failures` times (an outage for that key)."""

    def __init__(self, root, flaky: str = "", failures: int = 0):
        super().__init__(root)
        self.flaky, self.failures = flaky, failures

    def get(self, key, **kwargs):
        if key == self.flaky and self.failures > 0:
            self.failures -= 1
            raise Unreachable("503 SlowDown")
        return super().get(key, **kwargs)


@pytest.fixture
def store(tmp_path, monkeypatch):
    store = FlakyLocalStore(tmp_path / "news")
    store.ensure_exists(create=True)
    runtime = Runtime(Settings.from_env({}, store=store.url), store=store)
    monkeypatch.setattr(runtime_module, "_runtime", runtime)
    monkeypatch.setattr(runtime_module, "_runtime_pid", __import__("os").getpid())
    # The index queue is not under test: its batch requests are counted, not sent.
    monkeypatch.setattr(article_module, "request_index_batch", lambda runtime, *a, documents=None, **k: announced.append(documents))
    announced: list = []
    store.announced = announced
    return store


@pytest.fixture
def sent(monkeypatch):
    """Messages the tasks send on (single articles, batches), captured instead of published."""
    messages: list[tuple[str, dict]] = []
    for name in (PROCESS_ARTICLE, PROCESS_ARTICLES):
        task = app.tasks[name]
        monkeypatch.setattr(task, "apply_async", lambda name=name, **options: messages.append((name, options)))
    return messages


def put_inputs(store, names, data=TEXT) -> list[dict]:
    items = []
    for name in names:
        info = store.put(f"incoming/{name}", data)
        items.append(article_item(ObjectEvent(store.bucket, f"incoming/{name}", info.etag), prior="none"))
    return items


def run_batch(store, items, **request):
    task = app.tasks[PROCESS_ARTICLES]
    if not request:
        return task.apply(kwargs={"bucket": store.bucket, "items": items}).get()
    task.push_request(id="redelivered-1", retries=0, **request)  # what a worker's request carries
    try:
        return task(bucket=store.bucket, items=items)
    finally:
        task.pop_request()


def record(store, name):
    return json.loads(store.get(f"processed/{name}.json").data)


def test_a_batch_with_a_bad_file_quarantines_it_and_processes_the_rest(store, sent):
    items = put_inputs(store, ["a.txt", "b.txt"])
    items[1:1] = put_inputs(store, ["empty.txt"], data=b"")
    result = run_batch(store, items)
    assert [(status, key) for status, key, _ in result["articles"]] == [
        ("processed", "incoming/a.txt"), ("quarantined", "incoming/empty.txt"), ("processed", "incoming/b.txt")]
    assert record(store, "a.txt")["source"]["etag"] == items[0]["etag"]
    assert record(store, "b.txt")["words"] > 0
    assert json.loads(store.get("quarantine/empty.txt.json").data)["reason"] == "empty"
    assert sent == []  # nothing sent on
    # One group commit: no temporary file left, and the two index documents announced at once.
    assert not list((store.root).rglob(".tmp-*"))
    assert len(store.announced) == 1 and len(store.announced[0]) == 2
    assert all(store.exists(marker) for marker, _ in store.announced[0])


def test_a_retryable_failure_of_one_article_sends_it_on_alone_and_loses_no_other(store, sent):
    items = put_inputs(store, ["a.txt", "flaky.txt", "c.txt"])
    store.flaky, store.failures = "incoming/flaky.txt", 1
    result = run_batch(store, items)
    assert [key for _, key, _ in result["articles"]] == ["incoming/a.txt", "incoming/c.txt"]
    assert store.exists("processed/a.txt.json") and store.exists("processed/c.txt.json")
    assert not store.exists("processed/flaky.txt.json") and not store.exists("quarantine/flaky.txt.json")
    (name, options), = sent
    assert name == PROCESS_ARTICLE and options["retries"] == 1  # its second attempt, alone
    assert options["kwargs"]["key"] == "incoming/flaky.txt" and options["kwargs"]["prior"] is None
    assert 0 <= options["countdown"] <= Settings.from_env({}).retry_backoff_max
    # The single-article message it was sent on as processes it (the store answers again).
    done = app.tasks[PROCESS_ARTICLE].apply(kwargs=options["kwargs"], retries=1).get()
    assert done["status"] == "processed" and record(store, "flaky.txt")["task"]["attempts"] == 2


def test_a_redelivered_batch_is_split_and_running_it_again_redoes_nothing(store, sent):
    items = put_inputs(store, ["a.txt", "b.txt"])
    first = run_batch(store, items)
    assert [s for s, _, _ in first["articles"]] == ["processed", "processed"]
    written = {name: store.get(f"processed/{name}.json").data for name in ("a.txt", "b.txt")}
    # Redelivered (its worker died before the ack): each article alone, its state read again.
    again = run_batch(store, items, delivery_info={"redelivered": True})
    assert again["articles"] == [] and again["split"] == 2
    assert [(n, o["kwargs"]["key"], o["kwargs"]["prior"]) for n, o in sent] == [
        (PROCESS_ARTICLE, "incoming/a.txt", None), (PROCESS_ARTICLE, "incoming/b.txt", None)]
    for _, options in sent:
        result = app.tasks[PROCESS_ARTICLE].apply(kwargs=options["kwargs"]).get()
        assert result == {"status": "skipped", "key": options["kwargs"]["key"], "reason": "already_processed"}
    assert {name: store.get(f"processed/{name}.json").data for name in written} == written
    log_lines = store.get("logs/a.txt.jsonl").data.decode().splitlines()
    assert [json.loads(line)["event"] for line in log_lines].count("article_processed") == 1


def test_the_articles_a_batch_has_no_time_left_for_go_on_as_a_new_batch(store, sent, monkeypatch):
    monkeypatch.setattr(article_module, "BATCH_BUDGET_SECONDS", 0)
    items = put_inputs(store, ["a.txt", "b.txt", "c.txt"])
    result = run_batch(store, items)
    assert [key for _, key, _ in result["articles"]] == ["incoming/a.txt"]  # the first always runs
    (name, options), = sent
    assert name == PROCESS_ARTICLES and options["kwargs"]["items"] == items[1:]  # their state read kept


def test_the_hard_time_limit_splits_a_batch_into_single_articles(store, sent):
    from billiard.exceptions import TimeLimitExceeded

    items = put_inputs(store, ["a.txt", "b.txt"])
    task = app.tasks[PROCESS_ARTICLES]
    task.on_failure(TimeLimitExceeded(15), "task-1", (), {"bucket": store.bucket, "items": items}, None)
    assert [(n, o["kwargs"]["key"], o["kwargs"]["prior"], o.get("retries")) for n, o in sent] == [
        (PROCESS_ARTICLE, "incoming/a.txt", None, 0), (PROCESS_ARTICLE, "incoming/b.txt", None, 0)]


# -- the dispatcher's side -----------------------------------------------------------------
class BatchRecordingQueue:
    def __init__(self, fail: bool = False):
        self.messages: list[list[str]] = []
        self.fail = fail
        self.lock = threading.Lock()

    def enqueue(self, event, *, force=False, prior=None):
        self.enqueue_many([Queued(event, force, prior)])

    def enqueue_many(self, items):
        if self.fail:
            raise ConnectionError("broker down")
        with self.lock:
            self.messages.append([i.event.key for i in items])

    def enqueue_removal(self, event):
        raise AssertionError("no removal here")


def dispatcher(queue, size=3, seconds=30.0, claims=None) -> Dispatcher:
    # An empty store: every event below is for a new input (one HEAD of its log, absent).
    return Dispatcher(MemoryStore("news"), LAYOUT, queue, claims or MemoryClaims(), "pv1", 60, batch_size=size, batch_seconds=seconds)


def events(n, start=0):
    return [ObjectEvent("news", f"incoming/{i}.txt", f"e{i}") for i in range(start, start + n)]


def test_batches_are_bounded_by_count_and_sent_when_the_block_ends():
    queue = BatchRecordingQueue()
    d = dispatcher(queue, size=3)
    with d.batching():
        results = [d.submit(e) for e in events(7)]
        assert len(queue.messages) == 2  # two full messages already sent, one article waiting
    assert results == [ENQUEUED] * 7
    assert queue.messages == [["incoming/0.txt", "incoming/1.txt", "incoming/2.txt"],
                              ["incoming/3.txt", "incoming/4.txt", "incoming/5.txt"], ["incoming/6.txt"]]
    d.submit(events(1, 7)[0])  # outside a block: at once, alone
    assert queue.messages[-1] == ["incoming/7.txt"]


def test_a_lingering_block_sends_its_article_alone_once_it_has_waited_its_age():
    queue = BatchRecordingQueue()
    d = dispatcher(queue, size=16, seconds=0.05)
    with d.batching(linger=True):
        d.submit(events(1)[0])
    assert queue.messages == [["incoming/0.txt"]]


def test_lingering_blocks_of_several_threads_share_a_message_sent_when_full():
    queue = BatchRecordingQueue()
    d = dispatcher(queue, size=4, seconds=300.0)  # the age is never reached: the count sends it
    start = threading.Barrier(4)

    def post(event):
        start.wait()
        with d.batching(linger=True):
            d.submit(event)

    threads = [threading.Thread(target=post, args=(e,)) for e in events(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert [sorted(m) for m in queue.messages] == [sorted(f"incoming/{i}.txt" for i in range(4))]


def test_a_batch_that_cannot_be_sent_raises_at_the_block_and_releases_its_claims():
    claims = MemoryClaims()
    queue = BatchRecordingQueue(fail=True)
    d = dispatcher(queue, size=8, claims=claims)
    with pytest.raises(ConnectionError), d.batching():
        for e in events(3):
            d.submit(e)
    queue.fail = False
    with d.batching():
        assert [d.submit(e) for e in events(3)] == [ENQUEUED] * 3  # not "already_queued"
    assert queue.messages == [[f"incoming/{i}.txt" for i in range(3)]]


def test_the_celery_queue_sends_one_article_as_the_single_message_and_several_as_a_batch(monkeypatch):
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(app, "send_task", lambda name, **options: sent.append((name, options)))
    queue = CeleryQueue(app)
    queue.enqueue_many([Queued(e, prior="none") for e in events(2)] + [Queued(ObjectEvent("other", "incoming/x.txt", "ex"))])
    assert [name for name, _ in sent] == [PROCESS_ARTICLES, PROCESS_ARTICLE]
    assert sent[0][1]["kwargs"] == {"bucket": "news", "items": [
        {"key": "incoming/0.txt", "etag": "e0", "version_id": None, "force": False, "prior": "none"},
        {"key": "incoming/1.txt", "etag": "e1", "version_id": None, "force": False, "prior": "none"}]}
    json.dumps(sent)  # JSON only


def test_the_sqs_listener_sends_a_polls_events_together_and_deletes_only_what_was_sent(moto_server):
    import boto3

    from worker.events.sqs import SqsListener

    sqs = boto3.client("sqs", endpoint_url=moto_server)
    url = sqs.create_queue(QueueName="events-batch", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    for i in range(3):
        record = {"eventName": "ObjectCreated:Put", "eventSource": "aws:s3",
                  "s3": {"bucket": {"name": "news"}, "object": {"key": f"incoming/{i}.txt", "size": 12, "eTag": f"e{i}"}}}
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Records": [record]}))

    def visible_and_in_flight():
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    # Two articles a message: the second message's event fills the first batch, whose sending
    # fails, with the first message's event in it: that message must not be deleted either.
    failing = SqsListener(url, dispatcher(BatchRecordingQueue(fail=True), size=2), client=sqs, wait_seconds=1)
    assert failing.poll_once() >= 2
    assert visible_and_in_flight() == 3  # nothing deleted
    queue = BatchRecordingQueue()
    SqsListener(url, dispatcher(queue, size=16), client=sqs, wait_seconds=2).serve(until_empty=True)
    assert sorted(k for m in queue.messages for k in m) == [f"incoming/{i}.txt" for i in range(3)]
    assert len(queue.messages) < 3  # a poll's events share a message (moto hands out up to 10 a poll)
    assert visible_and_in_flight() == 0


def test_the_metrics_count_a_batchs_articles_not_its_message():
    from worker import metrics

    m = metrics._m()

    def value(counter, *labels):
        return (counter.labels(*labels) if labels else counter)._value.get()

    before = (value(m.articles_processed), value(m.articles_quarantined, "empty"), value(m.articles_skipped, "already_processed"))
    task = app.tasks[PROCESS_ARTICLES]
    metrics._task_started(task=task)
    metrics._task_finished(task=task, state="SUCCESS", retval={"status": "batch", "articles": [
        ["processed", "incoming/a.txt", None], ["quarantined", "incoming/e.txt", "empty"],
        ["processed", "incoming/b.txt", None], ["skipped", "incoming/c.txt", "already_processed"]], "sent_on": 1})
    after = (value(m.articles_processed), value(m.articles_quarantined, "empty"), value(m.articles_skipped, "already_processed"))
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 1, 1]


class OrderCheckingStore(MemoryStore):
    """An S3-like store (every write in place at once) that fails a record written before its
    article's pending marker."""

    def put(self, key, data, **kwargs):
        if key.startswith("processed/"):
            relative = key[len("processed/"):-len(".json")]
            markers = [k for k in self._objects if k.startswith("index/pending/") and f"/{relative}.json~" in k]
            assert markers, f"record {key} written before its index document"
        return super().put(key, data, **kwargs)


def test_on_a_store_without_group_commit_each_marker_is_written_before_its_record(monkeypatch, sent):
    store = OrderCheckingStore("news")
    runtime = Runtime(Settings.from_env({}, store="memory://news"), store=store)
    monkeypatch.setattr(runtime_module, "_runtime", runtime)
    monkeypatch.setattr(runtime_module, "_runtime_pid", __import__("os").getpid())
    announced: list = []
    monkeypatch.setattr(article_module, "request_index_batch", lambda runtime, *a, documents=None, **k: announced.append(documents))
    items = put_inputs(store, ["a.txt", "b.txt"])
    result = run_batch(store, items)
    assert [s for s, _, _ in result["articles"]] == ["processed", "processed"]
    assert len(announced) == 1 and sorted(m for m, _ in announced[0]) == sorted(k for k in store._objects if k.startswith("index/pending/"))


def test_on_the_folder_store_the_markers_are_written_before_the_records_are_committed(store, sent, monkeypatch):
    commit_writes = type(store).commit_writes

    def checked(self, writes):
        for _, path in writes:
            relative = path.rsplit("/processed/", 1)[1][: -len(".json")]
            assert any(f"/{relative}.json~" in str(p) for p in (self.root / "index" / "pending").rglob("*")), path
        return commit_writes(self, writes)

    monkeypatch.setattr(type(store), "commit_writes", checked)
    items = put_inputs(store, ["a.txt", "b.txt"])
    assert [s for s, _, _ in run_batch(store, items)["articles"]] == ["processed", "processed"]
    assert store.exists("processed/a.txt.json") and store.exists("processed/b.txt.json")


def test_batches_are_bounded_by_the_bytes_of_their_inputs():
    from worker.dispatch import BATCH_BYTES

    queue = BatchRecordingQueue()
    d = dispatcher(queue, size=16)
    sizes = [BATCH_BYTES // 2, BATCH_BYTES // 4, BATCH_BYTES // 4, 2_000, BATCH_BYTES * 3, 2_000]
    with d.batching():
        for i, size in enumerate(sizes):
            d.submit(ObjectEvent("news", f"incoming/{i}.txt", f"e{i}", size))
    assert queue.messages == [["incoming/0.txt", "incoming/1.txt", "incoming/2.txt"],  # the bytes reached
                              ["incoming/3.txt", "incoming/4.txt"], ["incoming/5.txt"]]
