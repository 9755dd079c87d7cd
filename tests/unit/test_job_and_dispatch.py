"""The article job and the dispatcher on the in-memory store: outputs, idempotency, quarantine."""

from __future__ import annotations

import json

import pytest

from tasks.pipeline import build_pipeline
from worker.dispatch import CLAIMED, CURRENT, ENQUEUED, IGNORED, Dispatcher, MemoryClaims, RedisClaims
from worker.events.model import ObjectEvent
from worker.layout import Layout
from worker.processing import PROCESSED, QUARANTINED, SKIPPED, ArticleJob
from worker.storage import Unreachable
from worker.storage.memory import MemoryStore

LAYOUT = Layout("incoming/", "processed/", "logs/", "quarantine/", "index/")


@pytest.fixture(scope="module")
def pipeline():
    return build_pipeline()


@pytest.fixture
def store():
    return MemoryStore("news")


def make_job(store, pipeline, **kwargs) -> ArticleJob:
    return ArticleJob(store, LAYOUT, pipeline, max_bytes=kwargs.pop("max_bytes", 1 << 20), **kwargs)


def log_lines(store, key):
    return [json.loads(line) for line in store.get(LAYOUT.log_key(key)).data.decode().splitlines()]


def test_processed_article_writes_record_log_and_index_document(store, pipeline, sample_bytes):
    key = "incoming/2026/bs story.txt"
    etag = store.put(key, sample_bytes).etag
    written = []
    outcome = make_job(store, pipeline, on_document_written=lambda k, _doc: written.append(k)).run(key, etag, task_id="t1")
    assert outcome.status == PROCESSED
    record = json.loads(store.get("processed/2026/bs story.txt.json").data)
    assert record["source"]["etag"] == etag and record["source"]["key"] == key
    assert record["source"]["sha256"] and record["source"]["size"] == len(sample_bytes)
    assert record["pipeline_version"] == pipeline.version
    assert record["task"] == {"id": "t1", "attempts": 1}
    assert record["text"].startswith("North Korean and US officials are holding")
    for field in ("title", "byline", "published", "url", "language", "topics", "removed", "timings_ms", "processed_at"):
        assert field in record
    assert {"fetch", "decode", "clean", "language", "topics", "index", "write"} <= set(record["timings_ms"])
    assert written == ["index/docs/2026/bs story.txt.json"]  # the document's name (no object of its own)
    assert set(record["outputs"]) == {"record", "log"}
    events = [line["event"] for line in log_lines(store, key)]
    assert events[0] == "article_started" and events[-1] == "article_processed"
    assert all(line["key"] == key and line["task_id"] == "t1" for line in log_lines(store, key))
    assert store.get(key).data == sample_bytes  # the source is never touched


def test_the_index_document_travels_in_its_pending_marker_and_rebuilds_from_records(store, pipeline, sample_bytes, tmp_path, monkeypatch):
    from worker.search import indexer
    from worker.search.searcher import Searcher
    from worker.settings import Settings

    monkeypatch.setenv("COPYDESK_CACHE_DIR", str(tmp_path / "cache"))
    settings = Settings.from_env({}, store="memory://news")
    keys = [f"incoming/m/{i}.txt" for i in range(2)]
    job = make_job(store, pipeline)  # no hook: the job writes the marker itself
    for i, key in enumerate(keys):
        body = sample_bytes + f"\n\nLighthouse update {i}: the keepers said the lamp would stay lit.".encode()
        assert job.run(key, store.put(key, body).etag).status == PROCESSED
    markers = [i.key for i in store.list("index/")]
    assert len(markers) == 2 and all(m.startswith("index/pending/") for m in markers)
    documents = [json.loads(store.get(m).data) for m in markers]
    assert sorted(d["source_key"] for d in documents) == keys
    assert all(d["pipeline_version"] == pipeline.version and d["processed_at"] for d in documents)
    # Lost markers (say, a bucket restored without its index): the records rebuild the index.
    store.delete_many(markers)
    assert indexer.reindex(store, settings, from_records=True) == 2
    hits = Searcher(store, settings).search("lighthouse keepers", limit=10)
    assert sorted(h.source_key for h in hits) == keys
    assert not list(store.list("index/docs/"))  # the rebuild writes segments, not documents


