"""readability-lxml's reading of a page, as lines of text: copydesk's second opinion (issue 10).

readability-lxml picks a page's main container by its own method (paragraph scores summed into
their parents, scaled by link density, then semantic <article>/<main> candidates, headings and
leads around it). It is wrong in other places than trafilatura, and on news pages it has not seen
it is the stronger of the two (issue 10's held-out news pages: 0.936 against 0.910). html.py uses
its lines twice: as the reference of the tail trim (agreement.py) and to add the long paragraphs
trafilatura missed (add_missing).

It runs on copydesk's own parsed tree (markup.py: no DTD, no entities, no network, within the
parse limits), after trafilatura and page_blocks are done with it, never on the markup. The tree
is changed in place. `FastDocument` is readability-lxml's `Document` without the work that does
not change the lines it returns (over the 1,183 pages of the six extraction sets its lines are
identical to stock readability-lxml's: bench/experiments/second_opinion_identity.py):
- no copy of the tree: the first pass cleans the tree it is given in place; a retry (readability
  runs a second, less ruthless pass when the first finds too little) parses the markup again,
  as readability does with its input;
- readability's cleaning (lxml_html_clean's Cleaner: scripts, styles, links, comments) is done
  by strip_elements, without the Cleaner's javascript pass (which rewrites every link and drops
  on* attributes) and without resolving the page's base href;
- misused <div>s (no block element inside) are found in one pass over the tree instead of
  serialising every <div>'s children (and every inline child) to search the markup for a tag;
- the summary is read as the tree readability built, not serialised and parsed again; its
  attributes are dropped by name instead of readability's regex loop over the serialised HTML
  (its length still decides the retry, as readability's does);
- scoring collapses whitespace with str.split instead of three regexes, without a debug line
  per candidate, and computes each element's text length once; elsewhere lengths are
  readability's exactly, in linear time (clean_length; readability's regexes backtrack
  quadratically in long runs of spaces), and sanitize computes each text and length once,
  forgotten when something below drops; a lead to a quote is judged once;
- remove_unlikely_candidates visits only elements with a class or an id; class and id verdicts
  and weights are computed once per string (ASCII ones lowercased, without IGNORECASE).

readability-lxml is therefore a runtime dependency (pyproject). This module subclasses its
Document (Apache-2.0): the methods overridden here follow readability-lxml 0.9's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from lxml import etree
from readability.readability import REGEXES, Document, is_video_url

from .agreement import MAX_SEARCH, NGRAM, ngrams, words
from .normalize import normalize_inline
from .result import Block

#: What readability-lxml's cleaner (readability/cleaners.py: lxml_html_clean's Cleaner with
#: scripts, comments, style, links and processing_instructions) removes from a tree of
#: copydesk's parser, which has no comments, processing instructions nor XHTML namespace: these
#: elements (their tails kept) and every style attribute. Its javascript pass, which rewrites
#: every link and drops on* attributes, changes no text.
KILLED_TAGS = ("script", "style", "link", etree.Comment, etree.ProcessingInstruction)


def clean(doc: Any) -> None:
    """readability-lxml's cleaning of the tree, in place, in C (strip_elements)."""
    for element in doc.iter("image"):
        element.tag = "img"
    etree.strip_elements(doc, *KILLED_TAGS, with_tail=False)
    etree.strip_attributes(doc, "style")


#: The attribute names readability's clean_attributes removes. Matched from the start of a name
#: (bounded by the markup): `[-a-z]*color` backtracks at most once over the name.
BAD_ATTRIBUTE_RE = re.compile(r"(?:width|height|style|[-a-z]*color|background[-a-z]*|on*)\Z")
#: Tags readability's divToPElementsRe finds in a <div>'s markup (`<` and one of these, so any tag
#: that starts with one: <p> but also <pre>, <param>, <picture>): such a <div> is no paragraph.
BLOCK_TAG_RE = re.compile(r"(?:blockquote|dl|div|img|ol|p|pre|table|ul)", re.IGNORECASE)
#: readability's inline tags: runs of them (and text) inside a <div> become paragraphs.
INLINE_TAGS = frozenset({"a", "b", "cite", "code", "em", "font", "i", "small", "span", "strong", "sub", "sup", "u"})
#: Elements that start a line of the text (as bench/clean.py reads readability-lxml's summary).
LINE_TAGS = frozenset({
    "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "td", "th", "tr", "table", "h1", "h2", "h3", "h4", "h5",
    "h6", "br", "pre", "blockquote", "section", "article",
})
#: readability's class and id patterns (lowercase literals, searched ignoring case), for ASCII
#: strings searched in the lowercased string without IGNORECASE: the same matches at a third of
#: the time (other strings go to readability's own pattern).
LOWER_PATTERNS = {
    name: re.compile(REGEXES[name].pattern)
    for name in ("unlikelyCandidatesRe", "okMaybeItsACandidateRe", "negativeRe", "positiveRe")
}


