"""Index: the article's index document, the unit the search index is built from."""

from __future__ import annotations

import hashlib

from ..article import Article
from ..stage import Stage

INDEX_SCHEMA_VERSION = 1


def document_id(bucket: str, key: str) -> str:
    """Stable id of an article across versions: the same input key is the same document."""
    return hashlib.sha1(f"{bucket}/{key}".encode()).hexdigest()


class BuildIndexDocument(Stage):
    name = "index"
    version = "1"

    def action(self, article: Article) -> None:
        src = article.source
        article.index_document = {
            "schema": INDEX_SCHEMA_VERSION,
            "id": document_id(src.bucket, src.key),
            "title": article.title,
            "text": article.text,
            "language": (article.language or {}).get("code"),
            "topics": [t["label"] for t in article.topics[:1]] if not article.topic_uncertain else [],
            "topic_scores": article.topics,
            "published": article.published,
            "url": article.url,
            "site_name": article.site_name,
            "byline": article.byline,
            "source_key": src.key,
            "bucket": src.bucket,
            "etag": src.etag,
        }
