"""The searchable index: query parsing, segments, publishing, newest-wins, merges, removal, export."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from tasks.search import Filters, Segment, SegmentWriter, dead_rows, parse_query
from tasks.search.snippet import highlighted_words, render_html
from tasks.stages.index import document_id
from worker.layout import Layout
from worker.search import indexer
from worker.search.catalog import Catalog
from worker.search.export import export_es_bulk
from worker.search.searcher import Searcher
from worker.settings import Settings
from worker.storage import open_store

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("COPYDESK_SHARED_DIR", ROOT.parent / "shared"))
AG_LABELS = {"World": "world", "Sports": "sports", "Business": "business", "Sci/Tech": "scitech"}


def ag_news(n: int, offset: int = 0) -> list[dict]:
    """n real AG News items as (title, text, topic) dicts."""
    rows = []
    with open(SHARED / "data" / "ag_news" / "test.jsonl", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i < offset:
                continue
            item = json.loads(line)
            rows.append({"title": item["title"], "text": item["description"], "topic": AG_LABELS[item["label"]]})
            if len(rows) == n:
                break
    return rows


def make_doc(bucket: str, key: str, title: str, text: str, *, topic="world", language="en", published=None, etag="e1"):
    return {
        "schema": 1,
        "id": document_id(bucket, key),
        "title": title,
        "text": text,
        "language": language,
        "topics": [topic] if topic else [],
        "topic_scores": [{"label": topic, "score": 0.9}] if topic else [],
        "published": published,
        "url": None,
        "site_name": None,
        "byline": None,
        "source_key": key,
        "bucket": bucket,
        "etag": etag,
    }


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("COPYDESK_CACHE_DIR", str(tmp_path / "cache"))
    settings = Settings.from_env({}, store=f"file://{tmp_path / 'bucket'}")
    store = open_store(settings.store)
    return store, settings


def write_doc(store, settings, doc, enqueue=None):
    """What the article job does with its index document: a pending marker that carries it."""
    key = Layout.from_settings(settings).index_document_key(doc["source_key"])
    indexer.document_written(store, settings, key, json.dumps(doc).encode(), announce=(lambda m, d: enqueue()) if enqueue else None)
    return key


def load_corpus(store, settings, items, batch=None):
    docs = []
    for i, item in enumerate(items):
        doc = make_doc(store.bucket, f"incoming/ag/{i:05d}.txt", item["title"], item["text"], topic=item["topic"],
                       published=f"2020-{1 + i % 12:02d}-{1 + i % 28:02d}")
        write_doc(store, settings, doc)
        docs.append(doc)
        if batch and (i + 1) % batch == 0:
            indexer.index_pending(store, settings)
    indexer.index_all_pending(store, settings)
    return docs


# -- query parsing ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, match, filters",
    [
        ("Kim Jong Un summit", '("Kim" AND "Jong" AND "Un" AND "summit")', {}),
        ('"North Korea" OR Trump', '("North Korea" OR "Trump")', {}),
        ("U.S. -trade", '("U.S." NOT "trade")', {}),
        ("title:Hanoi topic:world", 'title : "Hanoi"', {"topic": "world"}),
        ("summ*", '"summ"*', {}),
        ("lang:de Bundesliga since:2019-01-01", '"Bundesliga"', {"language": "de", "since": "2019-01-01"}),
        ('say "hi', '("say" AND "hi")', {}),
        ("a AND (b OR c)", '("a" AND (("b" OR "c")))', {}),
        ("))) OR AND NOT", "", {}),
    ],
)
def test_parse_query(text, match, filters):
    parsed = parse_query(text)
    assert parsed.match == match
    assert parsed.filters == filters


def test_every_parsed_query_is_valid_fts5(tmp_path):
    """Whatever users type, the expression given to FTS5 never raises a syntax error."""
    path = tmp_path / "s.sqlite"
    writer = SegmentWriter(path)
    writer.add(make_doc("b", "incoming/x", "Title", "some words here"), 1.0, 1.0)
    writer.finish()
    seg = Segment(path)
    for text in ['"', "a:b:c", "NEAR(", "col:", "*", "-", "'", "x^2 + y", "AND", "(a", "a) OR (b", "don't stop", "C++ & C#", "über-cool", "a NOT"]:
        seg.search(parse_query(text).match or '"x"', Filters(), 10)


# -- segments ---------------------------------------------------------------------------------
def test_title_matches_rank_above_body_matches(tmp_path):
    writer = SegmentWriter(tmp_path / "s.sqlite")
    body = make_doc("b", "incoming/body", "Markets today", "Analysts talked about volcano risk and other things " * 3)
    title = make_doc("b", "incoming/title", "Volcano erupts", "Lava flowed for hours and people left their homes " * 3)
    for doc in (body, title):
        writer.add(doc, 1.0, 1.0)
    for i in range(20):
        writer.add(make_doc("b", f"incoming/f{i}", f"Filler {i}", "nothing to see " * 10), 1.0, 1.0)
    writer.finish()
    seg = Segment(tmp_path / "s.sqlite")
    ranked = [seg.fetch(rowid)["source_key"] for rowid, _ in seg.search('"volcano"', Filters(), 10)]
    assert ranked == ["incoming/title", "incoming/body"]


def test_segment_statistics_come_from_fts5vocab_and_older_segments_count_them_too(tmp_path):
    """Row lengths and totals as FTS5 counts them, stored at build time; a segment without them
    (format 1) counts them from fts5vocab when opened, with the same results."""
    import shutil
    import sqlite3

    writer = SegmentWriter(tmp_path / "new.sqlite")
    docs = [make_doc("b", f"incoming/{i}", f"Title number {i}", "U.S. markets rallied as the Fed held rates " * (i + 1)) for i in range(5)]
    for doc in docs:
        writer.add(doc, 1.0, 1.0)
    writer.finish()
    shutil.copy(tmp_path / "new.sqlite", tmp_path / "old.sqlite")
    with sqlite3.connect(tmp_path / "old.sqlite") as conn:
        conn.execute("DELETE FROM meta WHERE key IN ('tokens', 'max_length')")
        conn.execute("DROP TABLE lengths")
    new, old = Segment(tmp_path / "new.sqlite"), Segment(tmp_path / "old.sqlite")
    assert new.totals() == old.totals() == (5, sum(3 + 9 * (i + 1) for i in range(5)))  # "U.S." is two tokens
    assert new.max_length() == old.max_length() == 3 + 9 * 5
    rows = [rowid for rowid, _ in new.search('"markets"', Filters(), 10)]
    assert new.ids_and_lengths(rows) == old.ids_and_lengths(rows)
    # Phrase frequencies: a two-token phrase (consecutive offsets), a prefix, a column filter.
    assert new.phrase_freqs('"U.S. markets"', rows) == {r: float(r) for r in rows}
    assert new.phrase_freqs('"rall"*', rows) == {r: float(r) for r in rows}
    assert new.phrase_freqs('title : "number"', rows) == dict.fromkeys(rows, 4.0)  # the title's weight


def test_global_bm25_on_one_segment_is_fts5_bm25(env):
    """With the whole index in one segment, the global scores are exactly FTS5's bm25()."""
    store, settings = env
    load_corpus(store, settings, ag_news(300))
    searcher = Searcher(store, settings)
    searcher.refresh()
    (name, seg), = searcher._segments.items()
    for q in ["oil prices", '"prime minister"', "Iraq OR Afghanistan", "game -season", "title:Microsoft", "comput*"]:
        match = parse_query(q).match
        expected = [(seg.fetch(rowid)["id"], round(-score, 4)) for rowid, score in seg.search(match, Filters(), 1000)]
        got = [(h.id, h.score) for h in searcher.search(q, limit=1000)]
        assert got and [s for _, s in got] == [s for _, s in expected], q
        assert sorted(got) == sorted(expected), q


