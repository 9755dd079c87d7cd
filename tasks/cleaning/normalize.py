"""Text normalisation shared by every cleaner: NFC, invisible characters, whitespace."""

from __future__ import annotations

import re
import unicodedata

#: Soft hyphen, zero-width space/joiners, word joiner, BOM, and the bidi marks pages sprinkle in.
INVISIBLE_RE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: Every run of horizontal whitespace, Unicode spaces included (NBSP, thin, ideographic...).
SPACE_RE = re.compile(r"[^\S\n]+")


def normalize_inline(text: str) -> str:
    """One paragraph: NFC, no invisible characters, single spaces, no line breaks. str.split
    splits on exactly the characters \\s matches (str.isspace), so joining its words is the
    same as collapsing SPACE_RE's runs and the line breaks, then stripping; ASCII text is NFC
    and has no invisible characters."""
    if not text.isascii():
        text = INVISIBLE_RE.sub("", unicodedata.normalize("NFC", text))
    return " ".join(text.split())


def normalize_line(text: str) -> str:
    """One line of plain text: like normalize_inline but the caller has already split lines."""
    return normalize_inline(text)
