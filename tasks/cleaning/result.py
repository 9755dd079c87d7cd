"""What the cleaners produce: blocks of text with their kind, and the metadata found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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


#: The two readings of an HTML page the judge (judge.py) picks from.
V11_READING = "trafilatura"
READABILITY_READING = "readability"


@dataclass(frozen=True)
class Verdict:
    """Which reading won and why: the agreement of the judge's text with each reading; or why
    the judge was not asked (the readings are alike) or gave no opinion (it found no text, or
    failed: v11's reading then, agreements None)."""

    reading: str = V11_READING
    #: Shingle F1 of the judge's text with copydesk's v11 reading and with readability's.
    agrees_v11: float | None = None
    agrees_readability: float | None = None
    #: "same_text": the two readings have the same words (a quarter of the bench pages), so no
    #: judge is needed; "too_long": a reading, the markup or the judge's text is over judge's
    #: JUDGE_MAX_CHARS or JUDGE_MAX_MARKUP_CHARS (cost bounds); "no_text": resiliparse found no text.
    skipped: str | None = None
    #: The judge failed: "no_judge" (resiliparse not installed) or the class of its error.
    failure: str | None = None

    def as_log(self) -> dict[str, Any]:
        """The verdict as log fields."""
        fields: dict[str, Any] = {"reading": self.reading}
        if self.agrees_v11 is not None and self.agrees_readability is not None:
            fields["agrees_v11"] = round(self.agrees_v11, 4)
            fields["agrees_readability"] = round(self.agrees_readability, 4)
        if self.skipped:
            fields["judge_skipped"] = self.skipped
        if self.failure:
            fields["judge_failure"] = self.failure
        return fields


@dataclass
class Cleaned:
    paragraphs: list[str]
    metadata: Metadata
    removed: list[str] = field(default_factory=list)
    #: HTML: which reading the judge picked and why (judge.py); None when there was no choice.
    verdict: Verdict | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)
