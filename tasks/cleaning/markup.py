"""Safe lxml parsing: one parser per thread, no entity expansion, no network, bounded input.

Untrusted markup never gets a DTD loaded, an entity expanded or a URL fetched. A page's parse is
bounded by ParseLimits (settings COPYDESK_MAX_MARKUP_CHARS, COPYDESK_MAX_ELEMENTS,
COPYDESK_MAX_DEPTH, passed down as plain values): beyond them the page is refused with
BadInput "too_large", "too_many_elements" or "too_deep" (a quarantine reason), so no single
input takes a worker past a few hundred MB or seconds. The element bound is checked *before*
parsing, on the count of tag openings (`<` and a letter), an upper bound of what the parser
would build; libxml2's own depth limit (no huge_tree) stays underneath.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from lxml import etree, html as lxml_html

from ..article import BadInput



@dataclass(frozen=True)
class ParseLimits:
    """Bounds of one page's parse. The defaults are ~3-10x the largest page of the six
    extraction sets (2.2 M characters, 11,000 elements, 53 levels deep)."""

    #: Characters of markup (the decode stage bounds bytes; this bounds decoded characters).
    max_chars: int = 8_000_000
    #: Elements (tag openings counted before parsing): a million-tag page takes ~300 MB parsed.
    max_elements: int = 100_000
    #: Nesting depth; libxml2 also stops at 256 levels on its own (huge_tree=False).
    max_depth: int = 160


DEFAULT_LIMITS = ParseLimits()
#: A tag opening ("<" and a letter) is what makes the parser build an element.
TAG_OPENINGS = tuple("<" + chr(c) for c in [*range(ord("a"), ord("z") + 1), *range(ord("A"), ord("Z") + 1)])

XML_DECLARATION_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)

_local = threading.local()


def html_parser() -> lxml_html.HTMLParser:
    parser = getattr(_local, "html_parser", None)
    if parser is None:
        parser = lxml_html.HTMLParser(
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
            no_network=True,
            default_doctype=False,
            huge_tree=False,
        )
        # lxml.html's own class lookup is a Python method called for every element touched (a
        # tenth of the clean stage's time); the default lookup in C gives the same HtmlElement
        # (only form controls lose their form-specific subclasses, which nothing here uses).
        parser.set_element_class_lookup(
            etree.ElementDefaultClassLookup(
                element=lxml_html.HtmlElement, comment=lxml_html.HtmlComment, pi=lxml_html.HtmlProcessingInstruction
            )
        )
        _local.html_parser = parser
    return parser


def xml_parser() -> etree.XMLParser:
    parser = getattr(_local, "xml_parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        _local.xml_parser = parser
    return parser


def check_size(markup: str, limits: ParseLimits = DEFAULT_LIMITS) -> None:
    """Refuse markup over the character or element bound, before any parser sees it."""
    if len(markup) > limits.max_chars:
        raise BadInput("too_large", f"markup of {len(markup)} characters exceeds the limit of {limits.max_chars}")
    # str.count is a fast upper bound; the exact count of tag openings only when it is over.
    if markup.count("<") > limits.max_elements:
        tags = sum(markup.count(opening) for opening in TAG_OPENINGS)  # 52 memchr-speed passes
        if tags > limits.max_elements:
            raise BadInput(
                "too_many_elements", f"markup of {tags} tags exceeds the limit of {limits.max_elements} elements"
            )


def check_depth(root, limits: ParseLimits = DEFAULT_LIMITS) -> None:
    """Refuse a tree nested deeper than the limit (one pass over the elements)."""
    depth = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        if event == "start":
            depth += 1
            if depth > limits.max_depth:
                raise BadInput("too_deep", f"elements nested deeper than the limit of {limits.max_depth} levels")
        else:
            depth -= 1


_DEEPER_XPATHS: dict[int, etree.XPath] = {}


def check_element_depth(root, limits: ParseLimits = DEFAULT_LIMITS) -> None:
    """check_depth for a tree of elements only (the HTML parser keeps no comments, processing
    instructions or entity references): whether an element sits below max_depth levels, asked
    of libxml2 in one XPath (`/*/*/...`, a step per level; each step's node set is one level's
    elements, so the whole is one pass in C, a third of check_depth's time)."""
    deeper = _DEEPER_XPATHS.get(limits.max_depth)
    if deeper is None:
        deeper = _DEEPER_XPATHS[limits.max_depth] = etree.XPath("boolean(/" + "/".join(["*"] * (limits.max_depth + 1)) + ")")
    if deeper(root):
        raise BadInput("too_deep", f"elements nested deeper than the limit of {limits.max_depth} levels")


def parse_html(markup: str, limits: ParseLimits = DEFAULT_LIMITS):
    """Parse an HTML document within the limits; returns the root element or None when nothing
    parses; BadInput beyond the limits."""
    check_size(markup, limits)
    # lxml refuses str input that carries an encoding declaration.
    markup = XML_DECLARATION_RE.sub("", markup, count=1)
    try:
        root = lxml_html.document_fromstring(markup, parser=html_parser())
    except (etree.ParserError, ValueError):
        return None
    check_element_depth(root, limits)
    return root


def parse_xml(markup: str, limits: ParseLimits = DEFAULT_LIMITS):
    """Parse an XML document strictly; BadInput("malformed_markup") when it is not well formed,
    BadInput beyond the limits."""
    check_size(markup, limits)
    data = markup.encode("utf-8")
    data = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", data, count=1)
    try:
        root = etree.fromstring(data, parser=xml_parser())
    except etree.XMLSyntaxError as exc:
        raise BadInput("malformed_markup", f"the XML does not parse: {exc}") from None
    if root is None:
        raise BadInput("malformed_markup", "the XML has no root element")
    check_depth(root, limits)
    return root
