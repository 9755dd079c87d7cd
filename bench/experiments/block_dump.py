"""Block scorer, step 1: every page of the six extraction sets through trafilatura's full mode
(copydesk's options otherwise), each extracted block with its kind and link share, and the
page's title, description and <h1>, written to .bench-cache/blocks-full.json for block_scorer.py.

    .venv/bin/python bench/experiments/block_dump.py
"""

import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".bench-cache" / "blocks-full.json"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
logging.disable(logging.WARNING)
import trafilatura
from _extraction_data import SETS, load_set

import tasks.cleaning.html as H
from tasks.article import BadInput
from tasks.cleaning.markup import parse_html
from tasks.cleaning.metadata import metadata_from_html

OPTIONS = dict(H.EXTRACT_OPTIONS, fast=False)


def dump(html):
    try:
        tree = parse_html(html)
    except BadInput:
        return None
    if tree is None:
        return None
    anchors = H.AnchorIndex(tree)
    metadata, hints = metadata_from_html(tree)
    document = trafilatura.bare_extraction(tree, **OPTIONS)
    blocks = H.body_blocks(document.body) if document is not None and document.body is not None else []
    return {
        "title": metadata.title,
        "description": hints["description"],
        "h1": hints["h1"],
        "blocks": [[b.text, b.kind, anchors.link_share(b.text)] for b in blocks],
    }


out = []
for s in SETS:
    for p in load_set(s):
        out.append({"set": s, "id": p.id, "page": dump(p.html)})
    print(s, len(out), flush=True)
CACHE.parent.mkdir(parents=True, exist_ok=True)
CACHE.write_text(json.dumps(out))
