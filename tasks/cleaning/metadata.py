"""Metadata of an article: title, byline, published date, canonical URL, site name.

For HTML, trafilatura's metadata pass (meta tags, JSON-LD, visible bylines and dates) is the
source; here its values are tidied: authors become a list, dates ISO 8601, URLs absolute
http(s) only, and nothing is filled in from a guess — a value that is not there stays None.
"""

from __future__ import annotations

import re
from datetime import datetime

from .normalize import normalize_inline
from .result import Metadata

AUTHOR_SPLIT_RE = re.compile(r"\s*(?:;|\||\band\b|&|,(?=\s*\S+\s+\S+))\s*")
AUTHOR_PREFIX_RE = re.compile(r"^(?:by|von|par|por|di|door)\s+", re.IGNORECASE)
#: Author values that are not people.
NOT_AUTHORS = {"admin", "staff", "editor", "redaktion", "unknown", "null", "none"}
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
#: Date shapes seen in news metadata, tried in order; ISO 8601 first.
DATE_FORMATS = ("%Y%m%dT%H%M%S%z", "%Y%m%dT%H%M%S", "%Y%m%d", "%Y-%m-%d")
ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def metadata_from_html(tree, document) -> Metadata:
    if document is None:
        return Metadata()
    return Metadata(
        title=clean_title(document.title),
        byline=split_authors(document.author),
        published=normalise_date(document.date),
        url=clean_url(document.url),
        site_name=normalize_inline(document.sitename) if document.sitename else None,
    )


def clean_title(title: str | None) -> str | None:
    if not title:
        return None
    return normalize_inline(title) or None


def split_authors(author: str | None) -> list[str] | None:
    if not author:
        return None
    names = []
    for part in AUTHOR_SPLIT_RE.split(normalize_inline(author)):
        name = AUTHOR_PREFIX_RE.sub("", part).strip(" ,.")
        if name and name.lower() not in NOT_AUTHORS and name not in names:
            names.append(name)
    return names or None


def clean_url(url: str | None) -> str | None:
    if not url:
        return None
    url = url.strip()
    return url if URL_RE.match(url) else None


def normalise_date(value: str | None) -> str | None:
    """An ISO 8601 date or date-time string, or None when the value is no date we can read."""
    if not value:
        return None
    value = value.strip()
    if ISO_DATE_RE.match(value):
        return value.replace(" ", "T", 1)
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).isoformat()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        return None