def test_scores_do_not_depend_on_the_split_into_segments(tmp_path, monkeypatch):
    """The same documents in 1 segment or in 7 (with superseded copies): same hits, same order."""
    items = ag_news(210)
    results = []
    for batch, stale in ((None, False), (30, True)):
        folder = tmp_path / f"b{batch}"
        monkeypatch.setenv("COPYDESK_CACHE_DIR", str(folder / "cache"))
        settings = Settings.from_env({}, store=f"file://{folder / 'bucket'}")
        store = open_store(settings.store)
        if stale:  # older copies of some documents, superseded by the corpus below
            for i, item in enumerate(items[:20]):
                write_doc(store, settings, make_doc(store.bucket, f"incoming/ag/{i:05d}.txt", "Old " + item["title"], "stale words", etag="v0"))
            indexer.index_all_pending(store, settings)
        load_corpus(store, settings, items, batch=batch)
        searcher = Searcher(store, settings)
        searcher.refresh()
        assert len(searcher.manifest.segments) == (8 if stale else 1)
        results.append({q: [(h.id, h.score) for h in searcher.search(q, limit=50)] for q in ("oil", "stocks fall", "said", '"Red Sox"')})
    assert results[0] == results[1] and all(results[0].values())


def test_dead_rows_keeps_newest_copy_and_honours_tombstones():
    segments = {
        "a": [(1, "x", 10.0, 10.0, "e1"), (2, "y", 10.0, 10.0, "e1")],
        "b": [(1, "x", 20.0, 20.0, "e2"), (2, "z", 5.0, 5.0, "e1")],
    }
    assert dead_rows(segments, {}) == {"a": {1}, "b": set()}
    assert dead_rows(segments, {"z": 6.0, "x": 15.0}) == {"a": {1}, "b": {2}}
    assert dead_rows(segments, {"x": 25.0}) == {"a": {1}, "b": {1}}


