"""What flows through the stages: one article, its bytes, its metadata and what stages found.

Stages read and fill an Article; they never see Celery or the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class BadInput(Exception):
    """The input cannot be processed as it is: quarantine it with this reason, do not retry.

    reason is a short snake_case code (empty, binary, undecodable, too_large, malformed_markup,
    entity_declaration, no_text, ...); the message says what was seen, for a person.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Source:
    bucket: str
    key: str
    etag: str | None = None
    size: int = 0
    sha256: str | None = None
    version_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "etag": self.etag,
            "size": self.size,
            "sha256": self.sha256,
            "version_id": self.version_id,
        }


@dataclass
class Article:
    source: Source
    raw: bytes
    #: "html", "xml" or "text", set by the decode stage.
    media_type: str | None = None
    encoding: str | None = None
    #: The decoded document (markup for html/xml, the text itself for text).
    content: str | None = None

    # Filled by the clean stage.
    text: str = ""
    title: str | None = None
    byline: list[str] | None = None
    published: str | None = None
    url: str | None = None
    site_name: str | None = None
    removed_lines: int = 0
    removed_chars: int = 0
    #: The boilerplate lines that were dropped, for the log and the demo table (not the record).
    removed_samples: list[str] = field(default_factory=list)
    #: HTML: which reading the clean stage kept and why (its judge's verdict as log fields,
    #: tasks/cleaning/judge.py), for the log (not the record); None for other media types.
    reading: dict[str, Any] | None = None

    # Filled by the classify stages.
    language: dict[str, Any] | None = None
    topics: list[dict[str, Any]] = field(default_factory=list)
    topic_uncertain: bool | None = None
    topic_terms: list[str] = field(default_factory=list)

    # Filled by the index stage.
    index_document: dict[str, Any] | None = None

    timings_ms: dict[str, float] = field(default_factory=dict)
    #: Contained failures of optional stages, and of the clean stage's judge ("judge:ErrorClass"): {"stage", "error"}.
    notes: list[dict[str, str]] = field(default_factory=list)
