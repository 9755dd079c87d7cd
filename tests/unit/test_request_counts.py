"""Store requests per article (issue 15), counted by verb with CountingStore, on the in-memory
store and on moto's S3 server: dispatcher + job + the amortised index batch."""

from __future__ import annotations

from collections import Counter

import pytest

from tasks.pipeline import build_pipeline
from worker.dispatch import CURRENT, ENQUEUED, Dispatcher, MemoryClaims
from worker.events.model import ObjectEvent
from worker.layout import Layout
from worker.processing import PROCESSED, QUARANTINED, ArticleJob
from worker.search import indexer
from worker.settings import Settings
from worker.storage.counting import CountingStore
from worker.storage.memory import MemoryStore

LAYOUT = Layout("incoming/", "processed/", "logs/", "quarantine/", "index/")
ARTICLES = 12


@pytest.fixture(scope="module")
def pipeline():
    return build_pipeline()


class InlineQueue:
    """Runs the job as soon as the dispatcher enqueues it, with what the dispatcher passes."""

    def __init__(self, job: ArticleJob):
        self.job = job
        self.outcomes = []

    def enqueue(self, event, *, force=False, prior=None):
        self.outcomes.append(self.job.run(event.key, event.etag, force=force, prior=prior))

    def enqueue_removal(self, event):
        raise AssertionError("not expected")


def _setup(store, pipeline, tmp_path, monkeypatch):
    monkeypatch.setenv("COPYDESK_CACHE_DIR", str(tmp_path / "cache"))
    settings = Settings.from_env({}, store=store.url if store.url.startswith("s3://") else "memory://x")
    counting = CountingStore(store)
    asked = []
    cache = indexer.DocumentCache()
    job = ArticleJob(
        counting,
        LAYOUT,
        pipeline,
        max_bytes=1 << 20,
        on_document_written=lambda doc_key, document: indexer.document_written(
            counting, settings, doc_key, document, announce=lambda marker, doc: (cache.put(marker, doc), asked.append(1))
        ),
    )
    job.documents = cache  # type: ignore[attr-defined]  # for the batch below
    queue = InlineQueue(job)
    dispatcher = Dispatcher(counting, LAYOUT, queue, MemoryClaims(), pipeline.version, 60)
    return settings, counting, queue, dispatcher, asked


def _articles(sample_bytes: bytes) -> list[bytes]:
    return [sample_bytes + f"\n\nUpdate {i}: officials said talks would continue next week.".encode() for i in range(ARTICLES)]


def _check_counts(store, pipeline, tmp_path, monkeypatch, sample_bytes):
    settings, counting, queue, dispatcher, asked = _setup(store, pipeline, tmp_path, monkeypatch)
    events = []
    for i, body in enumerate(_articles(sample_bytes)):
        key = f"incoming/news/{i:03d}.txt"
        events.append(ObjectEvent(store.bucket, key, store.put(key, body).etag, origin="sqs"))

    # A new article: one state read by the dispatcher (HEAD of the lineage log: missing, so no
    # record and no quarantine record), then the job trusts it: GET source, PUT the pending
    # marker (which carries the index document: it has no object of its own), PUT log
    # (conditional on no log), PUT record. No GET of an earlier log, no DELETE of a quarantine
    # record that the state says is not there.
    counting.reset()
    assert dispatcher.submit(events[0]) == ENQUEUED
    assert queue.outcomes[-1].status == PROCESSED
    assert dict(counting.reset()) == {"HEAD": 1, "GET": 1, "PUT": 3}

    for event in events[1:]:
        assert dispatcher.submit(event) == ENQUEUED
    assert [o.status for o in queue.outcomes] == [PROCESSED] * ARTICLES
    per_article = counting.reset()
    assert per_article == Counter({"HEAD": ARTICLES - 1, "GET": ARTICLES - 1, "PUT": 3 * (ARTICLES - 1)})
    assert len(asked) == ARTICLES  # every document asks; the debounce is Redis' (see test_search)

    # The index batch, amortised: one LIST, no GET of the markers (the cache holds their
    # documents as written), one bulk DELETE of the markers, the segment and the manifest.
    assert indexer.index_pending(counting, settings, exclusive=True, cache=queue.job.documents) == ARTICLES
    batch = counting.reset()
    assert batch["LIST"] == 1 and batch["DELETE"] == 1 and batch["GET"] <= 2 and batch["PUT"] <= 3, batch
    assert "HEAD" not in batch, batch
    assert sum(batch.values()) <= 7, batch
    total = sum(per_article.values()) + 5 + sum(batch.values())  # + the first article's 5
    # 5 per article in the dispatcher and the job, plus the batch's few spread over its
    # documents: at most 6 per article all included once a batch holds 7 documents or more
    # (12 here; up to 1,000 per batch in the fleet).
    assert total / ARTICLES <= 5 + 7 / ARTICLES <= 6, (total / ARTICLES, per_article, batch)

    # Search finds them: the batch indexed the documents the cache held.
    from worker.search.searcher import Searcher

    hits = Searcher(store, settings).search('"talks would continue"', limit=50)
    assert len({h.id for h in hits}) == ARTICLES
    counting.reset()

    # An article already current: the dispatcher's state read (the log exists, then the record) answers.
    assert dispatcher.submit(events[0]) == CURRENT
    assert dict(counting.reset()) == {"HEAD": 1, "GET": 1}
    # The same event without an etag (webhooks may omit it): HEAD of the source, then the state.
    assert dispatcher.submit(ObjectEvent(store.bucket, events[0].key, None, origin="http")) == CURRENT
    assert dict(counting.reset()) == {"HEAD": 2, "GET": 1}


