"""One immutable index segment: a single SQLite file with an FTS5 table and the documents' facets.

Why SQLite FTS5: it ships with Python (no native dependency to build or pin), a segment is one
file (one object in the bucket, one file in the cache), and it has BM25 with per-column
weights, snippets, phrase/NEAR/prefix/boolean queries, and SQL for the facet filters. A segment
is written once by one process and then only read, which is exactly what FTS5 is fast at.

Tables (rowids shared):
- `fts(title, text)`: the FTS5 index; BM25 weights title over body (TITLE_WEIGHT).
- `lengths(rowid, tokens)`: tokens of each row (all columns) as FTS5 counts them, and in
  `meta` their sum and maximum, written once when the segment is built (from fts5vocab).
- `docs`: id (stable across versions), version and read_at (which copy of a document wins:
  the newest), etag, language, published day, source key and the rest of the document as JSON.
- `topics(label, doc)`: one row per topic label, for the topic facet (the ordered list is in
  `extra`).

Term statistics for the global BM25 (tasks/search/rank.py) are read through SQLite's supported
interfaces only: the `fts5vocab` virtual table (which rows and columns hold a term, at which
offsets) and the tables above, never FTS5's internal `_data`/`_docsize` records.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Iterator

SEGMENT_FORMAT = 2
TITLE_WEIGHT = 4.0
TEXT_WEIGHT = 1.0
COLUMN_WEIGHTS = {"title": TITLE_WEIGHT, "text": TEXT_WEIGHT}
TOKENIZE = "porter unicode61 remove_diacritics 2"
#: Markers put around highlighted words by snippet(); the searcher renders them.
HIGHLIGHT_START = "\x02"
HIGHLIGHT_END = "\x03"
SNIPPET_TOKENS = 24

_SCHEMA = f"""
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE docs(
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    version REAL NOT NULL,
    read_at REAL NOT NULL,
    etag TEXT,
    language TEXT,
    day TEXT,
    source_key TEXT,
    extra TEXT NOT NULL
);
CREATE TABLE topics(label TEXT NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY(label, doc)) WITHOUT ROWID;
CREATE TABLE lengths(rowid INTEGER PRIMARY KEY, tokens INTEGER NOT NULL);
CREATE VIRTUAL TABLE fts USING fts5(title, text, tokenize='{TOKENIZE}');
INSERT INTO fts(fts, rank) VALUES('rank', 'bm25({TITLE_WEIGHT}, {TEXT_WEIGHT})');
"""

#: Document fields stored as columns or in the FTS table; everything else goes to `extra`.
_COLUMN_FIELDS = ("id", "title", "text", "language", "etag", "source_key")


#: One FTS5 phrase of a parsed query (tasks/search/query.py): an optional column filter, the
#: quoted words, an optional trailing '*' (the last token is a prefix).
_PHRASE = re.compile(r'^(?:(?P<column>\w+) : )?"(?P<words>(?:[^"]|"")*)"(?P<prefix>\*)?$')


class _Tokenizer:
    """The segments' own tokenizer, for query phrases: an in-memory FTS5 table with the same
    tokenize= options, read back through fts5vocab."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        self._conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize='{TOKENIZE}')")
        self._conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")

    def tokens(self, text: str) -> list[str]:
        with self._lock:
            self._conn.execute("DELETE FROM t")
            self._conn.execute("INSERT INTO t(rowid, x) VALUES (1, ?)", (text,))
            return [term for term, in self._conn.execute("SELECT term FROM v ORDER BY offset")]


_tokenizer: _Tokenizer | None = None


def query_tokens(text: str) -> list[str]:
    global _tokenizer
    if _tokenizer is None:
        _tokenizer = _Tokenizer()
    return _tokenizer.tokens(text)


def day_of(published: Any) -> str | None:
    """The YYYY-MM-DD of a published value (ISO date or datetime), or None."""
    if not published or not isinstance(published, str):
        return None
    day = published.strip()[:10]
    if len(day) == 10 and day[4] == "-" and day[7] == "-" and day[:4].isdigit():
        return day
    return None


@dataclass(frozen=True)
class Row:
    """A document as stored in a segment, with the version that decides which copy wins."""

    id: str
    version: float
    read_at: float
    doc: dict[str, Any]

    @property
    def rank_key(self) -> tuple[float, float, str]:
        return (self.version, self.read_at, self.doc.get("etag") or "")


