"""Rendering of the highlight markers that segments put around matched words in snippets."""

from __future__ import annotations

import html

from .segment import HIGHLIGHT_END, HIGHLIGHT_START

ANSI_BOLD = ("\x1b[1m", "\x1b[0m")
MARKDOWN = ("**", "**")
HTML_MARK = ("<mark>", "</mark>")


def render(snippet: str, start: str, end: str) -> str:
    return snippet.replace(HIGHLIGHT_START, start).replace(HIGHLIGHT_END, end)


def render_html(snippet: str) -> str:
    """Escaped text with <mark> around the matches, safe to put into a page."""
    escaped = html.escape(snippet, quote=False)
    return render(escaped, *HTML_MARK)


def highlighted_words(snippet: str) -> list[str]:
    """The matched words in a snippet, in order."""
    words = []
    rest = snippet
    while HIGHLIGHT_START in rest:
        _, _, rest = rest.partition(HIGHLIGHT_START)
        word, _, rest = rest.partition(HIGHLIGHT_END)
        words.append(word)
    return words
