"""Article cleaning: main text and metadata out of HTML, XML and plain text, boilerplate dropped.

Entry point: `clean_document(content, media_type)` returning a `Cleaned` result. The clean stage
(tasks/stages/clean.py) maps it onto the Article.
"""

from .result import Block, Cleaned, Metadata

__all__ = ["Block", "Cleaned", "Metadata", "clean_document"]


def clean_document(content: str, media_type: str | None) -> Cleaned:
    """Clean one decoded document; raises BadInput for no text or malformed markup."""
    if media_type == "html":
        from .html import clean_html

        return clean_html(content)
    if media_type == "xml":
        from .xml import clean_xml

        return clean_xml(content)
    from .text import clean_text

    return clean_text(content)
