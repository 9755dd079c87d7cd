"""The shared sample, processed by the real pipeline, is found among real news articles."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tasks.article import Source
from tasks.pipeline import process_bytes
from tasks.stages.index import document_id
from worker.layout import Layout
from worker.search import indexer
from worker.search.searcher import Searcher
from worker.settings import Settings
from worker.storage import open_store

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("COPYDESK_SHARED_DIR", ROOT.parent / "shared"))
SAMPLE = SHARED / "samples" / "business-standard-paywalled.txt"
AG_LABELS = {"World": "world", "Sports": "sports", "Business": "business", "Sci/Tech": "scitech"}
#: Other articles about North Korea, summits or Hanoi make the ranking a real test.
NEIGHBOUR_WORDS = ("korea", "summit", "hanoi", "kim ", "vietnam", "nuclear")


@pytest.fixture(scope="module")
def searcher(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    os.environ["COPYDESK_CACHE_DIR"] = str(root / "cache")
    settings = Settings.from_env({}, store=f"file://{root / 'bucket'}")
    store = open_store(settings.store)
    layout = Layout.from_settings(settings)
    docs = []
    with open(SHARED / "data" / "ag_news" / "test.jsonl", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            item = json.loads(line)
            text = f"{item['title']} {item['description']}".lower()
            if i < 400 or any(w in text for w in NEIGHBOUR_WORDS):
                key = f"incoming/ag/{item['id']}.txt"
                docs.append({
                    "schema": 1, "id": document_id(store.bucket, key), "title": item["title"], "text": item["description"],
                    "language": "en", "topics": [AG_LABELS[item["label"]]], "published": None, "source_key": key,
                    "bucket": store.bucket, "etag": "e",
                })
    raw = SAMPLE.read_bytes()
    sample = process_bytes(raw, Source(store.bucket, "incoming/business-standard-paywalled.txt", "s1", len(raw)))
    docs.append(sample.index_document)
    for doc in docs:
        key = layout.index_document_key(doc["source_key"])
        store.put(key, json.dumps(doc).encode(), content_type="application/json")
        indexer.document_written(store, settings, key)
    indexer.index_all_pending(store, settings, max_docs=500)
    found = Searcher(store, settings)
    found.neighbours = len(docs) - 1
    return found


def test_sample_is_top_hit_for_kim_jong_un_summit(searcher):
    assert searcher.neighbours > 400
    hits = searcher.search("Kim Jong Un summit", limit=5)
    assert hits and hits[0].source_key == "incoming/business-standard-paywalled.txt"
    assert "\x02" in hits[0].snippet


def test_sample_is_top_hit_for_hanoi_in_world(searcher):
    """Depends on the classifier calling the sample world news, as its README says it is."""
    hits = searcher.search("Hanoi", topic="world", limit=5)
    assert hits and hits[0].source_key == "incoming/business-standard-paywalled.txt"
    assert hits[0].topics[0] == "world"
