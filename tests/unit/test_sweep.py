"""The sweep (issue 11.6): a cursor across runs, its own time limit, state from listings (no GET
of records once a pass under this pipeline version completed), deletions reconciled, bad keys
passed over. The lock is the Celery task's (worker/jobs/maintenance.py), tested on Redis."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from worker.dispatch import CURRENT, ENQUEUED, Dispatcher, MemoryClaims
from worker.events import sweep as sweep_module
from worker.events.model import REMOVED
from worker.events.sweep import DELETED, MemorySweepState, RedisSweepState, sweep
from worker.layout import Layout
from worker.storage.memory import MemoryStore

LAYOUT = Layout("incoming/", "processed/", "logs/", "quarantine/", "index/")


class CountingStore(MemoryStore):
    def __init__(self, bucket):
        super().__init__(bucket)
        self.calls: Counter[str] = Counter()

    def get(self, key, **kwargs):
        self.calls["get"] += 1
        return super().get(key, **kwargs)

    def head(self, key):
        self.calls["head"] += 1
        return super().head(key)

    def list(self, prefix="", start_after=None):
        self.calls["list"] += 1
        return super().list(prefix, start_after)


class ListQueue:
    def __init__(self):
        self.events = []

    def enqueue(self, event, *, force=False, **_kw):
        self.events.append(event)

    def enqueue_removal(self, event):
        self.events.append(event)


def processed_bucket(n: int, pipeline_version: str = "pv1") -> CountingStore:
    """n inputs, each with a record of its etag and pipeline version written after it (and
    its lineage log, which the job writes before every record)."""
    store = CountingStore("news")
    for i in range(n):
        key = f"incoming/{i % 7}/story {i:05d}.txt"
        info = store.put(key, f"text {i}".encode())
        record = f'{{"source": {{"etag": "{info.etag}"}}, "pipeline_version": "{pipeline_version}"}}'
        store.put(LAYOUT.log_key(key), b'{"event": "article_processed"}\n')
        store.put(LAYOUT.record_key(key), record.encode())
    return store


def dispatcher(store, queue=None, version="pv1"):
    return Dispatcher(store, LAYOUT, queue or ListQueue(), MemoryClaims(), version, 60)


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(sweep_module, "PAGE", 10)


def test_first_pass_checks_records_then_later_passes_read_listings_only(small_pages):
    store = processed_bucket(95)
    state = MemorySweepState()
    first = sweep(store, LAYOUT, dispatcher(store), state=state)
    assert first[CURRENT] == 95 and first["complete"] == 1
    assert store.calls["get"] >= 95  # a new pipeline version: every record read once
    assert state.pass_version() == "pv1" and state.cursor() is None
    store.calls.clear()
    second = sweep(store, LAYOUT, dispatcher(store), state=state)
    assert second[CURRENT] == 95
    assert store.calls["get"] == 0 and store.calls["head"] == 0
    # An input and a record listing per page of 10, the quarantine records once (they are few).
    assert store.calls["list"] <= 2 * 10 + 1
    # A new pipeline version: the next pass checks the records again.
    store.calls.clear()
    queue = ListQueue()
    third = sweep(store, LAYOUT, dispatcher(store, queue, version="pv2"), state=state)
    assert third[ENQUEUED] == 95 and store.calls["get"] >= 95


def test_a_run_stops_at_its_time_limit_and_the_next_continues_from_the_cursor(small_pages, monkeypatch):
    store = processed_bucket(95)
    state = MemorySweepState()
    state.set_pass_version("pv1")
    ticks = iter(range(10_000))
    monkeypatch.setattr(sweep_module.time, "monotonic", lambda: float(next(ticks)))
    seen = 0
    runs = 0
    while True:
        runs += 1
        counts = sweep(store, LAYOUT, dispatcher(store), state=state, time_limit=2)
        seen += counts.get(CURRENT, 0)
        if counts["complete"]:
            break
        assert state.cursor() is not None
        assert runs < 50
    assert seen == 95 and runs > 1  # every input once over several runs, none twice


def test_changed_and_new_inputs_are_enqueued_from_listings(small_pages):
    store = processed_bucket(30)
    state = MemorySweepState()
    state.set_pass_version("pv1")
    time.sleep(0.01)
    store.put("incoming/3/story 00003.txt", b"changed after its record")
    store.put("incoming/new.txt", b"never processed")
    queue = ListQueue()
    counts = sweep(store, LAYOUT, dispatcher(store, queue), state=state)
    assert sorted(e.key for e in queue.events) == ["incoming/3/story 00003.txt", "incoming/new.txt"]
    assert counts[CURRENT] == 29


def test_deleted_inputs_lose_record_and_index_entry(small_pages, monkeypatch):
    monkeypatch.setattr(sweep_module, "ORPHAN_GRACE_SECONDS", 0.0)
    store = processed_bucket(25)
    gone = ["incoming/0/story 00000.txt", "incoming/6/story 00020.txt"]
    for key in gone:
        store.delete(key)
    # An output whose input name sorts oddly against its neighbours ('-' < '.' < '/').
    store.put("processed/0/story-.json", b"{}")
    state = MemorySweepState()
    state.set_pass_version("pv1")
    time.sleep(0.01)
    queue = ListQueue()
    counts = sweep(store, LAYOUT, dispatcher(store, queue), state=state)
    removed = sorted(e.key for e in queue.events if e.kind == REMOVED)
    assert removed == sorted([*gone, "incoming/0/story-"])
    assert counts[DELETED] == 3
    for key in gone:
        assert not store.exists(LAYOUT.record_key(key))
    assert not store.exists("processed/0/story-.json")
    assert store.exists(LAYOUT.record_key("incoming/0/story 00007.txt"))


@pytest.mark.parametrize("bad", [3, 12])  # quarantine records listed once (<= PAGE), or per page
def test_quarantine_records_are_read_from_listings_too(small_pages, monkeypatch, bad):
    monkeypatch.setattr(sweep_module, "ORPHAN_GRACE_SECONDS", 0.0)
    store = processed_bucket(25)
    bad_keys = [f"incoming/{i % 7}/bad {i:05d}.txt" for i in range(bad)]
    for key in bad_keys:
        info = store.put(key, b"")
        store.put(LAYOUT.log_key(key), b'{"event": "article_quarantined"}\n')
        store.put(LAYOUT.quarantine_key(key), f'{{"source": {{"etag": "{info.etag}"}}, "pipeline_version": "pv1"}}'.encode())
    store.delete(bad_keys[0])  # its quarantine record is reconciled away
    state = MemorySweepState()
    state.set_pass_version("pv1")
    time.sleep(0.01)
    store.calls.clear()
    queue = ListQueue()
    counts = sweep(store, LAYOUT, dispatcher(store, queue), state=state)
    assert counts[CURRENT] == 25 + bad - 1 and counts[DELETED] == 1
    assert store.calls["get"] == 0 and store.calls["head"] == 0
    pages = (25 + bad - 1) // 10 + 1
    assert store.calls["list"] <= (2 * pages + 1 if bad <= 10 else 3 * pages + 1)
    assert [e.key for e in queue.events] == [bad_keys[0]] and not store.exists(LAYOUT.quarantine_key(bad_keys[0]))


def test_fresh_records_are_never_taken_for_deleted_inputs(small_pages):
    store = processed_bucket(5)
    store.delete("incoming/1/story 00001.txt")  # its record was written a moment ago
    state = MemorySweepState()
    state.set_pass_version("pv1")
    counts = sweep(store, LAYOUT, dispatcher(store), state=state)
    assert DELETED not in counts and store.exists(LAYOUT.record_key("incoming/1/story 00001.txt"))


def test_redis_state_and_one_sweep_at_a_time(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    state = RedisSweepState(client, "memory://news")
    state.set_cursor("a/b")
    state.set_pass_version("pv9")
    assert state.cursor() == "a/b" and state.pass_version() == "pv9"
    state.set_cursor(None)
    assert state.cursor() is None
    first = client.lock("copydesk:sweep:lock:memory://news", timeout=80, blocking=False)
    second = client.lock("copydesk:sweep:lock:memory://news", timeout=80, blocking=False)
    assert first.acquire() and not second.acquire()
    # The lock expires: a killed sweep never blocks the next for good.
    assert 0 < client.pttl("copydesk:sweep:lock:memory://news") <= 80_000
    first.release()
    assert second.acquire()
