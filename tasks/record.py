"""The record: what copydesk says about one processed article (`processed/R.json`)."""

from __future__ import annotations

from datetime import datetime, UTC
from typing import Any

from .article import Article, BadInput, Source

RECORD_SCHEMA = 1


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_record(
    article: Article,
    pipeline_version: str,
    *,
    task: dict[str, Any] | None = None,
    outputs: dict[str, str] | None = None,
    extra_timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    timings = dict(article.timings_ms)
    if extra_timings:
        timings.update(extra_timings)
    return {
        "schema": RECORD_SCHEMA,
        "source": article.source.as_dict(),
        "pipeline_version": pipeline_version,
        "title": article.title,
        "byline": article.byline,
        "published": article.published,
        "url": article.url,
        "site_name": article.site_name,
        "media_type": article.media_type,
        "encoding": article.encoding,
        "language": article.language,
        "topics": article.topics,
        "topic_uncertain": article.topic_uncertain,
        "topic_terms": article.topic_terms,
        "text": article.text,
        "words": len(article.text.split()),
        "removed": {"lines": article.removed_lines, "chars": article.removed_chars},
        "notes": article.notes,
        "timings_ms": timings,
        "outputs": outputs or {},
        "task": task or {"id": None, "attempts": 1},
        "processed_at": utc_now(),
    }


def build_quarantine(
    source: Source,
    pipeline_version: str,
    *,
    reason: str,
    error: BaseException,
    attempts: int,
    task_id: str | None = None,
) -> dict[str, Any]:
    message = error.message if isinstance(error, BadInput) else str(error)
    return {
        "schema": RECORD_SCHEMA,
        "reason": reason,
        "error_class": type(error).__name__,
        "message": message[:2000],
        "attempts": attempts,
        "source": source.as_dict(),
        "source_etag": source.etag,
        "pipeline_version": pipeline_version,
        "task": {"id": task_id, "attempts": attempts},
        "time": utc_now(),
    }