class SegmentWriter:
    """Builds a segment file from documents; call finish() once, then upload the file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if self.path.exists():
            self.path.unlink()
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        # A segment is a scratch file until it is uploaded: durability would only cost time.
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.executescript(_SCHEMA)
        self.conn.execute("BEGIN")
        self.count = 0

    def add(self, doc: dict[str, Any], version: float, read_at: float) -> None:
        self.add_row(Row(doc["id"], float(version), float(read_at), doc))

    def add_row(self, row: Row) -> None:
        doc = row.doc
        extra = {k: v for k, v in doc.items() if k not in _COLUMN_FIELDS}
        cur = self.conn.execute(
            "INSERT INTO docs(id, version, read_at, etag, language, day, source_key, extra) VALUES (?,?,?,?,?,?,?,?)",
            (
                row.id,
                row.version,
                row.read_at,
                doc.get("etag"),
                doc.get("language"),
                day_of(doc.get("published")),
                doc.get("source_key"),
                json.dumps(extra, ensure_ascii=False, separators=(",", ":")),
            ),
        )
        rowid = cur.lastrowid
        self.conn.execute(
            "INSERT INTO fts(rowid, title, text) VALUES (?,?,?)", (rowid, doc.get("title") or "", doc.get("text") or "")
        )
        topics = doc.get("topics") or []
        if topics:
            self.conn.executemany("INSERT OR IGNORE INTO topics(label, doc) VALUES (?,?)", [(t, rowid) for t in topics])
        self.count += 1

    def finish(self, optimize: bool = True) -> int:
        """Commit and close; returns the number of documents. optimize merges FTS5's b-trees."""
        # Row lengths as FTS5 counts them (its tokenizer, all columns), from fts5vocab's view.
        self.conn.execute("CREATE VIRTUAL TABLE temp.instances USING fts5vocab(main, 'fts', 'instance')")
        self.conn.execute("INSERT INTO lengths(rowid, tokens) SELECT doc, count(*) FROM temp.instances GROUP BY doc")
        self.conn.execute("DROP TABLE temp.instances")
        tokens, longest = self.conn.execute("SELECT coalesce(sum(tokens), 0), coalesce(max(tokens), 0) FROM lengths").fetchone()
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES ('format', ?), ('docs', ?), ('tokens', ?), ('max_length', ?)",
            (str(SEGMENT_FORMAT), str(self.count), str(tokens), str(longest)),
        )
        self.conn.execute("COMMIT")
        if optimize and self.count:
            self.conn.execute("INSERT INTO fts(fts) VALUES('optimize')")
        self.conn.close()
        return self.count


@dataclass(frozen=True)
class Filters:
    topic: str | None = None
    language: str | None = None
    since: str | None = None  # YYYY-MM-DD, inclusive
    until: str | None = None  # YYYY-MM-DD, inclusive

    def sql(self) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if self.language:
            clauses.append("docs.language = ?")
            params.append(self.language)
        if self.since:
            clauses.append("docs.day >= ?")
            params.append(self.since)
        if self.until:
            clauses.append("docs.day <= ?")
            params.append(self.until)
        if self.topic:
            clauses.append("EXISTS (SELECT 1 FROM topics WHERE topics.label = ? AND topics.doc = docs.rowid)")
            params.append(self.topic)
        return (" AND ".join(clauses), params)