# -- indexing and search ----------------------------------------------------------------------
def test_indexed_documents_are_found_with_snippet_and_facets(env):
    store, settings = env
    docs = load_corpus(store, settings, ag_news(300))
    searcher = Searcher(store, settings)
    target = docs[7]
    word = max(target["title"].split(), key=len).strip(".,:;'\"()")
    hits = searcher.search(target["title"], limit=5)
    assert hits[0].id == target["id"]
    assert hits[0].title == target["title"] and hits[0].topics == target["topics"] and hits[0].language == "en"
    assert hits[0].source_key == target["source_key"] and hits[0].published == target["published"]
    hits = searcher.search(word, limit=300)
    assert hits and all(h.snippet for h in hits)
    assert any(highlighted_words(h.snippet) for h in hits)
    world = searcher.search("said", topic="world", limit=300)
    assert world and {t for h in world for t in h.topics} == {"world"}
    march = searcher.search("said", since="2020-03-01", until="2020-03-31", limit=300)
    assert march and all(h.published.startswith("2020-03") for h in march)
    assert searcher.search("said", language="de") == []
    # Inline filters do the same as options.
    assert [h.id for h in searcher.search("said topic:world", limit=300)] == [h.id for h in world]


def test_filter_only_query_lists_newest_first(env):
    store, settings = env
    load_corpus(store, settings, ag_news(40))
    hits = Searcher(store, settings).search("", topic="sports", limit=100)
    assert hits and all(h.topics == ["sports"] for h in hits)
    days = [h.published for h in hits]
    assert days == sorted(days, reverse=True)


def test_bad_date_is_a_clear_error(env):
    store, settings = env
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        Searcher(store, settings).search("x", since="last week")


def test_batch_makes_one_segment_and_clears_markers(env):
    store, settings = env
    load_corpus(store, settings, ag_news(50))
    manifest = Catalog(store, settings).read()
    assert len(manifest.segments) == 1 and manifest.segments[0]["docs"] == 50
    assert indexer.pending_count(store, settings) == 0


def test_concurrent_runs_claim_disjoint_shards(env):
    store, settings = env
    assert indexer.claim_shard(store, settings, 3, "a") is not None
    assert indexer.claim_shard(store, settings, 3, "b") is None  # held
    assert indexer.claim_shard(store, settings, 4, "b") is not None  # another shard is free


def test_shard_claimed_by_another_run_is_left_to_it(env):
    store, settings = env
    docs = [make_doc(store.bucket, f"incoming/c/{i}.txt", item["title"], item["text"]) for i, item in enumerate(ag_news(40))]
    for doc in docs:
        write_doc(store, settings, doc)
    held = {s: indexer.claim_shard(store, settings, s, "other") for s in range(0, indexer.PENDING_SHARDS, 2)}
    in_held = sum(1 for d in docs if indexer.shard_of(Layout.from_settings(settings).index_document_key(d["source_key"])) in held)
    assert 0 < in_held < len(docs)
    assert indexer.index_pending(store, settings) == len(docs) - in_held
    assert indexer.pending_count(store, settings) == in_held  # not touched
    assert indexer.index_pending(store, settings) == 0
    for shard, etag in held.items():
        indexer.release_shard(store, settings, shard, etag)
    assert indexer.index_pending(store, settings) == in_held
    assert indexer.pending_count(store, settings) == 0
    assert len(Searcher(store, settings).search("", topic="world", limit=100)) == len(docs)