def matches(name: str, text: str) -> bool:
    """Whether readability's pattern `name` (LOWER_PATTERNS) occurs in text."""
    if text.isascii():
        return LOWER_PATTERNS[name].search(text.lower()) is not None
    return REGEXES[name].search(text) is not None


#: Elements whose text summary_lines leaves out.
FRAME_TAGS = frozenset({"iframe", "noframes"})
#: //*[@hidden or @style], in document order, found from the attributes (only the elements that
#: have one are gathered, not every element of the page to test each).
HIDDEN_XPATH = etree.XPath("//@hidden/.. | //@style/..")
NAMED_XPATH = etree.XPath("//*[@class or @id]")

#: readability's lines of at least this many words that the blocks lack are added ...
MISSING_MIN_WORDS = 20
#: ... when fewer than this share of their runs of NGRAM words occur in the blocks. Both chosen
#: leave-one-set-out (bench/experiments/second_opinion.py: 20 for four sets left out, 15 for two).
MISSING_MAX_KNOWN = 0.3


def text_length(element: Any) -> int:
    """readability's text_length: the length of the element's text with whitespace collapsed.
    readability's three regexes keep a few runs longer than one character (tabs, NBSP next to a
    space, runs without a newline of other spaces); this counts every run as one, with str.split
    at C speed: the link densities move by a few characters in thousands."""
    words = element.text_content().split()
    # len(" ".join(words)), without building the string.
    return sum(map(len, words)) + len(words) - 1 if words else 0


#: Runs of two or more whitespace characters: the only ones readability's clean changes in length.
RUNS_RE = re.compile(r"\s{2,}")
#: readability's last collapsing step (tabs, and runs of spaces and tabs, to one space).
TABS_RE = re.compile(r"\t|[ \t]{2,}")


def clean_length(text: str) -> int:
    """len(readability's clean(text)), in linear time. clean collapses whitespace with three
    regexes (runs of 255 or more to 255 spaces, runs holding a line break to one, tabs and runs
    of spaces and tabs to one space) whose backtracking costs quadratic time in a long run of
    spaces (a tenth of a second on some pages). Each maximal run collapses on its own: to one
    character when it is 255 long or holds a line break, else as the last step makes it; clean
    then strips what is left at either end."""

    def collapsed(run: str) -> int:
        return 1 if len(run) >= 255 or "\n" in run else len(TABS_RE.sub(" ", run))

    length = len(text)
    for run in RUNS_RE.findall(text):
        length -= len(run) - collapsed(run)
    if text[:1].isspace():
        stripped = text.lstrip()
        if not stripped:
            return 0
        length -= collapsed(text[: len(text) - len(stripped)])
    if text[-1:].isspace():
        length -= collapsed(text[len(text.rstrip()) :])
    return length


def element_length(element: Any) -> int:
    """readability's text_length(element): len(clean(its text)), by clean_length."""
    return clean_length(element.text_content() or "")


def _paragraph(near: Any) -> Any:
    """A new <p> of the tree's own element class (lxml.html's, as readability's are)."""
    return near.makeelement("p", {})


