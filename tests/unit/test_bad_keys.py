"""Keys that cannot be stored as given (issue 11.2): dot segments, too long for the output keys,
a trailing '/' with content. Each is quarantined under `_bad-keys/<sha256>`, the record names
the original key, and neither the dispatcher nor the sweep ever raises on one."""

from __future__ import annotations

import hashlib
import json

import pytest

from tasks.pipeline import build_pipeline
from worker.dispatch import ENQUEUED, FOREIGN, IGNORED, Dispatcher, MemoryClaims
from worker.events.model import ObjectEvent
from worker.events.sweep import sweep
from worker.layout import BAD_KEYS_DIR, MAX_KEY_BYTES, Layout
from worker.processing import PROCESSED, QUARANTINED, ArticleJob
from worker.storage import ObjectInfo
from worker.storage.memory import MemoryStore

LAYOUT = Layout("incoming/", "processed/", "logs/", "quarantine/", "index/")
ARTICLE = b"<html><body><h1>Harbour budget</h1><p>" + b"The council approved the harbour budget on Tuesday. " * 20 + b"</p></body></html>"

BAD_KEYS = {
    "incoming/../escape.txt": "'..' segment",
    "incoming/./dot.txt": "'.' segment",
    "incoming/a/../../b.txt": "'..' segment",
    "incoming/folder-with-content/": "ends with '/'",
    "incoming/" + "x" * (MAX_KEY_BYTES - len("incoming/")): "too long",
    "incoming/" + "y" * 1006: "too long",  # the 1,015-byte key: stored, but its index marker would not be
    "incoming/" + "é" * 480: "too long",  # 969 bytes: the limit is in bytes, not characters
}


class RawStore(MemoryStore):
    """The memory store plus objects under keys it would refuse to write (as S3 holds them)."""

    def add_raw(self, key: str, data: bytes) -> ObjectInfo:
        info = ObjectInfo(key, hashlib.md5(data).hexdigest(), len(data))
        self._objects[key] = (data, info)
        return info


class ListQueue:
    def __init__(self):
        self.events = []

    def enqueue(self, event, *, force=False, prior=None):
        self.events.append(event)

    def enqueue_removal(self, event):
        self.events.append(event)


@pytest.fixture(scope="module")
def pipeline():
    return build_pipeline()


@pytest.mark.parametrize("key", sorted(BAD_KEYS))
def test_layout_derives_a_safe_key_for_every_bad_key(key):
    assert BAD_KEYS[key] in LAYOUT.key_problem(key)
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert LAYOUT.quarantine_key(key) == f"quarantine/{BAD_KEYS_DIR}{digest}.json"
    for derived in (LAYOUT.record_key(key), LAYOUT.log_key(key), LAYOUT.index_document_key(key)):
        assert ".." not in derived.split("/") and len(derived.encode()) < 200


def test_good_keys_keep_their_path_up_to_the_limit():
    assert LAYOUT.key_problem("incoming/2026/03/story one.html") is None
    assert LAYOUT.record_key("incoming/2026/03/story one.html") == "processed/2026/03/story one.html.json"
    longest_ok = "incoming/" + "z" * 900
    assert LAYOUT.key_problem(longest_ok) is None
    from worker.search.indexer import marker_key
    from worker.settings import Settings

    marker = marker_key(Settings(), LAYOUT.index_document_key(longest_ok))
    assert len(marker.encode()) <= MAX_KEY_BYTES


@pytest.mark.parametrize("key", sorted(BAD_KEYS))
def test_bad_key_is_quarantined_naming_the_original(key, pipeline):
    store = RawStore("news")
    info = store.add_raw(key, ARTICLE)
    job = ArticleJob(store, LAYOUT, pipeline, max_bytes=1 << 20)
    outcome = job.run(key, info.etag, task_id="t1")
    assert outcome.status == QUARANTINED and outcome.reason == "bad_key"
    record = json.loads(store.get(LAYOUT.quarantine_key(key)).data)
    assert record["reason"] == "bad_key" and record["source"]["key"] == key
    assert record["source_etag"] == info.etag
    assert BAD_KEYS[key] in record["message"]


def test_sweep_goes_past_bad_keys_and_finds_them_current_afterwards(pipeline):
    store = RawStore("news")
    for key in BAD_KEYS:
        store.add_raw(key, ARTICLE)
    store.add_raw("incoming/empty-folder/", b"")  # a folder marker: ignored
    store.put("incoming/zz-good.html", ARTICLE)  # listed after the bad ones
    queue = ListQueue()
    dispatcher = Dispatcher(store, LAYOUT, queue, MemoryClaims(), pipeline.version, 60)
    counts = sweep(store, LAYOUT, dispatcher)
    assert counts == {ENQUEUED: len(BAD_KEYS) + 1, IGNORED: 1}, counts
    job = ArticleJob(store, LAYOUT, pipeline, max_bytes=1 << 20)
    outcomes = {e.key: job.run(e.key, e.etag).status for e in queue.events}
    assert outcomes.pop("incoming/zz-good.html") == PROCESSED
    assert set(outcomes.values()) == {QUARANTINED}
    # Every input now has its outcome: a second sweep enqueues nothing.
    again = sweep(store, LAYOUT, Dispatcher(store, LAYOUT, ListQueue(), MemoryClaims(), pipeline.version, 60))
    assert again.get(ENQUEUED) is None, again


def test_events_for_another_bucket_are_refused():
    store = MemoryStore("news")
    queue = ListQueue()
    dispatcher = Dispatcher(store, LAYOUT, queue, MemoryClaims(), "pv", 60)
    assert dispatcher.submit(ObjectEvent("someone-elses", "incoming/a.txt", "e1")) == FOREIGN
    assert queue.events == []