def test_claim_of_a_dead_run_expires_and_nothing_is_lost(env):
    store, settings = env
    doc = make_doc(store.bucket, "incoming/dead.txt", "Ferry strike", "The ferry crews went on strike.")
    key = write_doc(store, settings, doc)
    shard = indexer.shard_of(key)
    assert indexer.claim_shard(store, settings, shard, "dead", lease=60.0) is not None
    assert indexer.index_pending(store, settings) == 0  # held by the dead run
    # Its lease runs out (written as it would stand then, rather than waited for).
    import time

    expired = json.dumps({"owner": "dead", "expires": time.time() - 1}).encode()
    dead = store.put(indexer.claim_key(settings, shard), expired).etag
    assert indexer.index_pending(store, settings) == 1  # lease expired: taken over
    assert [h.id for h in Searcher(store, settings).search("ferry strike")] == [doc["id"]]
    # The dead run waking up must not delete the claim of whoever holds the shard now.
    taker = indexer.claim_shard(store, settings, shard, "taker")
    indexer.release_shard(store, settings, shard, dead)
    assert indexer.claim_shard(store, settings, shard, "third") is None
    indexer.release_shard(store, settings, shard, taker)
    assert indexer.claim_shard(store, settings, shard, "third") is not None


def test_batch_requests_are_debounced_in_redis_by_count_and_age(redis_url):
    import redis

    requests = indexer.BatchRequests(redis.Redis.from_url(redis_url), "file:///bucket", count=4)
    # The first document since the last run asks for a run later (by age), every 4th now.
    assert [requests.document_written() for _ in range(9)] == ["later", None, None, "now", None, None, None, "now", None]
    assert requests.generation == 0 and not requests.superseded(0)
    assert requests.run_started() == 9
    assert requests.superseded(0)  # the "later" run asked for before this run started: not needed
    assert requests.document_written() == "later"  # a document after the reset asks again
    assert requests.generation == 1 and not requests.superseded(1)
    other = indexer.BatchRequests(redis.Redis.from_url(redis_url), "file:///other", count=4)
    assert other.document_written() == "later"  # each bucket's index is debounced apart
    assert not requests.take_missed()
    requests.missed()
    assert requests.take_missed() and not requests.take_missed()


def test_document_written_puts_one_marker_that_carries_the_document(env):
    from worker.storage.counting import CountingStore

    store, settings = env
    counting = CountingStore(store)
    announced = []
    doc = make_doc(store.bucket, "incoming/one.txt", "One", "one story")
    key = Layout.from_settings(settings).index_document_key(doc["source_key"])
    body = json.dumps(doc).encode()
    marker = indexer.document_written(counting, settings, key, body, announce=lambda m, d: announced.append((m, d)))
    # One PUT, no store flag, no object of the document's own: the marker is the document.
    assert dict(counting.counts) == {"PUT": 1} and announced == [(marker, body)]
    assert [i.key for i in store.list(settings.index_prefix)] == [marker]
    assert marker.startswith(f"{settings.index_prefix}pending/") and store.get(marker).data == body


def test_exclusive_batch_lists_once_and_deletes_markers_in_one_request(env):
    from worker.storage.counting import CountingStore

    store, settings = env
    for i, item in enumerate(ag_news(40)):
        write_doc(store, settings, make_doc(store.bucket, f"incoming/x/{i}.txt", item["title"], item["text"]))
    counting = CountingStore(store)
    assert indexer.index_pending(counting, settings, exclusive=True) == 40
    counts = dict(counting.counts)
    # One LIST of the markers, one GET per marker (no cache here; the marker carries the
    # document), one bulk DELETE of the markers, and the segment upload and manifest publish;
    # no claim object is touched.
    assert counts["LIST"] == 1 and counts["DELETE"] == 1, counts
    assert 40 <= counts["GET"] <= 42 and counts["PUT"] <= 3 and "HEAD" not in counts, counts
    assert indexer.pending_count(store, settings) == 0
    assert not list(store.list(f"{settings.index_prefix}claims/"))