def test_same_version_twice_is_processed_once(store, pipeline, sample_bytes):
    key = "incoming/a.txt"
    etag = store.put(key, sample_bytes).etag
    job = make_job(store, pipeline)
    assert job.run(key, etag).status == PROCESSED
    assert job.run(key, etag).status == SKIPPED
    assert sum(1 for line in log_lines(store, key) if line["event"] == "article_started") == 1
    store.put(key, sample_bytes + b"\nOne more paragraph of real news text arrives in an update today.")
    new_etag = store.head(key).etag
    assert job.run(key, new_etag).status == PROCESSED
    assert json.loads(store.get(LAYOUT.record_key(key)).data)["source"]["etag"] == new_etag


@pytest.mark.parametrize(
    "payload,reason",
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "binary"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', "entity_declaration"),
        (b"x" * 2048, "too_large"),
    ],
)
def test_bad_input_is_quarantined_with_reason(store, pipeline, payload, reason):
    key = "incoming/bad.bin"
    etag = store.put(key, payload).etag
    outcome = make_job(store, pipeline, max_bytes=1024).run(key, etag, task_id="t9")
    assert outcome.status == QUARANTINED and outcome.reason == reason
    doc = json.loads(store.get("quarantine/bad.bin.json").data)
    assert doc["reason"] == reason and doc["source_etag"] == etag and doc["attempts"] == 1
    assert doc["error_class"] and doc["message"] and doc["time"]
    assert not store.exists("processed/bad.bin.json")
    assert store.get(key).data == payload


def test_transient_store_error_propagates_for_retry_and_is_logged(store, pipeline, sample_bytes):
    key = "incoming/a.txt"
    etag = store.put(key, sample_bytes).etag

    class FlakyStore(MemoryStore):
        fail = True

        def get(self, k, **kw):
            if k == key and self.fail:
                raise Unreachable("503 SlowDown")
            return super().get(k, **kw)

    flaky = FlakyStore("news")
    flaky._objects = store._objects
    job = make_job(flaky, pipeline)
    with pytest.raises(Unreachable):
        job.run(key, etag, attempt=1)
    flaky.fail = False
    assert job.run(key, etag, attempt=2).status == PROCESSED
    events = [(line["event"], line["attempt"]) for line in log_lines(flaky, key)]
    assert events[0] == ("article_started", 1) and ("article_retryable_error", 1) in events
    assert events[-1] == ("article_processed", 2)  # both attempts, in order, in one log


class ListQueue:
    def __init__(self):
        self.events = []

    def enqueue(self, event, *, force=False, prior=None):
        self.events.append((event, force))


def test_dispatcher_deduplicates_and_skips_current(store, pipeline, sample_bytes):
    key = "incoming/a.txt"
    etag = store.put(key, sample_bytes).etag
    queue = ListQueue()
    dispatcher = Dispatcher(store, LAYOUT, queue, MemoryClaims(), pipeline.version, 60)
    event = ObjectEvent("news", key, etag, origin="sqs")
    assert dispatcher.submit(event) == ENQUEUED
    assert dispatcher.submit(ObjectEvent("news", key, etag, origin="sweep")) == CLAIMED
    assert dispatcher.submit(ObjectEvent("news", "processed/a.txt.json", "x")) == IGNORED
    make_job(store, pipeline).run(key, etag)
    assert Dispatcher(store, LAYOUT, queue, MemoryClaims(), pipeline.version, 60).submit(event) == CURRENT
    # Another pipeline version makes the record stale.
    assert Dispatcher(store, LAYOUT, queue, MemoryClaims(), "other", 60).submit(event) == ENQUEUED
    assert dispatcher.submit(event, force=True) == ENQUEUED
    assert len(queue.events) == 3


