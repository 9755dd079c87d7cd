"""Plain text → article paragraphs, with the same boilerplate judgement as HTML.

Lines are the unit: scraped text keeps one paragraph per line, while hard-wrapped text (lines
cut near a fixed width inside blank-line-separated paragraphs) is rejoined first. Blank lines
do not break a boilerplate run: a subscription box is often spread over several blocks.
"""

from __future__ import annotations

import re
import statistics

from ..article import BadInput
from .boilerplate import filter_blocks
from .linear import compile_linear
from .normalize import normalize_line
from .result import Block, Cleaned, Metadata

#: In plain text a boilerplate run also swallows longer non-sentence lines (feature lists of a
#: subscription box: "Over 30 premium stories daily, handpicked by our editors").
TEXT_SHARD_MAX_WORDS = 14
BLANK_SPLIT_RE = re.compile(r"\n[^\S\n]*\n")
SENTENCE_END_CHARS = frozenset(".!?…:;\"”»)")
#: A line of prose has at least this many words and ends like a sentence.
BODY_LINE_MIN_WORDS = 10
#: Hard wrapping: most lines of a paragraph end without punctuation and have similar widths.
WRAPPED_MIN_LINES = 4
WRAPPED_MAX_WIDTH_SPREAD = 0.25
#: A plain-text headline: a short line, not a sentence, not a menu ("Home | Sport | ...").
HEADLINE_MIN_WORDS = 3
HEADLINE_MAX_WORDS = 25
MENU_SEPARATOR_RE = re.compile(r"\s[|•·»›/]\s")
#: Text scraped without a parser keeps the page's scripts, styles and stray tags as lines. A line
#: is code when it starts as markup, or when code punctuation is dense and a code idiom is there
#: (prose with a bracket or the word "function" has neither the density nor the idioms).
#: Markup: an HTML tag, a tag with name="value" attributes, a comment. Not "<The Palace>", the
#: way Korean and Chinese news write a title.
HTML_TAG_NAMES = (
    "a|abbr|article|aside|audio|b|blockquote|body|br|button|canvas|caption|center|code|div|dl|dt|dd|em|embed|"
    "figcaption|figure|font|footer|form|h[1-6]|head|header|hr|html|i|iframe|img|input|ins|label|li|link|main|meta|"
    "nav|noscript|object|ol|option|p|param|picture|pre|script|section|select|small|source|span|strong|style|sub|"
    "sup|svg|table|tbody|td|textarea|tfoot|th|thead|time|title|tr|track|u|ul|video|wbr"
)
#: Both on RE2 (linear time): the markup pattern's `\s+[^<>]*=` quantifiers overlap.
MARKUP_LINE_RE = compile_linear(
    rf"^\s*<(?:/?(?:{HTML_TAG_NAMES})(?:\s[^<>]*)?/?|[a-zA-Z][\w:-]*\s+[^<>]*=\s*[\"'][^<>]*|!--.*?--|!\[CDATA\[.*)>",
    ignore_case=True,
)
CODE_IDIOM_RE = compile_linear(
    r"\bfunction\s*\w*\s*\(|\b(?:var|let|const)\s+[\w$]+\s*=|=>|\b(?:window|document|console)\.\w"
    r"|\.(?:push|addEventListener|getElementById|querySelector|createElement|cmd)\b|\$\(|\}\s*\)\s*;"
    r"|^\s*//|^\s*[.#@\w][\w\s.#:>,*()-]*\{[^{}]*:[^{}]*;"
)
CODE_PUNCTUATION = frozenset("{}();=<>[]|&$\\")
CODE_PUNCTUATION_SHARE = 0.05
#: Code is told from its first characters: a longer line (minified script) is judged on these.
CODE_PROBE_CHARS = 4_000


