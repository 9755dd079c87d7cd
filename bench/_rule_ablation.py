"""copydesk's HTML extraction with every block's verdict under the hand rules (which copydesk no
longer runs on HTML), so the bench can switch one rule off at a time."""

from __future__ import annotations

import trafilatura

from tasks.article import BadInput
from tasks.cleaning.boilerplate import explain
from tasks.cleaning.html import EXTRACT_OPTIONS, AnchorIndex, body_blocks
from tasks.cleaning.markup import parse_html
from tasks.cleaning.metadata import metadata_from_html

#: The block judgement's reasons (tasks/cleaning/boilerplate.py).
REASONS = ("headline", "standfirst", "link", "call_to_action", "dateline", "boilerplate_run")


def explained(html: str) -> list[tuple[str, str]]:
    """(block text, reason it is dropped or "" when kept) for every block trafilatura extracts."""
    try:
        tree = parse_html(html)
    except BadInput:
        return []
    if tree is None:
        return []
    anchors = AnchorIndex(tree)
    metadata, hints = metadata_from_html(tree)
    document = trafilatura.bare_extraction(tree, **EXTRACT_OPTIONS)
    blocks = body_blocks(document.body) if document is not None and document.body is not None else []
    for block in blocks:
        block.link_share = anchors.link_share(block.text)
    verdicts = explain(blocks, metadata.title, hints["description"], headline=hints["h1"])
    return [(b.text, "" if v.keep else v.reason) for b, v in zip(blocks, verdicts, strict=False)]