def test_redis_claims_are_shared_and_expire(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    first, second = RedisClaims(client), RedisClaims(redis.Redis.from_url(redis_url))
    assert first.claim("token", 5) is True
    assert second.claim("token", 5) is False
    assert 0 < client.ttl(RedisClaims.PREFIX + "token") <= 5
    second.release("token")
    assert first.claim("token", 5) is True


def test_removed_input_is_routed_to_index_removal(store, pipeline):
    from worker.dispatch import REMOVAL_ENQUEUED
    from worker.events.model import REMOVED

    class RemovalQueue(ListQueue):
        def __init__(self):
            super().__init__()
            self.removed = []

        def enqueue_removal(self, event):
            self.removed.append(event.key)

    queue = RemovalQueue()
    dispatcher = Dispatcher(store, LAYOUT, queue, MemoryClaims(), pipeline.version, 60)
    assert dispatcher.submit(ObjectEvent("news", "incoming/gone.txt", None, kind=REMOVED)) == REMOVAL_ENQUEUED
    assert dispatcher.submit(ObjectEvent("news", "logs/gone.txt.jsonl", None, kind=REMOVED)) == IGNORED
    assert queue.removed == ["incoming/gone.txt"] and queue.events == []


def test_transient_failure_while_writing_outputs_is_retried_with_its_events_kept(store, pipeline, sample_bytes):
    key = "incoming/a.txt"
    etag = store.put(key, sample_bytes).etag

    class RecordWriteFails(MemoryStore):
        fail = True

        def put(self, k, data, **kw):
            if k == LAYOUT.record_key(key) and self.fail:
                raise Unreachable("500 InternalError")
            return super().put(k, data, **kw)

    flaky = RecordWriteFails("news")
    flaky._objects = store._objects
    job = make_job(flaky, pipeline)
    with pytest.raises(Unreachable):
        job.run(key, etag, attempt=1)
    assert not flaky.exists(LAYOUT.record_key(key))
    flaky.fail = False
    assert job.run(key, etag, attempt=2).status == PROCESSED
    events = [(line["event"], line["attempt"]) for line in log_lines(flaky, key)]
    assert events.count(("article_processed", 1)) == 1 and ("article_retryable_error", 1) in events
    assert events[-1] == ("article_processed", 2)


def test_process_document_is_the_one_pure_way_from_bytes_to_a_record_or_quarantine():
    from tasks.article import Source
    from tasks.pipeline import build_pipeline, process_document

    pipeline = build_pipeline()
    good = process_document(b"A short story about the harbour council budget vote. " * 20, Source("b", "incoming/a.txt", "e1", 1000), pipeline)
    assert good.quarantine is None and good.record["source"]["key"] == "incoming/a.txt" and good.article is not None
    assert good.record["pipeline_version"] == pipeline.version and good.record["task"] == {"id": None, "attempts": 1}
    empty = process_document(b"", Source("b", "incoming/e.txt", "e2", 0), pipeline)
    assert empty.record is None and empty.quarantine["reason"] == "empty" and empty.error.reason == "empty"
    large = process_document(b"x" * 101, Source("b", "incoming/l.txt", "e3", 101), pipeline, max_bytes=100)
    assert large.quarantine["reason"] == "too_large" and "101 bytes" in large.quarantine["message"]


def test_a_contained_stage_failure_notes_the_error_class_not_its_message():
    from tasks.article import Article, Source
    from tasks.pipeline import Pipeline
    from tasks.stage import Stage

    class Flaky(Stage):
        name = "flaky"
        required = False

        def action(self, article):
            raise RuntimeError("secret detail from deep inside a library")

    article = Pipeline([Flaky()]).run(Article(source=Source("b", "incoming/a.txt"), raw=b"x"))
    assert article.notes == [{"stage": "flaky", "error": "RuntimeError"}]


class SlowPipeline:
    """A pipeline whose stages always run past the soft time limit."""

    version = "slow-1"

    def run(self, article, on_stage=None):
        from celery.exceptions import SoftTimeLimitExceeded

        raise SoftTimeLimitExceeded()


def test_soft_time_limit_in_the_stages_retries_once_then_quarantines(store):
    from worker.processing import SlowFirstAttempt

    key = "incoming/slow.html"
    etag = store.put(key, b"<html><body><p>text</p></body></html>").etag
    job = ArticleJob(store, LAYOUT, SlowPipeline(), max_bytes=1 << 20)
    with pytest.raises(SlowFirstAttempt):
        job.run(key, etag, attempt=1)
    assert not store.exists(LAYOUT.quarantine_key(key))
    outcome = job.run(key, etag, attempt=2)
    assert outcome.status == QUARANTINED and outcome.reason == "time_limit"


class HangingStore(MemoryStore):
    def get(self, key, **kwargs):
        from celery.exceptions import SoftTimeLimitExceeded

        if key.startswith("incoming/"):
            raise SoftTimeLimitExceeded()  # the limit hit while waiting for the store
        return super().get(key, **kwargs)


def test_soft_time_limit_while_waiting_for_the_store_is_an_outage(pipeline):
    store = HangingStore("news")
    etag = store.put("incoming/a.txt", b"text").etag
    with pytest.raises(Unreachable):
        make_job(store, pipeline).run("incoming/a.txt", etag, attempt=5)
    assert not store.exists(LAYOUT.quarantine_key("incoming/a.txt"))


@pytest.mark.parametrize("durable_records", [True, False])
def test_only_records_are_written_durable_and_only_when_set(pipeline, sample_bytes, durable_records):
    """Derived outputs are never fsync'd; records (and quarantine records) are unless
    COPYDESK_FSYNC_RECORDS is off (issue 15: one fsync cost more than a text's stages)."""

    class Spy(MemoryStore):
        def __init__(self):
            super().__init__("news")
            self.durable: dict[str, bool] = {}

        def put(self, key, data, **kw):
            self.durable[key.split("/", 1)[0]] = kw.get("durable", True)
            return super().put(key, data, **kw)

    spy = Spy()
    good, bad = "incoming/a.txt", "incoming/b.txt"
    etags = [spy.put(good, sample_bytes).etag, spy.put(bad, b"").etag]
    spy.durable.clear()
    job = make_job(spy, pipeline, durable_records=durable_records)
    assert job.run(good, etags[0]).status == PROCESSED
    assert job.run(bad, etags[1]).status == QUARANTINED
    assert spy.durable == {"processed": durable_records, "quarantine": durable_records, "logs": False, "index": False}


def test_an_html_articles_reading_is_logged_and_counted(store, pipeline):
    from pathlib import Path

    from worker import metrics

    m = metrics._m()

    def counted() -> float:
        return sum(sample.value for family in m.clean_readings.collect() for sample in family.samples
                   if sample.name == "copydesk_clean_readings_total")

    page = (Path(__file__).resolve().parents[2] / "examples" / "battery-plant-jobs.html").read_bytes()
    before = counted()
    etag = store.put("incoming/plant.html", page).etag
    assert make_job(store, pipeline).run("incoming/plant.html", etag).status == PROCESSED
    processed = log_lines(store, "incoming/plant.html")[-1]
    assert processed["event"] == "article_processed"
    assert processed["reading"]["reading"] in ("trafilatura", "readability")
    assert counted() == before + 1
    # Plain text has no readings to choose from: nothing logged, nothing counted.
    etag = store.put("incoming/note.txt", b"A plain text article of a few words, long enough to be kept by the cleaner.").etag
    assert make_job(store, pipeline).run("incoming/note.txt", etag).status == PROCESSED
    assert "reading" not in log_lines(store, "incoming/note.txt")[-1]
    assert counted() == before + 1


def test_the_reading_counter_tells_compared_skipped_and_failed_judges():
    from worker import metrics

    m = metrics._m()

    def value(reading: str, judge: str) -> float:
        return m.clean_readings.labels(reading, judge)._value.get()

    cases = [
        ({"reading": "readability", "agrees_v11": 0.5, "agrees_readability": 0.9}, ("readability", "compared")),
        ({"reading": "trafilatura", "judge_skipped": "same_text"}, ("trafilatura", "skipped")),
        ({"reading": "trafilatura", "judge_failure": "RuntimeError"}, ("trafilatura", "failed")),
    ]
    for reading, labels in cases:
        before = value(*labels)
        metrics.observe_reading(reading)
        assert value(*labels) == before + 1
