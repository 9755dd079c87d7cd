"""`copydesk export --format es-bulk`: the live index documents as Elasticsearch/OpenSearch _bulk NDJSON.

Each document is two lines, the action `{"index": {"_index": NAME, "_id": ID}}` and the source,
so `curl -H 'Content-Type: application/x-ndjson' --data-binary @out.ndjson HOST/_bulk` loads
it; re-running the export and the load overwrites by id. The source is what search sees: the
newest copy of each document, deleted inputs left out.
"""

from __future__ import annotations

import json
from typing import IO, Any
from collections.abc import Iterator

from tasks.search.segment import day_of

from ..settings import Settings
from ..storage import Store
from .searcher import Searcher

#: Fields of the index document exported, in this order (anything else the document has follows).
EXPORT_FIELDS = (
    "id", "title", "text", "language", "topics", "topic_scores", "published", "url",
    "site_name", "byline", "source_key", "bucket", "etag", "schema",
)
#: A mapping users can PUT before loading, so topics/language are keyword facets and dates dates.
ES_MAPPING = {
    "mappings": {
        "properties": {
            "title": {"type": "text"},
            "text": {"type": "text"},
            "language": {"type": "keyword"},
            "topics": {"type": "keyword"},
            "published_day": {"type": "date", "format": "yyyy-MM-dd"},
            "published": {"type": "keyword"},
            "url": {"type": "keyword"},
            "site_name": {"type": "keyword"},
            "source_key": {"type": "keyword"},
            "bucket": {"type": "keyword"},
            "etag": {"type": "keyword"},
            "topic_scores": {"type": "object", "enabled": False},
        }
    }
}


def es_source(doc: dict[str, Any]) -> dict[str, Any]:
    source = {name: doc.get(name) for name in EXPORT_FIELDS}
    source.update({k: v for k, v in doc.items() if k not in source and k != "snippet"})
    source["published_day"] = day_of(doc.get("published"))
    return source


def bulk_lines(searcher: Searcher, index_name: str) -> Iterator[str]:
    for _, row in searcher.live_documents():
        yield json.dumps({"index": {"_index": index_name, "_id": row.id}}, separators=(",", ":"))
        yield json.dumps(es_source(row.doc), ensure_ascii=False, separators=(",", ":"))


def export_es_bulk(store: Store, settings: Settings, out: IO[str], index_name: str = "copydesk") -> int:
    """Write the _bulk body to out; returns the number of documents."""
    searcher = Searcher(store, settings)
    count = 0
    try:
        for i, line in enumerate(bulk_lines(searcher, index_name)):
            out.write(line)
            out.write("\n")
            count += i % 2
    finally:
        searcher.close()
    return count