def clean_text(content: str) -> Cleaned:
    blocks = [Block(line, "line") for line in text_lines(content)]
    prose: list[Block] = []
    code: list[Block] = []
    for block in blocks:
        (code if is_code_line(block.text) else prose).append(block)
    kept, removed = filter_blocks(prose, shard_max_words=TEXT_SHARD_MAX_WORDS)
    removed = removed + code
    kept, trimmed = trim_edges(kept)
    title = headline(blocks, kept, trimmed)
    dropped = {id(b) for b in removed} | {id(b) for b in trimmed}
    removed = [b for b in blocks if id(b) in dropped]
    if not kept:
        raise BadInput("no_text", "no article text found in the plain text")
    return Cleaned([b.text for b in kept], Metadata(title=title), [b.text for b in removed if b.text != title])


def headline(blocks: list[Block], kept: list[Block], trimmed: list[Block]) -> str | None:
    """The title of a plain-text article: the last line trimmed before the first kept line,
    when it reads as a headline (a short line that is not a sentence and not a menu)."""
    if not kept:
        return None
    position = {id(b): i for i, b in enumerate(blocks)}
    first = position[id(kept[0])]
    leading = [b for b in trimmed if position[id(b)] < first]
    if not leading:
        return None
    candidate = leading[-1].text
    if not HEADLINE_MIN_WORDS <= len(candidate.split()) <= HEADLINE_MAX_WORDS:
        return None
    if MENU_SEPARATOR_RE.search(candidate) or candidate.rstrip().endswith((".", ":", ";", ",")):
        return None
    return candidate if candidate[:1].isupper() or candidate[:1].isdigit() else None


def is_code_line(text: str) -> bool:
    """A line of script, style sheet or markup rather than of the article."""
    text = text[:CODE_PROBE_CHARS]
    if MARKUP_LINE_RE.match(text):
        return True
    punctuation = sum(1 for ch in text if ch in CODE_PUNCTUATION)
    return punctuation >= CODE_PUNCTUATION_SHARE * len(text) and bool(CODE_IDIOM_RE.search(text))


def is_body_line(text: str) -> bool:
    """A line that reads as prose: enough words and a sentence ending."""
    return len(text.split()) >= BODY_LINE_MIN_WORDS and ends_sentence(text)


def ends_sentence(text: str) -> bool:
    stripped = text.rstrip()
    return bool(stripped) and stripped[-1] in SENTENCE_END_CHARS


def trim_edges(blocks: list[Block]) -> tuple[list[Block], list[Block]]:
    """Drop the non-sentence lines before the first and after the last line of prose.

    Scraped text keeps the page's menus, section names, bylines and related-story headlines
    around the article; none of them is a sentence. Inside the body such lines (subheadings)
    are kept.
    """
    prose = [i for i, b in enumerate(blocks) if is_body_line(b.text)]
    if not prose:
        return blocks, []
    first, last = prose[0], prose[-1]
    kept: list[Block] = []
    trimmed: list[Block] = []
    for i, block in enumerate(blocks):
        at_edge = i < first or i > last
        (trimmed if at_edge and not ends_sentence(block.text) else kept).append(block)
    return kept, trimmed


def text_lines(content: str) -> list[str]:
    content = content.replace("\r\n", "\n").replace("\r", "\n")
    raw_lines = [line for line in content.split("\n") if line.strip()]
    if looks_hard_wrapped(raw_lines):
        paragraphs = [" ".join(chunk.split("\n")) for chunk in BLANK_SPLIT_RE.split(content)]
    else:
        paragraphs = raw_lines
    return [line for line in (normalize_line(p) for p in paragraphs) if line]


def looks_hard_wrapped(lines: list[str]) -> bool:
    """Lines cut at a fixed width: many lines, similar lengths, most not ending a sentence."""
    long_lines = [line.rstrip() for line in lines if len(line.strip()) > 40]
    if len(long_lines) < WRAPPED_MIN_LINES:
        return False
    widths = [len(line) for line in long_lines]
    median = statistics.median(widths)
    similar = sum(abs(w - median) <= WRAPPED_MAX_WIDTH_SPREAD * median for w in widths) / len(widths)
    open_ended = sum(not ends_sentence(line) for line in long_lines) / len(long_lines)
    return median <= 100 and similar >= 0.8 and open_ended >= 0.5
