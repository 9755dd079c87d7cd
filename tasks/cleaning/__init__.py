"""Article cleaning: main text and metadata out of HTML, XML and plain text, boilerplate dropped.

Entry point: `clean_document(content, media_type)` returning a `Cleaned` result. The clean stage
(tasks/stages/clean.py) maps it onto the Article.
"""

from .markup import DEFAULT_LIMITS, ParseLimits
from .result import Block, Cleaned, Metadata

__all__ = ["Block", "Cleaned", "Metadata", "ParseLimits", "clean_document"]


def clean_document(content: str, media_type: str | None, limits: ParseLimits = DEFAULT_LIMITS) -> Cleaned:
    """Clean one decoded document; raises BadInput for no text, malformed markup or markup
    beyond the parse limits."""
    if media_type == "html":
        from .html import clean_html

        return clean_html(content, limits)
    if media_type == "xml":
        from .xml import clean_xml

        return clean_xml(content, limits)
    from .text import clean_text

    return clean_text(content)
