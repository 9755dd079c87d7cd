"""What the cleaners produce: blocks of text with their kind, and the metadata found."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Block:
    """One paragraph-level unit of text, as found in the document."""

    text: str
    #: "p", "heading", "item" (list item), "row" (table row), "quote" or "line" (plain text).
    kind: str = "p"
    #: Share of the block's characters that sit inside links (0 for plain text).
    link_share: float = 0.0


@dataclass
class Metadata:
    title: str | None = None
    byline: list[str] | None = None
    published: str | None = None
    url: str | None = None
    site_name: str | None = None


@dataclass
class Cleaned:
    paragraphs: list[str]
    metadata: Metadata
    removed: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)
