"""XML news formats → article paragraphs and metadata, parsed safely (no entities, no network).

Supported: NITF (body.content, hedline, byline, date.issue, doc-id), NewsML-G2 (newsItem with
contentMeta/headline, by, contentCreated/firstCreated, inlineXML holding XHTML or NITF), and
generic XHTML (handed to the HTML extractor after safe XML parsing). Namespaces vary between
producers, so elements are matched by local name.
"""

from __future__ import annotations

from lxml import etree

from ..article import BadInput
from .boilerplate import filter_blocks
from .markup import DEFAULT_LIMITS, ParseLimits, parse_xml
from .normalize import normalize_inline
from .result import Block, Cleaned, Metadata

#: Elements whose text is a paragraph of the body, by local name.
PARAGRAPH_NAMES = {"p", "hl2", "h2", "h3", "h4", "li", "blockquote", "pre"}
BODY_NAMES = ("body.content", "inlineXML", "body")
HEADLINE_XPATH = etree.XPath(
    "(//*[local-name()='hedline']/*[local-name()='hl1'] | //*[local-name()='headline']"
    " | //*[local-name()='title'])[1]"
)
BYLINE_XPATH = etree.XPath(
    "//*[local-name()='byline'] | //*[local-name()='contentMeta']/*[local-name()='by']"
    " | //*[local-name()='creator']/*[local-name()='name']"
)
#: NITF marks the names in a byline: "By <person>A. Writer</person>, Health Correspondent".
PERSON_XPATH = etree.XPath("./*[local-name()='person']")
#: NITF's end matter (taglines, bibliographies): not the article; counted as removed lines.
BODY_END_XPATH = etree.XPath("//*[local-name()='body.end']")
#: Publication date sources, most specific first (an XPath union would return document order).
DATE_XPATHS = tuple(
    etree.XPath(path)
    for path in (
        "//*[local-name()='date.issue']/@norm",
        "//*[local-name()='contentCreated']",
        "//*[local-name()='firstCreated']",
        "//*[local-name()='versionCreated']",
    )
)
URL_XPATH = etree.XPath(
    "//*[local-name()='link'][@rel='canonical' or @rel='alternate' or @rel='irel:seeAlso']/@href"
    " | //*[local-name()='doc-id']/@id-string[starts-with(., 'http')]"
)
SITE_XPATH = etree.XPath("//*[local-name()='provider']/*[local-name()='name'] | //*[local-name()='provider']/@literal")


def local_name(element: etree._Element) -> str:
    tag = element.tag if isinstance(element.tag, str) else ""
    return etree.QName(tag).localname if tag else ""


def clean_xml(markup: str, limits: ParseLimits = DEFAULT_LIMITS) -> Cleaned:
    root = parse_xml(markup, limits)
    if local_name(root).lower() == "html":
        from .html import clean_html

        # Well-formed XHTML: the same extractor as HTML, the XML parse proved it safe.
        return clean_html(markup)
    body = find_body(root)
    if body is None:
        raise BadInput("no_text", f"no article body found in <{local_name(root)}> XML")
    blocks = paragraph_blocks(body)
    metadata = xml_metadata(root)
    kept, removed = filter_blocks(blocks, title=metadata.title)
    if not kept:
        raise BadInput("no_text", "the XML body holds no article text")
    end_matter = [line for end in BODY_END_XPATH(root) for line in _lines(end)]
    return Cleaned([b.text for b in kept], metadata, [b.text for b in removed] + end_matter)


def _lines(element: etree._Element) -> list[str]:
    """The text of `element` as lines: one per child element with text, or its whole text."""
    lines = [normalize_inline("".join(child.itertext())) for child in element if isinstance(child.tag, str)]
    lines = [line for line in lines if line]
    if not lines:
        text = normalize_inline("".join(element.itertext()))
        lines = [text] if text else []
    return lines


def find_body(root: etree._Element) -> etree._Element | None:
    for name in BODY_NAMES:
        for element in root.iter():
            if local_name(element) == name:
                return element
    return None


def paragraph_blocks(body: etree._Element) -> list[Block]:
    blocks = []
    for element in body.iter():
        name = local_name(element)
        if name in PARAGRAPH_NAMES and not any(local_name(a) in PARAGRAPH_NAMES for a in element.iterancestors()):
            text = normalize_inline("".join(element.itertext()))
            if text:
                kind = "item" if name == "li" else "heading" if name in {"hl2", "h2", "h3", "h4"} else "p"
                blocks.append(Block(text, kind))
    if not blocks:
        text = normalize_inline("".join(body.itertext()))
        if text:
            blocks.append(Block(text))
    return blocks


def _first_text(nodes) -> str | None:
    for node in nodes:
        text = normalize_inline(node if isinstance(node, str) else "".join(node.itertext()))
        if text:
            return text
    return None


def xml_metadata(root: etree._Element) -> Metadata:
    bylines: list[str] = []
    for node in BYLINE_XPATH(root):
        # The marked names when there are any, so that a job title after them is not a name.
        parts = PERSON_XPATH(node) or [node]
        for part in parts:
            text = normalize_inline("".join(part.itertext()))
            text = text[3:].strip() if text.lower().startswith("by ") else text
            if text and text not in bylines and not any(text in b for b in bylines):
                bylines.append(text)
    from .metadata import normalise_date

    return Metadata(
        title=_first_text(HEADLINE_XPATH(root)),
        byline=bylines or None,
        published=next(filter(None, (normalise_date(_first_text(x(root))) for x in DATE_XPATHS)), None),
        url=_first_text(URL_XPATH(root)),
        site_name=_first_text(SITE_XPATH(root)),
    )
