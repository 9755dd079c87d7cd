"""HTML extraction and metadata on small pages written for these tests."""

from __future__ import annotations

import json

import pytest

from tasks.article import Article, BadInput, Source
from tasks.cleaning.html import clean_html
from tasks.stages.clean import Clean

BODY = [
    "The city council voted on Tuesday to expand the bus network into three new districts, a plan "
    "that officials say will cut commuting times for tens of thousands of residents.",
    "The expansion, which will cost an estimated 40 million euros over five years, was approved by "
    "a large majority after a debate that lasted most of the afternoon.",
    "Opponents said the money would be better spent on repairing existing roads, many of which "
    "have not been resurfaced in over a decade.",
    "Streaming services now cost the average household more than 30 euros a month, a survey found, "
    "and many residents said they had cancelled a subscription to pay for transport.",
    "Construction of the first new line is expected to start next spring, the council said.",
]
JSONLD = {
    "@context": "https://schema.org",
    "@type": "NewsArticle",
    "headline": "Council expands bus network",
    "datePublished": "2024-03-05T09:30:00+01:00",
    "author": [{"@type": "Person", "name": "Jane Doe"}, {"@type": "Person", "name": "John Roe"}],
    "publisher": {"@type": "Organization", "name": "Example Gazette"},
}


def page(extra_head: str = "", jsonld: dict | None = JSONLD, body_extra: str = "") -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in BODY)
    ld = f'<script type="application/ld+json">{json.dumps(jsonld)}</script>' if jsonld else ""
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Council expands bus network | Example Gazette</title>
<meta property="og:site_name" content="Example Gazette">
<link rel="canonical" href="https://example.org/news/council-bus-network">
{extra_head}{ld}</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li></ul></nav>
<article><h1>Council expands bus network</h1>
<p class="byline">By Jane Doe</p>
{paragraphs}
<p>Sign up for our newsletter to get the latest news delivered to your inbox.</p>
<p><a href="/other">Read more: Mayor unveils plan for new cycle lanes across the city</a></p>
{body_extra}
</article>
<footer><p>Copyright © 2024 Example Gazette. All rights reserved.</p><p>We use cookies to improve your experience.</p></footer>
</body></html>"""


def test_body_paragraphs_are_extracted_and_page_furniture_dropped():
    cleaned = clean_html(page())
    # The body, whole and in order. What sits inside the <article> around it (headline, prompt,
    # related link) is the extractor's call: no hand rule judges HTML blocks since issue 10's
    # leave-one-set-out study (none paid off on two sets other than the one it was written from).
    start = cleaned.paragraphs.index(BODY[0])
    assert cleaned.paragraphs[start : start + len(BODY)] == BODY
    # Removed counts what the page shows outside the body: menus, footers, cookie notices.
    removed = " ".join(cleaned.removed)
    for shown in ("Home", "Sport", "All rights reserved", "We use cookies"):
        assert shown in removed, shown
    assert cleaned.metadata.title == "Council expands bus network"
    assert "Council expands bus network" not in cleaned.removed


def test_metadata_from_jsonld_and_link_canonical():
    meta = clean_html(page()).metadata
    assert meta.title == "Council expands bus network"
    assert meta.byline == ["Jane Doe", "John Roe"]
    assert meta.published == "2024-03-05T09:30:00+01:00"
    assert meta.url == "https://example.org/news/council-bus-network"
    assert meta.site_name == "Example Gazette"


def test_metadata_from_meta_tags_without_jsonld():
    head = (
        '<meta property="og:title" content="Council expands bus network">'
        '<meta name="author" content="Jane Doe">'
        '<meta property="article:published_time" content="2024-03-05">'
    )
    meta = clean_html(page(extra_head=head, jsonld=None)).metadata
    assert meta.title == "Council expands bus network"
    assert meta.byline == ["Jane Doe"]
    assert meta.published == "2024-03-05"
    assert meta.url == "https://example.org/news/council-bus-network"


def test_absent_metadata_stays_null():
    html = "<html><body><article>" + "".join(f"<p>{p}</p>" for p in BODY) + "</article></body></html>"
    meta = clean_html(html).metadata
    assert meta.byline is None and meta.published is None and meta.url is None and meta.site_name is None


def test_relative_canonical_is_not_taken_as_url():
    html = page().replace("https://example.org/news/council-bus-network", "/news/council-bus-network")
    assert clean_html(html).metadata.url is None


def test_page_without_article_text_is_no_text():
    with pytest.raises(BadInput) as info:
        clean_html("<html><body><nav><a href='/'>Home</a></nav></body></html>")
    assert info.value.reason == "no_text"


def test_stage_sets_the_article_fields():
    article = Article(Source("b", "a.html"), b"", media_type="html", content=page())
    Clean().action(article)
    assert "\n\n".join(BODY) in article.text
    assert article.title == "Council expands bus network"
    assert article.removed_lines >= 1 and article.removed_chars > 0
    assert article.removed_samples


def test_entities_and_invisible_characters_are_normalised():
    body = page(body_extra="<p>Caf&eacute; owners&nbsp;said the new&shy;rules were&#8203; unfair and the council should think again before it votes.</p>")
    cleaned = clean_html(body)
    assert "Café owners said the newrules were unfair and the council should think again before it votes." in cleaned.paragraphs


@pytest.mark.parametrize(
    "head, expected",
    [
        ('<base href="https://news.example.com/world/"><link rel="canonical" href="/world/floods">', "https://news.example.com/world/floods"),
        ('<link rel="canonical" href="floods.html"><meta property="og:url" content="https://news.example.com/world/x">', "https://news.example.com/world/floods.html"),
        ('<link rel="canonical" href="https://news.example.com/a">', "https://news.example.com/a"),
        ('<link rel="canonical" href="/world/floods">', None),  # nothing absolute to resolve it against
    ],
)
def test_relative_canonical_urls_are_resolved(head, expected):
    from lxml import html

    from tasks.cleaning.metadata import metadata_from_html

    tree = html.fromstring(f"<html><head>{head}<title>Floods</title></head><body><p>Text.</p></body></html>")
    metadata, _ = metadata_from_html(tree)
    assert metadata.url == expected


def test_block_text_is_never_glued_across_elements():
    """trafilatura's XML as full mode returns it: a heading inside a list item, an HTML table and a
    <script> left by its fallbacks. Each block ends its line; cells are words apart; code is no text."""
    from lxml import etree

    from tasks.cleaning.html import body_blocks

    body = etree.fromstring(
        "<body><list><item><head>Energy</head>195kj<lb/>45kcal</item></list>"
        "<table><tr><td>Birth date</td><td>21-4-1980</td></tr><tr><td>Origin</td><td>American</td></tr></table>"
        "<script>googletag.display('ad');</script><p>Last line.</p></body>"
    )
    assert [b.text for b in body_blocks(body)] == [
        "Energy", "195kj", "45kcal", "Birth date 21-4-1980", "Origin American", "Last line."
    ]