def test_reprocessed_article_replaces_old_hit(env):
    store, settings = env
    load_corpus(store, settings, ag_news(30))
    old = make_doc(store.bucket, "incoming/story.txt", "Harbour bridge opens", "The harbour bridge opened to traffic.", etag="v1")
    write_doc(store, settings, old)
    indexer.index_all_pending(store, settings)
    searcher = Searcher(store, settings)
    assert [(h.id, h.etag) for h in searcher.search("harbour bridge")] == [(old["id"], "v1")]
    new = dict(old, title="Harbour bridge closes", text="The harbour bridge closed for repairs.", etag="v2")
    write_doc(store, settings, new)
    indexer.index_all_pending(store, settings)
    hits = searcher.search("harbour bridge")
    assert [(h.id, h.etag, h.title) for h in hits] == [(old["id"], "v2", "Harbour bridge closes")]
    assert searcher.search("opened traffic") == []
    assert len(Catalog(store, settings).read().segments) == 3


def test_older_copy_published_late_does_not_win(env):
    """Two indexers raced: the one that read the older document publishes last."""
    store, settings = env
    catalog = Catalog(store, settings)
    doc = make_doc(store.bucket, "incoming/r.txt", "Tram line", "The tram line opens", etag="new")
    stale = dict(doc, text="The tram line is planned", etag="old")
    from tasks.search import Row

    indexer.build_and_publish(catalog, [Row(doc["id"], 200.0, 201.0, doc)])
    indexer.build_and_publish(catalog, [Row(doc["id"], 100.0, 150.0, stale)])
    hits = Searcher(store, settings).search("tram")
    assert [(h.etag, h.snippet.count("opens")) for h in hits] == [("new", 1)]


def test_merge_returns_same_results(env):
    store, settings = env
    docs = load_corpus(store, settings, ag_news(400), batch=40)
    # Reprocess a few so that the merge has superseded copies to drop.
    items = ag_news(5)
    for i, item in enumerate(items):
        doc = make_doc(store.bucket, f"incoming/ag/{i:05d}.txt", item["title"] + " revised", item["text"], topic=item["topic"], etag="v2")
        write_doc(store, settings, doc)
    indexer.index_all_pending(store, settings)
    queries = ["oil prices", '"prime minister"', "Iraq OR Afghanistan", "game -season", "title:Microsoft", "revised"]
    searcher = Searcher(store, settings)
    searcher.refresh()
    before_segments = len(searcher.manifest.segments)
    before = {q: [(h.id, h.etag, h.score) for h in searcher.search(q, limit=1000)] for q in queries}
    top = {q: [(h.id, h.score) for h in searcher.search(q, limit=5)] for q in queries}
    for doc in docs[100:110]:
        assert searcher.search(doc["title"])[0].id == doc["id"]
    assert before_segments >= 10 and all(before.values())
    assert indexer.merge_segments(store, settings) >= indexer.MERGE_FACTOR
    indexer.merge_segments(store, settings, force=True)  # whatever the tiered merge left
    after_searcher = Searcher(store, settings)
    after_searcher.refresh()
    assert len(after_searcher.manifest.segments) == 1
    assert after_searcher.manifest.segments[0]["docs"] == 400
    for q in queries:
        # The same documents and versions, in the same order, with the same scores: BM25
        # statistics are the whole index's, whatever its segments.
        after = [(h.id, h.etag, h.score) for h in after_searcher.search(q, limit=1000)]
        assert after == before[q], q
        # A short page is the head of the long one (the per-segment fetch stops early).
        assert [(h.id, h.score) for h in after_searcher.search(q, limit=5)] == top[q] == [(i, s) for i, _, s in before[q][:5]], q
    for doc in docs[100:110]:
        assert after_searcher.search(doc["title"])[0].id == doc["id"]
    # The running searcher picks the merge up by itself.
    assert [(h.id, h.etag, h.score) for h in searcher.search("revised", limit=100)] == before["revised"]
    assert len(searcher.manifest.segments) == 1


