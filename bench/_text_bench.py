"""The plain-text benchmark: each page's ground-truth body set among that page's own boilerplate.

For every page of the HTML benchmark, the page's visible block texts (paragraphs, list items,
headings, cells) are listed in document order; the blocks just before the first and just after
the last block of the article body that are *not* in the ground truth (menus, bylines, share
bars, newsletter boxes, related links, footers) are put, one per line, before and after the
ground-truth body. A cleaner must give back the body; it is scored with the same metric.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from tasks.cleaning.markup import parse_html
from tasks.cleaning.normalize import normalize_inline

BLOCK_TAGS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "dt", "dd", "figcaption", "blockquote", "div", "span", "a", "button", "label"}
SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "head", "select", "option"}
BLOCK_XPATH = etree.XPath("//body//*")
HEAD_BLOCKS = 12
TAIL_BLOCKS = 20
TOKEN_RE = re.compile(r"\w+")


@dataclass
class TextCase:
    id: str
    text: str
    truth: str


def page_blocks(html: str) -> list[str]:
    tree = parse_html(html)
    if tree is None:
        return []
    blocks, seen = [], set()
    for element in BLOCK_XPATH(tree):
        if not isinstance(element.tag, str) or element.tag not in BLOCK_TAGS:
            continue
        if any(isinstance(a.tag, str) and a.tag in SKIP_TAGS for a in element.iterancestors()):
            continue
        if any(isinstance(c.tag, str) and c.tag in BLOCK_TAGS for c in element.iterdescendants()):
            continue
        text = normalize_inline(element.text_content())
        if text and text not in seen:
            seen.add(text)
            blocks.append(text)
    return blocks


def words(text: str) -> str:
    return " " + " ".join(TOKEN_RE.findall(text)) + " "


def build_text_cases(pages) -> list[TextCase]:
    cases = []
    for page in pages:
        truth_words = words(page.body)
        blocks = page_blocks(page.html)
        in_truth = [len(words(b)) > 2 and words(b) in truth_words for b in blocks]
        if not any(in_truth):
            continue
        first = in_truth.index(True)
        last = len(in_truth) - 1 - in_truth[::-1].index(True)
        head = [b for b, t in zip(blocks[max(0, first - HEAD_BLOCKS) : first], in_truth[max(0, first - HEAD_BLOCKS) : first], strict=True) if not t]
        tail = [b for b, t in zip(blocks[last + 1 : last + 1 + TAIL_BLOCKS], in_truth[last + 1 : last + 1 + TAIL_BLOCKS], strict=True) if not t]
        text = "\n".join(head + [line for line in page.body.splitlines() if line.strip()] + tail)
        cases.append(TextCase(page.id, text, page.body))
    return cases


#: The clean stage's first version: a keyword filter, kept here as the plain-text baseline.
V0_BOILERPLATE_LINE_RE = re.compile(
    r"\{\{.*?\}\}|^disclaimer:|subscribe|already a subscriber|already subscribed|log ?in\b|"
    r"newsletter|sign up|follow us|share (this|on)|download (our|the) app|^[₹$€£]\s?[\d,.]+|"
    r"/month$|^\d+ (months?|years?)$|renews automatically",
    re.IGNORECASE,
)


def keyword_filter_v0(text: str) -> str:
    kept = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not V0_BOILERPLATE_LINE_RE.search(line) and len(line.split()) >= 4
    ]
    return "\n\n".join(kept)
