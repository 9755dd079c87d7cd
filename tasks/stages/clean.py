"""Clean: keep the article body and its metadata, drop the site's boilerplate.

The work is in tasks/cleaning: HTML through trafilatura's full extractor with readability-lxml as
its second opinion (v11) and a judge, resiliparse, picking between that reading and readability's
own (v12, tasks/cleaning/judge.py), XML news formats (NITF, NewsML-G2, XHTML) parsed safely, plain
text line by line.
"""

from __future__ import annotations

from ..article import Article, BadInput
from ..cleaning import ParseLimits, clean_document
from ..stage import Stage

#: How many removed lines the article keeps as samples (for the log and the demo table).
REMOVED_SAMPLES = 20


class Clean(Stage):
    name = "clean"
    #: Bump whenever the output for the same input changes.
    version = "12"

    def __init__(self, limits: ParseLimits | None = None):
        #: Bounds of one page's parse (from the worker's settings; defaults otherwise).
        self.limits = limits or ParseLimits()

    def action(self, article: Article) -> None:
        if article.media_type not in ("html", "xml", "text"):
            raise BadInput("no_text", f"cannot clean media type {article.media_type!r}")
        cleaned = clean_document(article.content or "", article.media_type, self.limits)
        article.text = cleaned.text
        meta = cleaned.metadata
        article.title = meta.title
        article.byline = meta.byline
        article.published = meta.published
        article.url = meta.url
        article.site_name = meta.site_name
        article.removed_lines = len(cleaned.removed)
        article.removed_chars = sum(len(line) for line in cleaned.removed)
        article.removed_samples = cleaned.removed[:REMOVED_SAMPLES]
        verdict = cleaned.verdict
        if verdict is not None:
            # Which reading the judge picked, with its two agreements: a field of the article's
            # one INFO event (worker/processing.py), not an event of its own.
            article.reading = verdict.as_log()
            if verdict.failure:
                # A contained failure of the judge: v11's reading was kept.
                article.notes.append({"stage": self.name, "error": f"judge:{verdict.failure}"})