def test_removed_document_disappears_and_can_come_back(env):
    store, settings = env
    docs = load_corpus(store, settings, ag_news(20))
    target = docs[3]
    searcher = Searcher(store, settings)
    assert searcher.search(target["title"])[0].id == target["id"]
    write_doc(store, settings, dict(target, etag="pending"))  # a copy not yet indexed...
    indexer.remove_document(store, settings, target["source_key"])
    assert indexer.pending_count(store, settings) == 0  # ...goes with its marker
    assert target["id"] not in {h.id for h in searcher.search(target["title"], limit=100)}
    # A merge drops it for good; an upload of the same key later is indexed again.
    indexer.merge_segments(store, settings, force=True)
    assert target["id"] not in {h.id for h in Searcher(store, settings).search(target["title"], limit=100)}
    write_doc(store, settings, dict(target, etag="again"))
    indexer.index_all_pending(store, settings)
    assert Searcher(store, settings).search(target["title"])[0].etag == "again"


def test_reindex_rebuilds_from_the_live_documents_and_the_pending_markers(env):
    store, settings = env
    docs = load_corpus(store, settings, ag_news(60), batch=20)
    indexer.remove_document(store, settings, docs[0]["source_key"])
    searcher = Searcher(store, settings)

    def live_ids():
        return sorted(row.id for _, row in searcher.live_documents())

    before = live_ids()
    assert len(before) == 59
    # Pending, not yet indexed: a newer copy of an indexed document and a new one.
    write_doc(store, settings, dict(docs[5], title="Lighthouse keepers strike", etag="v2", processed_at="2031-01-01T00:00:00Z"))
    fresh = make_doc(store.bucket, "incoming/new.txt", "Ferry timetable", "The ferry timetable changes", etag="n1")
    write_doc(store, settings, fresh)
    assert indexer.reindex(store, settings, batch_docs=25) == 60
    manifest = Catalog(store, settings).read()
    assert [s["docs"] for s in manifest.segments] == [25, 25, 10]
    assert indexer.pending_count(store, settings) == 0
    assert live_ids() == sorted([*before, fresh["id"]])
    assert [(h.id, h.etag) for h in searcher.search("lighthouse keepers")] == [(docs[5]["id"], "v2")]
    assert docs[0]["id"] not in {h.id for h in searcher.search(docs[0]["title"], limit=100)}


def test_export_es_bulk(env):
    store, settings = env
    docs = load_corpus(store, settings, ag_news(25))
    indexer.remove_document(store, settings, docs[0]["source_key"])
    out = io.StringIO()
    assert export_es_bulk(store, settings, out, "news") == 24
    lines = out.getvalue().splitlines()
    actions, sources = [json.loads(x) for x in lines[::2]], [json.loads(x) for x in lines[1::2]]
    assert {a["index"]["_index"] for a in actions} == {"news"}
    assert sorted(a["index"]["_id"] for a in actions) == sorted(d["id"] for d in docs[1:])
    by_id = {d["id"]: d for d in docs}
    for action, source in zip(actions, sources, strict=True):
        original = by_id[action["index"]["_id"]]
        assert source["text"] == original["text"] and source["topics"] == original["topics"]
        assert source["published_day"] == original["published"]


