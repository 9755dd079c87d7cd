"""readability-lxml's reading of a page, as lines of text: a second opinion on the article
(issue 10, not shipped: see bench/experiments/second_opinion.py for why).

readability-lxml (0.9) picks a page's main container by its own method (paragraph scores summed
into their parents, scaled by link density, then semantic <article>/<main> candidates, headings and
leads around it). It is the strongest single extractor on the issue-10 held-out news pages
(0.936 against trafilatura's 0.910) and on three of the six extraction sets, and it is wrong in
other places than trafilatura: second_opinion.py tries its text for the tail trim (instead of
trafilatura's port) and to add the paragraphs trafilatura missed (add_missing).

It runs on copydesk's own parsed tree (markup.py: no DTD, no entities, no network, within the
parse limits), never on the markup: `FastDocument` takes the tree as readability-lxml's
`Document` does, and leaves out work that does not change the text it returns:
- the lxml cleaner runs without its javascript pass (which rewrites every link and drops on*
  attributes: a fifth of readability's time) and the page's base href is not resolved;
- within one scoring pass each element's text length (readability's whitespace-collapsing regexes
  over the element's whole text) is computed once instead of once per enclosing candidate;
- the summary's attributes are dropped by name (width, height, style, ...color, background...,
  o/on) instead of readability's regex loop over the serialised HTML, which rescans the whole
  summary once per attribute removed.
- scoring collapses whitespace with str.split instead of readability's three regexes, without a
  debug line formatted per candidate, and computes each element's text length once;
- remove_unlikely_candidates visits only the elements with a class or an id.
Over the 1,183 pages of the six sets its lines are identical to readability-lxml's own
(second_opinion.py checks it) at about half the CPU time (22.8 vs 47.0 ms a page, every third
page, load ~5). On a tree within copydesk's parse limits: no network, no entities.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from copy import deepcopy
from typing import Any

from lxml import etree, html as lxml_html
from lxml_html_clean import Cleaner
from readability.readability import REGEXES, Document

from tasks.cleaning.agreement import NGRAM, words
from tasks.cleaning.normalize import normalize_inline
from tasks.cleaning.result import Block

#: readability-lxml's cleaner (readability/cleaners.py) without the javascript pass.
CLEANER = Cleaner(
    scripts=True,
    javascript=False,
    comments=True,
    style=True,
    links=True,
    meta=False,
    add_nofollow=False,
    page_structure=False,
    processing_instructions=True,
    embedded=False,
    frames=False,
    forms=False,
    annoying_tags=False,
    remove_unknown_tags=False,
    safe_attrs_only=False,
)
#: The attribute names readability's clean_attributes removes. Matched from the start of a name
#: (bounded by the markup): `[-a-z]*color` backtracks at most once over the name.
BAD_ATTRIBUTE_RE = re.compile(r"(?:width|height|style|[-a-z]*color|background[-a-z]*|on*)\Z")
#: Elements that start a line of the text (as bench/clean.py reads readability-lxml's summary).
LINE_TAGS = frozenset({
    "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "td", "th", "tr", "table", "h1", "h2", "h3", "h4", "h5",
    "h6", "br", "pre", "blockquote", "section", "article",
})


def text_length(element: Any) -> int:
    """readability's text_length: the length of the element's text with whitespace collapsed.
    readability's three regexes keep a few runs longer than one character (tabs, NBSP next to a
    space, runs without a newline of other spaces); this counts every run as one, with str.split
    at C speed: the link densities move by a few characters in thousands."""
    return len(" ".join(element.text_content().split()))


class FastDocument(Document):
    """readability-lxml's Document on an lxml tree, without the text-neutral work (module doc).
    Like Document, it drops the hidden elements of the tree it is given: pass one you no longer
    need as it is."""

    _lengths: dict[Any, int] | None = None

    def _parse(self, input: Any) -> Any:
        self.encoding = "utf-8"
        for element in input.xpath("//*[@hidden]"):
            element.drop_tree()
        for element in input.xpath("//*[@style]"):
            if REGEXES["displayNoneRe"].search(element.get("style")):
                element.drop_tree()
        doc = deepcopy(input)  # a retry parses the input again
        CLEANER(doc)
        return doc

    def score_paragraphs(self) -> Any:
        """readability's scoring: each paragraph's text scores its parent and grandparent, the
        scores then scaled by link density. Whitespace collapsed by str.split (text_length), no
        debug line formatted per candidate, each element's text length computed once."""
        self._lengths = {}
        try:
            candidates: dict[Any, dict[str, Any]] = {}
            ordered = []
            for elem in self.tags(self._html(), "p", "pre", "td", "blockquote"):
                parent = elem.getparent()
                if parent is None:
                    continue
                grand_parent = parent.getparent()
                inner_text = " ".join(elem.text_content().split())
                if len(inner_text) < self.min_text_length:
                    continue
                if parent not in candidates:
                    candidates[parent] = self.score_node(parent)
                    ordered.append(parent)
                if grand_parent is not None and grand_parent not in candidates:
                    candidates[grand_parent] = self.score_node(grand_parent)
                    ordered.append(grand_parent)
                content_score = 1 + len(inner_text.split(",")) + min(len(inner_text) / 100, 3)
                candidates[parent]["content_score"] += content_score
                if grand_parent is not None:
                    candidates[grand_parent]["content_score"] += content_score / 2.0
            for elem in ordered:
                candidates[elem]["content_score"] *= 1 - self.get_link_density(elem)
            return candidates
        finally:
            self._lengths = None

    def remove_unlikely_candidates(self) -> None:
        """readability's, visiting only the elements with a class or an id (the others it skips)."""
        unlikely, maybe = REGEXES["unlikelyCandidatesRe"], REGEXES["okMaybeItsACandidateRe"]
        for elem in self.html.xpath("//*[@class or @id]"):
            s = "{} {}".format(elem.get("class", ""), elem.get("id", ""))
            if (
                len(s) >= 2
                and unlikely.search(s)
                and not maybe.search(s)
                and elem.tag not in ("html", "body")
                and not elem.xpath("ancestor-or-self::pre | ancestor-or-self::code")
                and not elem.xpath("descendant-or-self::main | descendant-or-self::article | descendant-or-self::math")
            ):
                elem.drop_tree()

    def get_link_density(self, elem: Any) -> float:
        lengths = self._lengths
        if lengths is None:  # outside score_paragraphs the tree changes between calls
            return float(super().get_link_density(elem))

        def length(element: Any) -> int:
            known = lengths.get(element)
            if known is None:
                known = lengths[element] = text_length(element)
            return known

        link_length = sum(length(anchor) for anchor in elem.iterfind(".//a"))
        return float(link_length) / max(length(elem), 1)

    def get_clean_html(self) -> str:
        node = self._html()
        for element in node.iter(etree.Element):
            for name in [name for name in element.attrib if BAD_ATTRIBUTE_RE.match(name)]:
                del element.attrib[name]
        return str(etree.tounicode(node, method="html"))