class FastDocument(Document):
    """readability-lxml's Document on copydesk's tree, without the text-neutral work (module
    doc). The tree given is changed in place; `reparse` gives a fresh one for a retry (when it
    gives None or fails, summary() raises and readability_lines has no opinion)."""

    summary_root: Any = None
    _lengths: dict[Any, int] | None = None

    def __init__(self, tree: Any, reparse: Callable[[], Any], **kwargs: Any):
        super().__init__(tree, **kwargs)
        self._reparse = reparse
        self._passes = 0
        self._weights: dict[str, int] = {}

    def _parse(self, input: Any) -> Any:
        self.encoding = "utf-8"
        self._passes += 1
        doc = input if self._passes == 1 else self._reparse()
        if doc is None:
            raise ValueError("no tree to read again")
        # readability drops the hidden elements, then those styled as not displayed: one pass
        # drops the same (an element inside one dropped is gone either way; tails join alike).
        for element in HIDDEN_XPATH(doc):
            if element.get("hidden") is not None or REGEXES["displayNoneRe"].search(element.get("style")):
                element.drop_tree()
        clean(doc)
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
                content_score = 1 + (inner_text.count(",") + 1) + min(len(inner_text) / 100, 3)
                candidates[parent]["content_score"] += content_score
                if grand_parent is not None:
                    candidates[grand_parent]["content_score"] += content_score / 2.0
            for elem in ordered:
                candidates[elem]["content_score"] *= 1 - self.get_link_density(elem)
            return candidates
        finally:
            self._lengths = None

    def remove_unlikely_candidates(self) -> None:
        """readability's, visiting only the elements with a class or an id (the others it skips),
        each class-and-id string's verdict computed once."""
        verdicts: dict[str, bool] = {}
        for elem in NAMED_XPATH(self.html):
            s = "{} {}".format(elem.get("class", ""), elem.get("id", ""))
            verdict = verdicts.get(s)
            if verdict is None:
                verdict = verdicts[s] = (
                    len(s) >= 2 and matches("unlikelyCandidatesRe", s) and not matches("okMaybeItsACandidateRe", s)
                )
            if (
                verdict
                and elem.tag not in ("html", "body")
                and not (elem.tag in ("pre", "code") or next(elem.iterancestors("pre", "code"), None) is not None)
                and next(elem.iter("main", "article", "math"), None) is None
            ):
                elem.drop_tree()

    def transform_misused_divs_into_paragraphs(self) -> None:
        """readability's: <div>s without a block element inside become <p>s, and runs of inline
        children and text inside the other <div>s are wrapped in <p>s. readability serialises
        each <div>'s children (and each inline child) and searches the markup for a block tag;
        here one pass over the tree marks the elements holding one (a block element below them)."""
        holding: set[Any] = set()
        for element in reversed(list(self.html.iter(etree.Element))):
            parent = element.getparent()
            if parent is not None and (element in holding or BLOCK_TAG_RE.match(element.tag)):
                holding.add(parent)
        # Turning a <div> into a <p> changes no verdict: both are block tags.
        for elem in self.tags(self.html, "div"):
            if elem not in holding:
                elem.tag = "p"
        for elem in self.tags(self.html, "div"):
            children = list(elem)
            paragraph = None
            if elem.text and elem.text.strip():
                p = _paragraph(elem)
                p.text = elem.text
                elem.text = None
                elem.insert(0, p)
                paragraph = p
            for child in children:
                if child.tag == "br":
                    paragraph = None
                    continue
                # An inline child is no block itself: it is one when it holds one. Its subtree
                # is unchanged since the pass above (the <div>s inside it made it a holder).
                if child.tag not in INLINE_TAGS or child in holding:
                    paragraph = None
                    continue
                if paragraph is None:
                    paragraph = _paragraph(elem)
                    child.addprevious(paragraph)
                paragraph.append(child)
            for pos, child in reversed(list(enumerate(elem))):
                if child.tail and child.tail.strip():
                    p = _paragraph(elem)
                    p.text = child.tail
                    child.tail = None
                    elem.insert(pos + 1, p)
                if child.tag == "br":
                    child.drop_tree()

    def class_weight(self, e: Any) -> int:
        """readability's (no keywords of our own), each class or id string's weight computed once."""
        weight = 0
        for feature in (e.get("class", None), e.get("id", None)):
            if feature:
                known = self._weights.get(feature)
                if known is None:
                    known = self._weights[feature] = -25 * matches("negativeRe", feature) + 25 * matches(
                        "positiveRe", feature
                    )
                weight += known
        return weight

    def get_preserved_elements(self, node: Any) -> dict[Any, bool]:
        """readability's: tables of contents, and <div>s and <section>s in (or being) a lead to
        a quote (text ending in ":" before a sibling holding a <blockquote>). Each lead is judged
        once (readability judges every ancestor again for every <div> below it), and its text
        measured (clean_length) only when it ends in ":" (readability's collapsing keeps the
        last character that is not a space)."""
        allowed = {elem: True for elem in self.tags(node, "ul") if self.is_toc_list(elem)}
        verdicts: dict[Any, bool] = {}

        def quote_lead(lead: Any) -> bool:
            verdict = verdicts.get(lead)
            if verdict is None:
                following = lead.getnext()
                verdict = False
                if following is not None and next(following.iterdescendants("blockquote"), None) is not None:
                    text = lead.text_content() or ""
                    verdict = text.rstrip().endswith(":") and clean_length(text) >= self.min_text_length
                verdicts[lead] = verdict
            return verdict

        for elem in self.tags(node, "div", "section"):
            if quote_lead(elem) or any(quote_lead(lead) for lead in elem.iterancestors()):
                allowed[elem] = True
        return allowed

    def sanitize(self, node: Any, candidates: Any, keep_all_images: bool = False) -> str:
        """readability's, with the conditional cleaning's texts and their lengths (readability's
        own whitespace collapsing: these lengths decide drops at a few characters, 25, 75) computed
        once per element, forgotten for its ancestors only when something below them is dropped;
        the element counts taken in one pass, no debug line per element."""
        min_len = self.min_text_length
        for header in self.tags(node, "h1", "h2", "h3", "h4", "h5", "h6"):
            if self.class_weight(header) < 0 or self.get_link_density(header) > 0.33:
                header.drop_tree()
        for elem in self.tags(node, "p"):
            if REGEXES["callToActionRe"].search(elem.text_content()) and self.get_link_density(elem) > 0.2:
                elem.drop_tree()
        for elem in self.tags(node, "form", "textarea"):
            elem.drop_tree()
        for elem in self.tags(node, "iframe"):
            if "src" in elem.attrib and is_video_url(elem.attrib["src"]):
                elem.attrib.pop("srcdoc", None)
                elem.text = "VIDEO"
            else:
                elem.drop_tree()
        allowed = self.get_preserved_elements(node)
        texts: dict[Any, str] = {}
        lengths: dict[Any, int] = {}

        def text(element: Any) -> str:
            known = texts.get(element)
            if known is None:
                known = texts[element] = element.text_content()
            return known

        def length(element: Any) -> int:
            known = lengths.get(element)
            if known is None:
                known = lengths[element] = clean_length(text(element))
            return known

        def drop(element: Any) -> None:
            for ancestor in element.iterancestors():
                texts.pop(ancestor, None)
                lengths.pop(ancestor, None)
            element.drop_tree()

        for el in self.reverse_tags(node, "table", "ul", "div", "aside", "header", "footer", "section"):
            if el in allowed:
                continue
            weight = self.class_weight(el)
            content_score = candidates[el]["content_score"] if el in candidates else 0
            tag = el.tag
            if weight + content_score < 0:
                drop(el)
            elif text(el).count(",") < 10:
                counts = dict.fromkeys(("p", "img", "li", "a", "embed", "input"), 0)
                hidden_inputs = 0
                for below in el.iterdescendants("p", "img", "li", "a", "embed", "input"):
                    counts[below.tag] += 1
                    if below.tag == "input" and below.get("type") == "hidden":
                        hidden_inputs += 1
                counts["li"] -= 100
                counts["input"] -= hidden_inputs
                content_length = length(el)
                link_length = sum(length(anchor) for anchor in el.iterfind(".//a"))
                link_density = float(link_length) / max(content_length, 1)
                if keep_all_images and el.tag == "div" and counts["img"] >= 1:
                    continue
                in_article = tag in ("ul", "section") and next(el.iterancestors("main", "article"), None) is not None
                to_remove = bool(
                    (counts["p"] and counts["img"] > 1 + counts["p"] * 1.3)
                    or (counts["li"] > counts["p"] and tag not in ("ol", "ul"))
                    or counts["input"] > counts["p"] / 3
                    or (content_length < min_len and (counts["img"] == 0 or counts["img"] > 2))
                    or (weight < 25 and link_density > (0.25 if in_article else 0.2))
                    or (weight >= 25 and link_density > 0.5)
                    or (counts["embed"] == 1 and content_length < 75)
                    or counts["embed"] > 1
                )
                if not to_remove and not content_length:
                    to_remove = True
                    # readability keeps it when its first non-empty sibling after and before it
                    # (one each) hold over 1000 characters together
                    siblings = []
                    for sib in el.itersiblings():
                        if length(sib):
                            siblings.append(length(sib))
                            break
                    for sib in el.itersiblings(preceding=True):
                        if length(sib):
                            siblings.append(length(sib))
                            break
                    if siblings and sum(siblings) > 1000:
                        to_remove = False
                        for desnode in self.tags(el, "table", "ul", "div", "section"):
                            allowed[desnode] = True
                if to_remove:
                    drop(el)
        self.html = node
        return self.get_clean_html()

    def add_heading_preamble(self, candidates: Any, best_elem: Any, score_threshold: float) -> None:
        """readability's, its text length by clean_length (the same number in linear time)."""
        previous = best_elem.getprevious()
        if previous is None or previous in candidates:
            return
        if previous.tag != "h2" and not previous.findall(".//h2"):
            return
        if element_length(previous) < self.min_text_length:
            return
        if self.get_link_density(previous) > 0.2:
            return
        candidates[previous] = {"content_score": score_threshold, "elem": previous}

    def select_best_candidate(self, candidates: Any) -> Any:
        """readability's, its text lengths by clean_length (the same numbers in linear time),
        without the debug line it formats for each of the top 5."""
        if not candidates:
            return None
        sorted_candidates = sorted(candidates.values(), key=lambda x: x["content_score"], reverse=True)
        best_candidate = sorted_candidates[0]
        article_body_candidates = [
            candidate
            for candidate in sorted_candidates
            if "articleBody" in (candidate["elem"].get("itemprop") or "").split()
            and self.get_link_density(candidate["elem"]) <= 0.1
        ]
        if article_body_candidates:
            best_candidate = article_body_candidates[0]
        descendants = set(best_candidate["elem"].iterdescendants())
        nested_articles = [
            candidate
            for candidate in sorted_candidates
            if candidate["elem"].tag == "article"
            and candidate["elem"] in descendants
            and element_length(candidate["elem"]) >= 250
            and candidate["content_score"] >= best_candidate["content_score"] * 0.25
        ]
        if nested_articles:
            best_candidate = nested_articles[0]
        return best_candidate

    def get_semantic_main_candidate(self, candidates: Any, best_candidate: Any) -> Any:
        """readability's, its text lengths by clean_length (the same numbers in linear time: on
        one page of the six extraction sets readability's regexes took 55 ms for the two)."""
        best_elem = best_candidate["elem"]
        ancestors = tuple(best_elem.iterancestors())
        if any(elem.tag == "article" for elem in (best_elem,) + ancestors):
            return best_candidate
        main = next((elem for elem in ancestors if elem.tag == "main"), None)
        if main is None or element_length(main) < max(500, element_length(best_elem) * 2):
            return best_candidate
        if self.get_link_density(main) > 0.15:
            return best_candidate
        candidate = self.score_node(main)
        candidates[main] = candidate
        return candidate

    def get_link_density(self, elem: Any) -> float:
        lengths = self._lengths
        if lengths is None:  # outside score_paragraphs the tree changes between calls: exact
            link_length = sum(clean_length(anchor.text_content() or "") for anchor in elem.findall(".//a"))
            return float(link_length) / max(clean_length(elem.text_content() or ""), 1)

        def length(element: Any) -> int:
            known = lengths.get(element)
            if known is None:
                known = lengths[element] = text_length(element)
            return known

        link_length = sum(length(anchor) for anchor in elem.iterfind(".//a"))
        return float(link_length) / max(length(elem), 1)

    def get_clean_html(self) -> str:
        """The summary's tree, kept as summary_root, without readability's unwanted attributes;
        its markup is returned for its length only (readability retries below retry_length)."""
        node = self._html()
        for element in node.iter(etree.Element):
            for name in [name for name in element.attrib if BAD_ATTRIBUTE_RE.match(name)]:
                del element.attrib[name]
        self.summary_root = node
        return str(etree.tounicode(node, method="html"))