def test_snippet_html_is_escaped():
    assert render_html("a <b> \x02c\x03") == "a &lt;b&gt; <mark>c</mark>"


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_batches_read_documents_from_the_cache_and_the_markers_it_lacks(env, backend, request):
    """A document cached as written with its newest marker is not read again; one whose newest
    marker is not cached (another process wrote it, the entry expired) is read from that
    marker, which carries it. Consumed markers leave the cache."""
    from worker.storage.counting import CountingStore

    store, settings = env
    if backend == "redis":
        import redis

        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        cache: indexer.DocumentCache = indexer.RedisDocumentCache(client, store.url)
        # The article task's way: the cache entry goes with the batch request, one round trip.
        requests = indexer.BatchRequests(client, store.url)
        announce = lambda m, d: requests.document_written(m, d)  # noqa: E731
    else:
        cache = indexer.DocumentCache()
        announce = cache.put
    layout = Layout.from_settings(settings)
    docs = [make_doc(store.bucket, f"incoming/c/{i}.txt", f"Harbour story {i}", f"ferries and harbour number {i}") for i in range(4)]
    for i, doc in enumerate(docs):
        key = layout.index_document_key(doc["source_key"])
        indexer.document_written(store, settings, key, json.dumps(doc).encode(), announce=announce if i < 3 else None)
    # Document 0 rewritten by a writer without the cache: its newest marker is not cached.
    rewritten = {**docs[0], "text": "lighthouse keepers rewritten", "processed_at": "2030-01-01T00:00:00Z"}
    newest0 = indexer.document_written(store, settings, layout.index_document_key(docs[0]["source_key"]), json.dumps(rewritten).encode())
    markers = [i.key for i in store.list(f"{settings.index_prefix}pending/")]
    assert len(markers) == 5
    newest3 = next(m for m in markers if "/c/3.txt" in m)

    class Reads(CountingStore):
        def __init__(self, inner):
            super().__init__(inner)
            self.read: list[str] = []

        def get(self, key, **kw):
            self.read.append(key)
            return super().get(key, **kw)

    counting = Reads(store)
    assert indexer.index_pending(counting, settings, exclusive=True, cache=cache) == 4
    # The markers not cached, and no document object (besides them only the manifest is read).
    assert sorted(k for k in counting.read if k != f"{settings.index_prefix}manifest.json") == sorted([newest0, newest3])
    assert cache.get_many(markers) == {}
    assert indexer.pending_count(store, settings) == 0
    searcher = Searcher(store, settings)
    assert [h.id for h in searcher.search("lighthouse", limit=5)] == [docs[0]["id"]]
    assert searcher.search('"harbour number 0"', limit=5) == []
    assert len(searcher.search("ferries", limit=10)) == 3


def test_markers_of_the_earlier_layout_are_still_indexed(env):
    """A bucket written before markers carried their documents: the marker names the document's
    own object `index/docs/R.json`, which the batch GETs; nothing pending is lost by the upgrade."""
    store, settings = env
    layout = Layout.from_settings(settings)
    doc = make_doc(store.bucket, "incoming/old.txt", "Canal reopens", "The canal reopened after dredging")
    doc_key = layout.index_document_key(doc["source_key"])
    store.put(doc_key, json.dumps(doc).encode())
    store.put(indexer.marker_key(settings, doc_key), json.dumps({"doc_key": doc_key, "at": 1.0}).encode())
    write_doc(store, settings, make_doc(store.bucket, "incoming/new.txt", "Canal tolls", "Canal tolls rise"))
    assert indexer.index_pending(store, settings, exclusive=True) == 2
    assert indexer.pending_count(store, settings) == 0
    assert {h.title for h in Searcher(store, settings).search("canal")} == {"Canal reopens", "Canal tolls"}


def test_a_cached_only_batch_leaves_the_markers_its_cache_lacks(env):
    """The embedded runner's batches beside the work take only the documents it holds (a pool
    child's arrive with its answers): no GET of a marker; the rest wait for a later batch."""
    from worker.storage.counting import CountingStore

    store, settings = env
    counting = CountingStore(store)
    cache = indexer.DocumentCache()
    held = make_doc(store.bucket, "incoming/a.txt", "Held", "a document the runner holds")
    write_doc(store, settings, held)
    layout = Layout.from_settings(settings)
    indexer.document_written(store, settings, layout.index_document_key("incoming/b.txt"),
                             json.dumps(make_doc(store.bucket, "incoming/b.txt", "Elsewhere", "still in a child")).encode())
    pending = list(store.list_keys(f"{settings.index_prefix}pending/"))
    marker_a = next(m for m in pending if "a.txt" in m)
    cache.put(marker_a, store.get(marker_a).data)
    assert indexer.index_pending(counting, settings, exclusive=True, cache=cache, cached_only=True) == 1
    assert counting.counts.get("GET", 0) <= 1  # the manifest at most, no marker
    left = list(store.list_keys(f"{settings.index_prefix}pending/"))
    assert len(left) == 1 and "b.txt" in left[0]
    assert indexer.index_pending(store, settings, exclusive=True, cache=cache) == 1
    assert not list(store.list_keys(f"{settings.index_prefix}pending/"))
