"""Safe lxml parsing: one parser per thread, no entity expansion, no network, bounded input.

Untrusted markup never gets a DTD loaded, an entity expanded or a URL fetched; documents beyond
MAX_MARKUP_CHARS are refused and libxml2's own depth limit (no huge_tree) bounds nesting.
"""

from __future__ import annotations

import re
import threading

from lxml import etree, html as lxml_html

from ..article import BadInput

#: Larger inputs are refused before parsing (the decode stage bounds bytes; this bounds chars).
MAX_MARKUP_CHARS = 20_000_000
# Nesting bound: with huge_tree=False libxml2 stops at 256 levels (XML: a syntax error that
# we report as malformed; HTML: deeper elements are flattened), so no tree walk is needed.

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


def check_size(markup: str) -> None:
    if len(markup) > MAX_MARKUP_CHARS:
        raise BadInput("too_large", f"markup of {len(markup)} characters exceeds {MAX_MARKUP_CHARS}")


def parse_html(markup: str):
    """Parse an HTML document; returns the root element or None when nothing parses."""
    check_size(markup)
    # lxml refuses str input that carries an encoding declaration.
    markup = XML_DECLARATION_RE.sub("", markup, count=1)
    try:
        root = lxml_html.document_fromstring(markup, parser=html_parser())
    except (etree.ParserError, ValueError):
        return None
    return root


def parse_xml(markup: str):
    """Parse an XML document strictly; BadInput("malformed_markup") when it is not well formed."""
    check_size(markup)
    data = markup.encode("utf-8")
    data = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", data, count=1)
    try:
        root = etree.fromstring(data, parser=xml_parser())
    except etree.XMLSyntaxError as exc:
        raise BadInput("malformed_markup", f"the XML does not parse: {exc}") from None
    if root is None:
        raise BadInput("malformed_markup", "the XML has no root element")
    return root