def readability_lines(tree: Any, reparse: Callable[[], Any]) -> list[str]:
    """readability-lxml's summary of the page as lines of text, one per block; [] when it finds
    nothing or fails (no opinion, not a failed page). Changes the tree in place; `reparse`
    gives the page's tree again for readability's retry."""
    try:
        document = FastDocument(tree, reparse)
        document.summary(html_partial=True)
        return summary_lines(document.summary_root)
    except Exception:
        return []


def summary_lines(root: Any) -> list[str]:
    """The text of readability's summary, a line per block (LINE_TAGS), each character once;
    nothing of an <iframe> or <noframes> (readability marks video frames "VIDEO"; the fallback
    markup inside either is no article text)."""
    if root is None:
        return []
    pieces: list[str] = []
    framed = 0  # inside an <iframe> or <noframes>
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else None  # None: a comment
        if tag in FRAME_TAGS:
            framed += 1 if event == "start" else -1
        if tag in LINE_TAGS:
            pieces.append("\n")
        if event == "start" and tag is not None and not framed:
            pieces.append((element.text or "").replace("\n", " "))
        elif event == "end" and element is not root and not framed:
            pieces.append((element.tail or "").replace("\n", " "))
    lines = (normalize_inline(line) for line in "".join(pieces).split("\n"))
    return [line for line in lines if line]