def readability_lines(tree: etree._Element) -> list[str]:
    """readability-lxml's summary of the page as lines of text, one per block; [] when it finds
    nothing or fails (no opinion, not a failed page). Drops the tree's hidden elements."""
    try:
        return summary_lines(lxml_html.fromstring(FastDocument(tree).summary(html_partial=True)))
    except Exception:
        return []


def summary_lines(root: etree._Element) -> list[str]:
    """The text of readability's summary, a line per block (LINE_TAGS), each character once."""
    pieces: list[str] = []
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else None  # None: a comment
        if tag in LINE_TAGS:
            pieces.append("\n")
        if event == "start" and tag is not None:
            pieces.append((element.text or "").replace("\n", " "))
        elif event == "end" and element is not root:
            pieces.append((element.tail or "").replace("\n", " "))
    lines = (normalize_inline(line) for line in "".join(pieces).split("\n"))
    return [line for line in lines if line]


#: readability's lines of at least this many words that the blocks lack are added ...
MISSING_MIN_WORDS = 20
#: ... when fewer than this share of their runs of NGRAM words occur in the blocks.
MISSING_MAX_KNOWN = 0.3


def runs(block_words: Sequence[str]) -> set[tuple[str, ...]]:
    """The block's runs of NGRAM words (all its words as one run when fewer)."""
    n = min(NGRAM, len(block_words))
    return {tuple(block_words[i : i + n]) for i in range(len(block_words) - n + 1)} if n else set()


def add_missing(blocks: list[Block], block_words: Sequence[Sequence[str]], lines: Sequence[str]) -> list[Block]:
    """The blocks with readability's lines that they lack: lines of at least MISSING_MIN_WORDS
    words, fewer than MISSING_MAX_KNOWN of whose word runs occur in the blocks. Each goes after
    the block that holds the last known run of readability's lines before it (first if none),
    so the article keeps readability's order. Linear: runs are looked up in a dict."""
    if not lines:
        return blocks
    # Every run of the blocks' words (across block boundaries too) -> the block it starts in.
    flat = [word for one in block_words for word in one]
    owner = [index for index, one in enumerate(block_words) for _ in one]
    where: dict[tuple[str, ...], int] = {}
    for i in range(len(flat) - NGRAM + 1):
        where.setdefault(tuple(flat[i : i + NGRAM]), owner[i])
    after: dict[int, list[Block]] = {}
    anchor = -1
    for line in lines:
        line_words = words(line)
        line_runs = runs(line_words)
        if not line_runs:
            continue
        known = [where[run] for run in line_runs if run in where]
        if len(line_words) >= MISSING_MIN_WORDS and len(known) < MISSING_MAX_KNOWN * len(line_runs):
            after.setdefault(anchor, []).append(Block(line))
        elif known:
            anchor = max(anchor, max(known))
    if not after:
        return blocks
    merged = list(after.get(-1, []))
    for index, block in enumerate(blocks):
        merged.append(block)
        merged.extend(after.get(index, []))
    return merged
