"""Four indexers publishing at once, against moto's S3 server and against the folder backend.

Every document must be searchable afterwards, exactly once, and no indexer may fail. A fifth
process keeps writing documents while the indexers run, as article jobs would.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from tasks.stages.index import document_id
from worker.layout import Layout
from worker.search import indexer
from worker.search.catalog import Catalog
from worker.search.searcher import Searcher
from worker.settings import Settings
from worker.storage import PreconditionFailed, open_store

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("COPYDESK_SHARED_DIR", ROOT.parent / "shared"))
INDEXERS = 4
FIRST_WAVE = 100
SECOND_WAVE = 30


def texts(n: int) -> list[tuple[str, str]]:
    out = []
    with open(SHARED / "data" / "ag_news" / "test.jsonl", encoding="utf-8") as fh:
        for line in fh:
            item = json.loads(line)
            out.append((item["title"], item["description"]))
            if len(out) == n:
                return out
    return out


def code_word(i: int) -> str:
    """A token found in document i only, to check that it is found exactly once."""
    return f"zqx{i:05d}"


def write_docs(store_url: str, start: int, items: list[tuple[str, str]]) -> int:
    settings = Settings.from_env({}, store=store_url)
    store = open_store(store_url)
    layout = Layout.from_settings(settings)
    for offset, (title, text) in enumerate(items):
        i = start + offset
        key = f"incoming/c/{i:05d}.txt"
        doc = {
            "schema": 1, "id": document_id(store.bucket, key), "title": title, "text": f"{text} {code_word(i)}",
            "language": "en", "topics": ["world"], "published": "2021-05-01", "source_key": key,
            "bucket": store.bucket, "etag": f"e{i}",
        }
        doc_key = layout.index_document_key(key)
        indexer.document_written(store, settings, doc_key, json.dumps(doc).encode())
    return len(items)


def run_indexer(store_url: str, cache_dir: str, rounds_without_work: int = 3) -> int:
    """An indexer worker: small batches until the pending markers stay empty for a while."""
    import time

    os.environ["COPYDESK_CACHE_DIR"] = cache_dir
    settings = Settings.from_env({}, store=store_url)
    store = open_store(store_url)
    total, idle = 0, 0
    while idle < rounds_without_work:
        done = indexer.index_pending(store, settings, max_docs=10)
        total += done
        idle = 0 if done else idle + 1
        if not done:
            time.sleep(0.2)
    return total


def hammer(store_url: str, tmp_path: Path) -> None:
    items = texts(FIRST_WAVE + SECOND_WAVE)
    write_docs(store_url, 0, items[:FIRST_WAVE])
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(INDEXERS + 1, mp_context=ctx) as pool:
        runs = [pool.submit(run_indexer, store_url, str(tmp_path / f"cache{n}")) for n in range(INDEXERS)]
        writer = pool.submit(write_docs, store_url, FIRST_WAVE, items[FIRST_WAVE:])
        assert writer.result() == SECOND_WAVE
        indexed = [run.result() for run in runs]  # re-raises any indexer's error
    settings = Settings.from_env({}, store=store_url)
    store = open_store(store_url)
    assert indexer.pending_count(store, settings) == 0
    # Every document was indexed at least once (a lost claim race may index one twice; the
    # searches below check that it is found once). How the work split between the indexers
    # depends on scheduling, so it is not asserted.
    assert sum(indexed) >= FIRST_WAVE + SECOND_WAVE

    os.environ["COPYDESK_CACHE_DIR"] = str(tmp_path / "reader")
    searcher = Searcher(store, settings)
    manifest = Catalog(store, settings).read()
    assert manifest.segments
    for i in range(FIRST_WAVE + SECOND_WAVE):
        hits = searcher.search(code_word(i))
        assert [h.source_key for h in hits] == [f"incoming/c/{i:05d}.txt"], code_word(i)
    every = searcher.search("", topic="world", limit=1000)
    assert len(every) == FIRST_WAVE + SECOND_WAVE
    assert len({h.id for h in every}) == len(every)

    # Merging what the four published keeps every document, once.
    indexer.merge_segments(store, settings, force=True)
    merged = Searcher(store, settings)
    assert len(merged.search("", topic="world", limit=1000)) == FIRST_WAVE + SECOND_WAVE
    assert len(Catalog(store, settings).read().segments) == 1


def test_four_indexers_on_folder_backend(tmp_path):
    hammer(f"file://{tmp_path / 'bucket'}", tmp_path)


@pytest.mark.integration
def test_moto_honours_conditional_puts(s3_bucket):
    store = open_store(f"s3://{s3_bucket}")
    first = store.put("index/x.json", b"1", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        store.put("index/x.json", b"2", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        store.put("index/x.json", b"2", if_match="0" * 32)
    second = store.put("index/x.json", b"2", if_match=first.etag)
    assert store.get("index/x.json").data == b"2" and second.etag != first.etag


@pytest.mark.integration
def test_four_indexers_on_moto_s3(s3_bucket, tmp_path):
    hammer(f"s3://{s3_bucket}", tmp_path)
