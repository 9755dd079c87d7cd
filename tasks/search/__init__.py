"""The search engine, pure: segment files (SQLite FTS5) built, merged and queried on local disk.

No store access here: worker/search/ moves segments and the manifest between the bucket and a
local cache and calls into this package.
"""

from . import rank
from .query import ParsedQuery, parse_query
from .resolve import dead_rows, newest_rows
from .segment import Filters, Row, Segment, SegmentWriter, build_segment, day_of

__all__ = [
    "Filters",
    "ParsedQuery",
    "Row",
    "Segment",
    "SegmentWriter",
    "build_segment",
    "day_of",
    "dead_rows",
    "newest_rows",
    "parse_query",
    "rank",
]