class Segment:
    """A segment file opened read-only for searching."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        # fts5vocab over the segment's index: each term's rows, columns and offsets.
        self.conn.execute("CREATE VIRTUAL TABLE temp.instances USING fts5vocab(main, 'fts', 'instance')")
        self.conn.execute("PRAGMA query_only=1")
        self.conn.execute("PRAGMA cache_size=-16000")
        self.meta = dict(self.conn.execute("SELECT key, value FROM meta"))
        self._lengths: dict[int, int] | None = None

    def close(self) -> None:
        self.conn.close()

    def versions(self) -> Iterator[tuple[int, str, float, float, str | None]]:
        """(rowid, id, version, read_at, etag) of every row, for deciding which copies are live."""
        return self.conn.execute("SELECT rowid, id, version, read_at, etag FROM docs")

    def ids(self, rowids: Iterable[int]) -> dict[int, str]:
        """Document id of each row."""
        ids = json.dumps(sorted(set(rowids)))
        return dict(self.conn.execute("SELECT rowid, id FROM docs WHERE rowid IN (SELECT value FROM json_each(?))", (ids,)))

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM docs").fetchone()[0]

    def search(self, match: str, filters: Filters, limit: int, offset: int = 0) -> list[tuple[int, float]]:
        """(rowid, score) best first; lower scores are better (FTS5's bm25 is negated).

        With an empty match, filter-only: newest published first (score: minus the Julian day).
        """
        where, params = filters.sql()
        if match:
            sql = "SELECT fts.rowid, fts.rank FROM fts JOIN docs ON docs.rowid = fts.rowid WHERE fts MATCH ?"
            params = [match, *params]
            if where:
                sql += " AND " + where
            sql += " ORDER BY fts.rank LIMIT ? OFFSET ?"
        else:
            # Newest first across segments too: the "score" is minus the day's Julian number.
            sql = "SELECT docs.rowid, -coalesce(julianday(docs.day), 0.0) FROM docs"
            if where:
                sql += " WHERE " + where
            sql += " ORDER BY docs.day DESC, docs.rowid DESC LIMIT ? OFFSET ?"
        return self.conn.execute(sql, [*params, limit, offset]).fetchall()

    # -- statistics for global BM25 (tasks/search/rank.py) ---------------------------------
    def _row_lengths(self) -> dict[int, int] | None:
        """Every row's length, for a segment built before lengths were stored (format 1):
        counted once from fts5vocab. None when the segment stores them."""
        if "tokens" in self.meta:
            return None
        if self._lengths is None:
            self._lengths = dict(self.conn.execute("SELECT doc, count(*) FROM temp.instances GROUP BY doc"))
        return self._lengths

    def totals(self) -> tuple[int, int]:
        """(rows, tokens of all columns) as FTS5 counts them."""
        rows = self.count()
        counted = self._row_lengths()
        return rows, int(self.meta["tokens"]) if counted is None else sum(counted.values())

    def max_length(self) -> int:
        """Tokens of the longest row (all columns)."""
        counted = self._row_lengths()
        return int(self.meta["max_length"]) if counted is None else max(counted.values(), default=0)

    def lengths(self, rowids: Iterable[int]) -> dict[int, int]:
        """Tokens of each row, all columns."""
        return {rowid: length for rowid, (_, length) in self.ids_and_lengths(rowids).items()}

    def ids_and_lengths(self, rowids: Iterable[int]) -> dict[int, tuple[str, int]]:
        """Document id and tokens (all columns) of each row."""
        ids = json.dumps(sorted(set(rowids)))
        counted = self._row_lengths()
        if counted is not None:
            cur = self.conn.execute("SELECT rowid, id FROM docs WHERE rowid IN (SELECT value FROM json_each(?))", (ids,))
            return {rowid: (doc_id, counted.get(rowid, 0)) for rowid, doc_id in cur}
        cur = self.conn.execute(
            "SELECT docs.rowid, docs.id, coalesce(lengths.tokens, 0) FROM docs LEFT JOIN lengths ON lengths.rowid = docs.rowid "
            "WHERE docs.rowid IN (SELECT value FROM json_each(?))",
            (ids,),
        )
        return {rowid: (doc_id, tokens) for rowid, doc_id, tokens in cur}

    def phrase_freqs(self, phrase: str, rowids: Iterable[int]) -> dict[int, float]:
        """For the given rows that hold `phrase` (one phrase of a parsed query): its weighted
        frequency f, the sum over its occurrences of their column's weight, as FTS5's bm25()
        counts it. Read from fts5vocab: the offsets of each of the phrase's tokens."""
        parsed = _PHRASE.match(phrase)
        if parsed is None:
            raise ValueError(f"not a phrase of a parsed query: {phrase!r}")
        tokens = query_tokens(parsed["words"].replace('""', '"'))
        ids = sorted(set(rowids))
        if not tokens or not ids:
            return {}
        column = parsed["column"]
        positions: list[set[tuple[int, str, int]]] = []
        for i, token in enumerate(tokens):
            if parsed["prefix"] and i == len(tokens) - 1:
                condition, params = "term >= ? AND term < ?", [token, token + "\U0010ffff"]
            else:
                condition, params = "term = ?", [token]
            if column:
                condition += " AND col = ?"
                params.append(column)
            cur = self.conn.execute(
                f"SELECT doc, col, offset FROM temp.instances WHERE {condition} AND doc IN ({_int_list(ids)})", params
            )
            # Shifted back by the token's place: every token of one occurrence lands on its start.
            positions.append({(doc, col, offset - i) for doc, col, offset in cur})
        starts = set.intersection(*positions)
        freqs: dict[int, float] = {}
        for doc, col, _ in starts:
            freqs[doc] = freqs.get(doc, 0.0) + COLUMN_WEIGHTS[col]
        return freqs

    def hits_of(self, phrases: list[str]) -> list[int]:
        """Rows matching each phrase, in one statement."""
        if not phrases:
            return []
        sql = "SELECT " + ", ".join(["(SELECT count(*) FROM fts WHERE fts MATCH ?)"] * len(phrases))
        return list(self.conn.execute(sql, phrases).fetchone())

    def hits(self, phrase: str, among: Iterable[int] | None = None) -> int:
        """Rows matching phrase (only those among the given rowids, when given)."""
        if among is None:
            return self.conn.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (phrase,)).fetchone()[0]
        ids = sorted(set(among))
        if not ids:
            return 0
        return self.conn.execute(
            f"SELECT count(*) FROM fts WHERE fts MATCH ? AND rowid IN ({_int_list(ids)})", (phrase,)
        ).fetchone()[0]

    def search_scored(self, match: str, filters: Filters, limit: int, offset: int = 0) -> list[tuple[int, float]]:
        """(rowid, bm25 with the segment's own statistics) best first, positive (higher is better)."""
        where, params = filters.sql()
        sql = "SELECT fts.rowid, -fts.rank FROM fts JOIN docs ON docs.rowid = fts.rowid WHERE fts MATCH ?"
        if where:
            sql += " AND " + where
        sql += " ORDER BY fts.rank LIMIT ? OFFSET ?"
        return self.conn.execute(sql, [match, *params, limit, offset]).fetchall()

    def fetch(self, rowid: int, match: str = "") -> dict[str, Any]:
        """The stored document of a row (text replaced by a highlighted snippet when match is given)."""
        row = self.conn.execute(
            "SELECT docs.id, docs.etag, docs.language, docs.source_key, docs.extra, fts.title "
            "FROM docs JOIN fts ON fts.rowid = docs.rowid WHERE docs.rowid = ?",
            (rowid,),
        ).fetchone()
        doc_id, etag, language, source_key, extra, title = row
        doc = json.loads(extra)
        doc.update(id=doc_id, etag=etag, language=language, source_key=source_key, title=title or None)
        doc["snippet"] = self.snippet(rowid, match)
        return doc

    def snippet(self, rowid: int, match: str) -> str:
        if match:
            found = self.conn.execute(
                "SELECT snippet(fts, 1, ?, ?, '…', ?) FROM fts WHERE fts MATCH ? AND rowid = ?",
                (HIGHLIGHT_START, HIGHLIGHT_END, SNIPPET_TOKENS, match, rowid),
            ).fetchone()
            if found and HIGHLIGHT_START in found[0]:
                return found[0]
        # No match in the body (title-only hit or no query): the opening words.
        text = self.conn.execute("SELECT text FROM fts WHERE rowid = ?", (rowid,)).fetchone()[0] or ""
        words = text.split()
        return " ".join(words[:SNIPPET_TOKENS]) + (" …" if len(words) > SNIPPET_TOKENS else "")

    def rows(self) -> Iterator[Row]:
        """Every stored document in full (text included), for merging."""
        return (row for _, row in self.rows_with_ids())

    def rows_with_ids(self) -> Iterator[tuple[int, Row]]:
        """(rowid, Row) of every stored document in full, for export."""
        cur = self.conn.execute(
            "SELECT docs.rowid, docs.id, docs.version, docs.read_at, docs.etag, docs.language, docs.source_key, "
            "docs.extra, fts.title, fts.text FROM docs JOIN fts ON fts.rowid = docs.rowid ORDER BY docs.rowid"
        )
        for rowid, doc_id, version, read_at, etag, language, source_key, extra, title, text in cur:
            doc = json.loads(extra)
            doc.update(
                id=doc_id, etag=etag, language=language, source_key=source_key,
                title=title or None, text=text,
            )
            yield rowid, Row(doc_id, version, read_at, doc)


def _int_list(ids: Iterable[int]) -> str:
    """rowids spelled into SQL: FTS5 filters a literal IN list while it scans its matches."""
    return ",".join(str(int(i)) for i in ids)


def build_segment(path: str | os.PathLike, rows: Iterable[Row], optimize: bool = True) -> int:
    writer = SegmentWriter(path)
    for row in rows:
        writer.add_row(row)
    return writer.finish(optimize=optimize)
