"""Search index benchmark: copydesk's segmented index vs one SQLite FTS5 table, in the same run.

    .venv/bin/python bench/search.py [--docs 100000] [--workers 2] [--full-path 10000]

Corpus: the real articles in ../shared/data/ (BBC News 2,225 long English articles, AG News
28,047 short English items from test+train_subset, 10kGNAD 1,028 long German articles), read
from there. To reach --docs, copy k of article i (k = 0, 1, 2, ...) is the same article with its
sentences rotated by k and sentence k (mod length) dropped, under its own key and a date spread
over 2019-2024: the vocabulary and length distribution stay the real ones, no text is made up.

Figures printed, for copydesk and for the baseline side by side:
- indexing: articles/s. copydesk: --workers processes each folding batches of 1,000 documents
  into one segment, uploading it to a folder store and publishing it in the manifest by
  compare-and-swap (the real build_and_publish path, concurrent publishers included), then the
  background merge, timed on its own. Baseline: one process inserting everything into one
  FTS5 table. Also, on --full-path documents, the whole path: index documents written to the
  store, pending markers, index_pending runs in --workers processes reading the documents back
  (each run claims disjoint marker shards; "indexed more than once" counts repeated work).
- search: p50/p95 over 200 fixed queries (words, phrases, topic/language/date filters),
  segments cached locally, on the merged index and on the index before the merge (one segment
  per batch); the baseline runs the same queries (BM25 with the same title weight, same
  filters, same snippet). Each with copydesk's global-statistics BM25 and with the previous
  per-segment BM25, and how many queries' top-10 scores equal the one-table baseline's (the
  same BM25 over the same documents: what a ranking independent of segments must give).
- index size per article.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks.search import Row, parse_query  # noqa: E402
from tasks.search.segment import TITLE_WEIGHT, TEXT_WEIGHT, Filters  # noqa: E402
from tasks.stages.index import document_id  # noqa: E402

SHARED = Path(os.environ.get("COPYDESK_SHARED_DIR", ROOT.parent / "shared"))
BATCH = 1000
TOPIC_MAP = {
    "sport": "sports", "business": "business", "politics": "politics", "tech": "scitech", "entertainment": "entertainment",
    "Sci/Tech": "scitech", "World": "world", "Sports": "sports", "Business": "business",
    "Web": "scitech", "Panorama": "world", "International": "world", "Wirtschaft": "business", "Sport": "sports",
    "Inland": "politics", "Etat": "entertainment", "Wissenschaft": "scitech", "Kultur": "entertainment",
}
SENTENCE = re.compile(r"(?<=[.!?])\s+")
BUCKET = "bench"


def base_articles() -> list[dict]:
    out = []
    with open(SHARED / "data" / "bbc_news" / "bbc_news.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            out.append({"title": r["title"], "text": r["body"], "language": "en", "topic": TOPIC_MAP[r["label"]]})
    for name in ("test.jsonl", "train_subset.jsonl"):
        with open(SHARED / "data" / "ag_news" / name, encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                title = r.get("title")
                text = r.get("description") or r["text"]
                if not title:  # train rows: "title description" in one field
                    title, text = " ".join(r["text"].split()[:8]), r["text"]
                out.append({"title": title, "text": text, "language": "en", "topic": TOPIC_MAP[r["label"]]})
    with open(SHARED / "data" / "10kgnad_de" / "test.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            sentences = SENTENCE.split(r["text"])
            out.append({"title": sentences[0][:120], "text": " ".join(sentences[1:]) or r["text"], "language": "de", "topic": TOPIC_MAP[r["label"]]})
    return out


def vary(text: str, k: int) -> str:
    if k == 0:
        return text
    sentences = SENTENCE.split(text)
    if len(sentences) < 2:
        return text
    rotated = sentences[k % len(sentences):] + sentences[: k % len(sentences)]
    del rotated[k % len(rotated)]
    return " ".join(rotated)


def corpus(n: int) -> list[dict]:
    base = base_articles()
    rng = random.Random(7)
    docs = []
    for i in range(n):
        art, k = base[i % len(base)], i // len(base)
        key = f"incoming/bench/{i:06d}.txt"
        day = f"{2019 + rng.randrange(6)}-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d}"
        docs.append({
            "schema": 1, "id": document_id(BUCKET, key), "title": art["title"], "text": vary(art["text"], k),
            "language": art["language"], "topics": [art["topic"]], "topic_scores": [{"label": art["topic"], "score": 0.8}],
            "published": day, "url": None, "site_name": None, "byline": None, "source_key": key, "bucket": BUCKET,
            "etag": f"{i:032x}",
        })
    return docs


def queries(docs: list[dict], n: int = 200) -> list[dict]:
    """A fixed mix: 90 words / word pairs, 40 phrases, 30 topic, 20 language, 20 date filters."""
    rng = random.Random(11)
    words = lambda d: [w for w in re.findall(r"[A-Za-zÄÖÜäöüß]{4,}", d["title"])]  # noqa: E731
    out = []
    while len(out) < n:
        d = docs[rng.randrange(len(docs))]
        ws = words(d)
        if len(ws) < 2:
            continue
        kind = len(out)
        if kind < 60:
            out.append({"q": ws[rng.randrange(len(ws))]})
        elif kind < 90:
            out.append({"q": " ".join(rng.sample(ws, 2))})
        elif kind < 130:
            j = rng.randrange(len(ws) - 1)
            out.append({"q": f'"{ws[j]} {ws[j + 1]}"'})
        elif kind < 160:
            out.append({"q": ws[0], "topic": d["topics"][0]})
        elif kind < 180:
            out.append({"q": ws[-1], "language": d["language"]})
        else:
            year = d["published"][:4]
            out.append({"q": ws[0], "since": f"{year}-01-01", "until": f"{year}-06-30"})
    return out


# -- copydesk ---------------------------------------------------------------------------------
def _env(store_dir: str, cache_dir: str):
    os.environ["COPYDESK_CACHE_DIR"] = cache_dir
    from worker.settings import Settings
    from worker.storage import open_store

    settings = Settings.from_env({}, store=f"file://{store_dir}", log_level="WARNING")
    return open_store(settings.store), settings


def _quiet():
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def build_batches(args) -> int:
    store_dir, cache_dir, batches = args
    _quiet()
    from worker.search.catalog import Catalog
    from worker.search.indexer import build_and_publish

    store, settings = _env(store_dir, cache_dir)
    catalog = Catalog(store, settings)
    now = time.time()
    for batch in batches:
        build_and_publish(catalog, [Row(d["id"], now, now, d) for d in batch])
    return sum(len(b) for b in batches)


def run_index_pending(args) -> int:
    store_dir, cache_dir = args
    _quiet()
    from worker.search.indexer import index_pending

    store, settings = _env(store_dir, cache_dir)
    total = 0
    # Until no marker is left: a run that finds every non-empty shard claimed waits a little.
    while next(iter(store.list(f"{settings.index_prefix}pending/")), None) is not None:
        done = index_pending(store, settings, max_docs=BATCH)
        total += done
        if not done:
            time.sleep(0.01)
    return total


def copydesk_index(docs, workdir: Path, workers: int, qs=None) -> dict:
    store_dir = workdir / "bucket"
    batches = [docs[i:i + BATCH] for i in range(0, len(docs), BATCH)]
    shares = [(str(store_dir), str(workdir / f"cache{w}"), batches[w::workers]) for w in range(workers)]
    ctx = multiprocessing.get_context("fork")
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        indexed = sum(pool.map(build_batches, shares))
    elapsed = time.perf_counter() - started
    _quiet()
    from worker.search.catalog import Catalog
    from worker.search.indexer import merge_segments

    # Before the merge: many segments, where per-segment statistics differ from the index's.
    split = copydesk_search(workdir, str(store_dir), qs, "split") if qs else None
    store, settings = _env(str(store_dir), str(workdir / "cache-merge"))
    segments_before = len(Catalog(store, settings).read().segments)
    started = time.perf_counter()
    while merge_segments(store, settings):
        pass
    merge_s = time.perf_counter() - started
    manifest = Catalog(store, settings).read()
    return {
        "indexed": indexed, "index_s": elapsed, "rate": indexed / elapsed, "segments_before": segments_before,
        "merge_s": merge_s, "segments": len(manifest.segments),
        "bytes": sum(s["bytes"] for s in manifest.segments), "store_dir": str(store_dir), "split": split,
    }


def copydesk_full_path(docs, workdir: Path, workers: int) -> dict:
    """Pending markers (carrying their documents) in a folder store, then index_pending in `workers` processes."""
    from worker.layout import Layout
    from worker.search.indexer import marker_key

    store_dir = workdir / "fullpath"
    store, settings = _env(str(store_dir), str(workdir / "cache-fp"))
    layout = Layout.from_settings(settings)
    for d in docs:  # setup, not timed: what the article jobs leave behind (markers carry the documents)
        path = store_dir / marker_key(settings, layout.index_document_key(d["source_key"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(d))
    ctx = multiprocessing.get_context("fork")
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        indexed = sum(pool.map(run_index_pending, [(str(store_dir), str(workdir / f"cache-fp{w}")) for w in range(workers)]))
    elapsed = time.perf_counter() - started
    return {"docs": len(docs), "indexed": indexed, "rate": len(docs) / elapsed, "repeated": indexed - len(docs)}


def _filters(q):
    return Filters(topic=q.get("topic"), language=q.get("language"), since=q.get("since"), until=q.get("until"))


def local_stats_search(searcher, q, limit=10) -> list[float]:
    """The previous ranking, for comparison: each segment's BM25 with its own statistics,
    pages merged by score (what Searcher did before global statistics)."""
    parsed = parse_query(q["q"])
    filters = _filters(q)
    candidates = []
    for name, seg in searcher._segments.items():
        candidates.extend((score, name, rowid) for rowid, score in searcher._best_live(name, seg, parsed.match, filters, limit))
    candidates.sort()
    for _, name, rowid in candidates[:limit]:
        searcher._segments[name].fetch(rowid, parsed.match)
    return [round(-score, 4) for score, _, _ in candidates[:limit]]


def copydesk_search(workdir: Path, store_dir: str, qs, tag: str) -> dict:
    """Latency of the search (global BM25) and of the previous per-segment ranking, and the
    top-10 scores of each, on the index as it is in store_dir."""
    from worker.search.searcher import Searcher

    store, settings = _env(store_dir, str(workdir / f"cache-search-{tag}"))
    searcher = Searcher(store, settings)
    searcher.refresh()  # downloads the segments into the cache: not part of the latency
    run = lambda q: [h.score for h in searcher.search(q["q"], **{k: v for k, v in q.items() if k != "q"}, limit=10)]  # noqa: E731
    out = {"segments": len(searcher.manifest.segments)}
    for mode, fn in (("global", run), ("local", lambda q: local_stats_search(searcher, q))):
        out[mode] = timed_queries(fn, qs)
    return out


def timed_queries(fn, qs) -> dict:
    """Milliseconds and top scores of fn for each query, after 20 queries that warm the page cache."""
    for q in qs[:20]:
        fn(q)
    times, scores = [], []
    for q in qs:
        started = time.perf_counter()
        scores.append(fn(q))
        times.append((time.perf_counter() - started) * 1000)
    return {"times": times, "scores": scores}


# -- baseline ---------------------------------------------------------------------------------
def baseline_index(docs, path: Path) -> dict:
    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(
        "CREATE TABLE docs(rowid INTEGER PRIMARY KEY, id TEXT, language TEXT, day TEXT, topic TEXT, title TEXT, source_key TEXT);"
        "CREATE INDEX docs_id ON docs(id);"
        "CREATE VIRTUAL TABLE fts USING fts5(title, text, tokenize='porter unicode61 remove_diacritics 2');"
    )
    conn.execute("BEGIN")
    for d in docs:
        cur = conn.execute("INSERT INTO docs(id, language, day, topic, title, source_key) VALUES (?,?,?,?,?,?)",
                           (d["id"], d["language"], d["published"], d["topics"][0], d["title"], d["source_key"]))
        conn.execute("INSERT INTO fts(rowid, title, text) VALUES (?,?,?)", (cur.lastrowid, d["title"], d["text"]))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    elapsed = time.perf_counter() - started
    return {"rate": len(docs) / elapsed, "index_s": elapsed, "bytes": path.stat().st_size}


def baseline_search(path: Path, qs) -> dict:
    conn = sqlite3.connect(path)
    def run(q):
        match = parse_query(q["q"]).match
        f = Filters(topic=None, language=q.get("language"), since=q.get("since"), until=q.get("until"))
        where, params = f.sql()
        if q.get("topic"):
            where = " AND ".join(x for x in (where, "docs.topic = ?") if x)
            params.append(q["topic"])
        sql = (f"SELECT fts.rowid, bm25(fts, {TITLE_WEIGHT}, {TEXT_WEIGHT}) AS s FROM fts JOIN docs ON docs.rowid = fts.rowid "
               "WHERE fts MATCH ?" + (" AND " + where if where else "") + " ORDER BY s LIMIT 10")
        rows = conn.execute(sql, [match, *params]).fetchall()
        for rowid, _ in rows:
            conn.execute("SELECT docs.title, snippet(fts, 1, '[', ']', '…', 24) FROM fts JOIN docs ON docs.rowid = fts.rowid "
                         "WHERE fts MATCH ? AND fts.rowid = ?", (match, rowid)).fetchone()
        return [round(-score, 4) for _, score in rows]
    return timed_queries(run, qs)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--full-path", type=int, default=10_000, help="documents for the whole-path (store → index_pending) figure")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="copydesk-bench-search-"))
    try:
        t = time.perf_counter()
        docs = corpus(args.docs)
        qs = queries(docs)
        print(f"corpus: {len(docs)} articles built in {time.perf_counter() - t:.1f}s; {len(qs)} queries", flush=True)
        ours = copydesk_index(docs, workdir, args.workers, qs)
        print(f"copydesk indexed {ours['indexed']} in {ours['index_s']:.1f}s into {ours['segments_before']} segments; merge {ours['merge_s']:.1f}s → {ours['segments']} segment(s)", flush=True)
        base = baseline_index(docs, workdir / "baseline.sqlite")
        print(f"baseline indexed {len(docs)} in {base['index_s']:.1f}s", flush=True)
        full = copydesk_full_path(docs[: args.full_path], workdir, args.workers) if args.full_path else None
        merged = copydesk_search(workdir, ours["store_dir"], qs, "merged")
        base_s = baseline_search(workdir / "baseline.sqlite", qs)
        n = len(docs)
        print()
        print(f"{'':58}{'copydesk':>12}{'baseline':>12}{'ratio':>8}")

        def row(label, ours_value, base_value, fmt=",.0f"):
            print(f"{label:58}{ours_value:>12{fmt}}{base_value:>12{fmt}}{ours_value / base_value:>8.2f}")

        row(f"indexing, articles/s ({args.workers} workers / 1)", ours["rate"], base["rate"])
        row("  incl. background merge, articles/s", n / (ours["index_s"] + ours["merge_s"]), base["rate"])
        if full:
            row(f"  whole path, {full['docs']} docs: store → markers → index_pending x{args.workers}", full["rate"], base["rate"])
            print(f"{'    documents indexed more than once':58}{full['repeated']:>12,}")
        states = [("merged", merged)] + ([("split", ours["split"])] if ours["split"] else [])
        for state, result in states:
            print(f"search on the {state} index ({result['segments']} segment(s)), 200 queries, cached:")
            for mode, label in (("global", "global BM25 (now)"), ("local", "per-segment BM25 (before)")):
                for p in (50, 95):
                    row(f"  {label}, p{p} ms", pct(result[mode]["times"], p), pct(base_s["times"], p), ".2f")
                same = sum(a == b for a, b in zip(result[mode]["scores"], base_s["scores"], strict=False))
                print(f"{'  ' + label + ': top-10 scores equal to one FTS5 table':58}{f'{same}/{len(qs)}':>12}")
        row("index size per article, bytes", ours["bytes"] / n, base["bytes"] / n)
    finally:
        if args.keep:
            print(f"work folder: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