def runs(block_words: Sequence[str]) -> set[tuple[str, ...]]:
    """The block's runs of NGRAM words (all its words as one run when fewer)."""
    n = min(NGRAM, len(block_words))
    return set(ngrams(block_words, n)) if n else set()


def add_missing(
    blocks: list[Block],
    block_words: Sequence[Sequence[str]],
    lines: Sequence[str],
    lines_words: Sequence[Sequence[str]] | None = None,
) -> list[Block]:
    """The blocks with readability's lines that they lack: lines of at least MISSING_MIN_WORDS
    words, fewer than MISSING_MAX_KNOWN of whose word runs occur in the blocks. Each goes after
    the block that holds the last known run of readability's lines before it (first if none),
    so the article keeps readability's order. Linear: runs are looked up in a dict. `lines_words`:
    the lines' words (agreement.words), when the caller has them."""
    if not lines:
        return blocks
    # A line whose words occur in a row in the blocks has all its runs known: only the others
    # can be added, and without one the blocks stay as they are (the common case, found by
    # string search at C speed).
    # Bounded as agreement.Reference.shares: beyond MAX_SEARCH characters compared, no shortcut.
    if lines_words is None:
        lines_words = [words(line) for line in lines]
    long_lines = [line_words for line_words in lines_words if len(line_words) >= MISSING_MIN_WORDS]
    if not long_lines:
        return blocks
    flat = [word for one in block_words for word in one]
    text = " " + " ".join(flat) + " "
    if len(long_lines) * len(text) <= MAX_SEARCH and all(f" {' '.join(w)} " in text for w in long_lines):
        return blocks
    # Every run of the blocks' words (across block boundaries too) -> the block it starts in.
    owner = [index for index, one in enumerate(block_words) for _ in one]
    # (Built backwards, so that the first block a run starts in is the one that stays.)
    starts = list(ngrams(flat, NGRAM))
    where = dict(zip(reversed(starts), reversed(owner[: len(starts)]), strict=True))
    after: dict[int, list[Block]] = {}
    anchor = -1
    for line, line_words in zip(lines, lines_words, strict=True):
        if len(line_words) < MISSING_MIN_WORDS:
            # Not added: it only moves the anchor, to the last block any of its runs starts in
            # (a line of fewer than NGRAM words has no run of NGRAM: none is known).
            found = [index for index in map(where.get, ngrams(line_words, NGRAM)) if index is not None]
            if found:
                anchor = max(anchor, max(found))
            continue
        line_runs = runs(line_words)
        known = [index for index in map(where.get, line_runs) if index is not None]
        if len(known) < MISSING_MAX_KNOWN * len(line_runs):
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
