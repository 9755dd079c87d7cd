"""Clean: keep the article body, drop the site's boilerplate. (First version; see issue 3.)"""

from __future__ import annotations

import re
import unicodedata

import trafilatura

from ..article import Article, BadInput
from ..pipeline import Stage

BOILERPLATE_LINE_RE = re.compile(
    r"\{\{.*?\}\}|^disclaimer:|subscribe|already a subscriber|already subscribed|log ?in\b|"
    r"newsletter|sign up|follow us|share (this|on)|download (our|the) app|^[₹$€£]\s?[\d,.]+|"
    r"/month$|^\d+ (months?|years?)$|renews automatically",
    re.IGNORECASE,
)


class Clean(Stage):
    name = "clean"
    version = "0"

    def action(self, article: Article) -> None:
        content = article.content or ""
        if article.media_type in ("html", "xml"):
            text = trafilatura.extract(content, include_comments=False, include_tables=False) or ""
            meta = trafilatura.extract_metadata(content)
            if meta is not None:
                article.title = meta.title
                article.byline = [meta.author] if meta.author else None
                article.published = meta.date
                article.url = meta.url
                article.site_name = meta.sitename
        else:
            text = content
        kept, removed = [], []
        for line in text.splitlines():
            line = unicodedata.normalize("NFC", line).strip()
            if not line:
                continue
            (removed if BOILERPLATE_LINE_RE.search(line) or len(line.split()) < 4 else kept).append(line)
        article.text = "\n\n".join(kept)
        article.removed_lines = len(removed)
        article.removed_chars = sum(len(r) for r in removed)
        article.removed_samples = removed[:20]
        if not article.text.strip():
            raise BadInput("no_text", "no article text found in the document")