def test_requests_per_article_in_memory(pipeline, tmp_path, monkeypatch, sample_bytes):
    _check_counts(MemoryStore("news"), pipeline, tmp_path, monkeypatch, sample_bytes)


def test_requests_per_article_on_moto_s3(s3_bucket, pipeline, tmp_path, monkeypatch, sample_bytes):
    from worker.storage.s3 import S3Store

    _check_counts(S3Store(s3_bucket), pipeline, tmp_path, monkeypatch, sample_bytes)


def test_quarantined_then_fixed_article_deletes_its_quarantine_record(pipeline, tmp_path, monkeypatch):
    store = MemoryStore("news")
    settings, counting, queue, dispatcher, _ = _setup(store, pipeline, tmp_path, monkeypatch)
    key = "incoming/bad.txt"
    assert dispatcher.submit(ObjectEvent("news", key, store.put(key, b"").etag)) == ENQUEUED
    assert queue.outcomes[-1].status == QUARANTINED and store.exists(LAYOUT.quarantine_key(key))
    fixed = b"The council approved the harbour budget on Tuesday after a long debate about ferries."
    assert dispatcher.submit(ObjectEvent("news", key, store.put(key, fixed).etag)) == ENQUEUED
    assert queue.outcomes[-1].status == PROCESSED
    assert not store.exists(LAYOUT.quarantine_key(key))  # the state said quarantined: deleted


def test_retry_reads_the_state_itself_and_appends_to_the_log(pipeline, tmp_path, monkeypatch, sample_bytes):
    store = MemoryStore("news")
    settings, counting, queue, dispatcher, _ = _setup(store, pipeline, tmp_path, monkeypatch)
    key = "incoming/r.txt"
    etag = store.put(key, sample_bytes).etag
    counting.reset()
    # A second attempt (a retry) with no state from the dispatcher reads the state itself (the
    # record, the quarantine record), then the source, then the log it appends to.
    outcome = queue.job.run(key, etag, attempt=2, prior=None)
    assert outcome.status == PROCESSED
    assert dict(counting.reset()) == {"GET": 4, "PUT": 3}


def test_articles_ask_the_index_queue_for_batches_debounced(redis_url, monkeypatch):
    import redis

    from worker.app import INDEX_BATCH, INDEX_QUEUE, app
    from worker.jobs import article

    class FakeRuntime:
        def __init__(self):
            self.redis = redis.Redis.from_url(redis_url)
            self.store = MemoryStore("news")

    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append((name, kw)))
    runtime = FakeRuntime()
    for _ in range(indexer.BATCH_COUNT + 1):
        article.request_index_batch(runtime)
    # The first document asks for a run BATCH_AGE seconds later, the BATCH_COUNT-th at once;
    # nothing else is sent, and everything goes to the index queue.
    assert sent == [
        (INDEX_BATCH, {"kwargs": {"generation": 0}, "countdown": indexer.BATCH_AGE, "queue": INDEX_QUEUE}),
        (INDEX_BATCH, {"queue": INDEX_QUEUE}),
    ]
