"""readability-lxml as the HTML cleaner's second opinion (tasks/cleaning/second_opinion.py)."""

from __future__ import annotations

import pytest
from lxml import html as lxml_html
from readability import Document

from tasks.cleaning import html
from tasks.cleaning.agreement import words
from tasks.cleaning.markup import parse_html
from tasks.cleaning.result import Block
from tasks.cleaning.second_opinion import MISSING_MIN_WORDS, add_missing, readability_lines, summary_lines

SENTENCES = [
    "The city council voted on Tuesday to expand the bus network into three new districts, officials said.",
    "The expansion will cost an estimated 40 million euros over five years, according to the budget office.",
    "Opponents said the money would be better spent on repairing the existing roads and bridges first.",
    "The first new lines are expected to open next spring, with the rest following over four years.",
]
PAGES = {
    "article and sidebar": (
        "<html><head><title>Buses</title><style>p {color: red}</style></head><body>"
        "<div id='menu'><a href='/'>Home</a> <a href='/news'>News</a></div>"
        "<div class='content'>" + "".join(f"<p>{s}</p>" for s in SENTENCES) + "</div>"
        "<div class='sidebar'><ul><li><a href='/a'>Mayor opens new library</a></li>"
        "<li><a href='/b'>Tram strike called off</a></li></ul></div>"
        "<div class='footer'>Copyright 2026 The Gazette</div></body></html>"
    ),
    "misused divs, inline runs and text in divs": (
        "<html><body><div class='story'>"
        + "".join(f"<div>{s} <b>Bold</b> words, <i>more</i>, and more.</div>" for s in SENTENCES)
        + f"<div>Loose text, with a comma, before a block. <span>{SENTENCES[0]}</span><br><br>"
        f"<em>Emphasis, after breaks.</em><p>{SENTENCES[1]}</p>Tail text, after the paragraph.</div>"
        "</div></body></html>"
    ),
    "hidden elements, frames and a script": (
        "<html><body><article>" + "".join(f"<p>{s}</p>" for s in SENTENCES)
        + "<p hidden>Hidden paragraph that nobody sees on the page at all, really.</p>"
        "<p style='display: none'>Another hidden paragraph, by its style this time, not shown.</p>"
        "<iframe src='https://www.youtube.com/embed/x'>Fallback text of the frame</iframe>"
        "<noframes>&lt;a href='/x'&gt;fallback markup&lt;/a&gt;</noframes>"
        "<script>var x = '<p>not text</p>';</script></article></body></html>"
    ),
    "too short for a first pass (readability retries)": (
        "<html><body><div class='comment'><p>Short comment, with a comma.</p></div>"
        "<div><p>A short page, with one paragraph of text only.</p></div></body></html>"
    ),
    "links, lists and images inside the article (readability's conditional cleaning)": (
        "<html><body><div class='story'><div class='inner'>"
        + "".join(f"<p>{s} See <a href='/{i}'>the plan</a>.</p>" for i, s in enumerate(SENTENCES))
        + "<div class='x'>Related: <a href='/r1'>Mayor opens new library</a>, "
        "<a href='/r2'>Tram strike called off</a></div>"
        "<ul><li>One item, short</li><li>Two items, short</li></ul>"
        "<div><img src='a.jpg'><img src='b.jpg'><img src='c.jpg'></div>"
        "<section><p>A short section.</p></section>"
        "<table><tr><td>Cell, with a comma</td></tr></table>"
        "</div><div class='y'>" + "".join(f"<p>{s}</p>" for s in SENTENCES[:2]) + "</div></div></body></html>"
    ),
    "a table layout": (
        "<html><body><table><tr><td class='nav'><a href='/'>Home</a></td><td>"
        + "".join(f"<p>{s}</p>" for s in SENTENCES)
        + "</td></tr></table></body></html>"
    ),
}


def stock_lines(markup: str) -> list[str]:
    return summary_lines(lxml_html.fromstring(Document(parse_html(markup)).summary(html_partial=True)))


@pytest.mark.parametrize("name", sorted(PAGES))
def test_fast_document_reads_pages_as_readability_lxml_does(name):
    markup = PAGES[name]
    expected = stock_lines(markup)
    assert expected  # the page is read at all
    assert readability_lines(parse_html(markup), lambda: parse_html(markup)) == expected


def test_the_tree_is_read_in_place_and_parsed_again_only_for_a_retry():
    calls = []

    def reparse(markup):
        def again():
            calls.append(markup)
            return parse_html(markup)

        return again

    long_page = PAGES["article and sidebar"]
    assert readability_lines(parse_html(long_page), reparse(long_page))
    assert calls == []
    short_page = PAGES["too short for a first pass (readability retries)"]
    assert readability_lines(parse_html(short_page), reparse(short_page))
    assert calls == [short_page]


def test_no_lines_when_readability_fails():
    def broken():
        raise RuntimeError("no second parse")

    short_page = PAGES["too short for a first pass (readability retries)"]
    assert readability_lines(parse_html(short_page), broken) == []


def test_frames_are_no_text():
    lines = readability_lines(parse_html(PAGES["hidden elements, frames and a script"]), lambda: None)
    text = " ".join(lines)
    assert "Fallback" not in text and "VIDEO" not in text and "fallback markup" not in text
    assert "Hidden" not in text and "not text" not in text
    assert SENTENCES[0] in lines


LONG = (
    "In the afternoon the council also approved a separate plan to buy forty electric buses, which the "
    "transport office said would replace the oldest diesel vehicles by the end of the decade."
)


def added(texts: list[str], lines: list[str]) -> list[str]:
    blocks = [Block(t) for t in texts]
    return [b.text for b in add_missing(blocks, [words(t) for t in texts], lines)]


def test_a_long_paragraph_the_blocks_lack_is_added_in_readabilitys_place():
    assert len(words(LONG)) >= MISSING_MIN_WORDS
    texts = ["Council expands bus network", SENTENCES[0], SENTENCES[1], SENTENCES[2]]
    lines = [SENTENCES[0], SENTENCES[1], LONG, SENTENCES[2]]
    assert added(texts, lines) == [*texts[:3], LONG, texts[3]]
    # Before everything the blocks hold, it goes first.
    assert added(texts[1:], [LONG, *lines[:2]]) == [LONG, *texts[1:]]


def test_known_short_or_mostly_known_lines_are_not_added():
    texts = [SENTENCES[0], SENTENCES[1], LONG]
    short = "Mayor opens new library"
    mostly_known = LONG + " And then the rain came."
    assert added(texts, [SENTENCES[0], short, mostly_known, SENTENCES[2]]) == texts[:2] + [LONG]
    assert added(texts, []) == texts


def test_the_cleaner_adds_and_trims_by_readabilitys_lines():
    blocks = [Block(t) for t in [SENTENCES[0], SENTENCES[1], "More from the Gazette", "Rain all weekend"]]
    kept = html.second_opinion(blocks, [SENTENCES[0], LONG, SENTENCES[1]])
    assert [b.text for b in kept] == [SENTENCES[0], LONG, SENTENCES[1]]
    assert html.second_opinion(blocks, []) == blocks


@pytest.mark.parametrize(
    "text",
    ["", " ", "  a  ", "\t\ta\t b", "a\n \n b", " \xa0 x \xa0\r\n", "x" + " " * 254 + "y", "x" + " \t" * 200 + "y",
     "\n" * 300 + "z", "lead:\n\n  ", "a \u2009 b\t\t\tc  \t  d"],
)
def test_clean_length_is_the_length_of_readabilitys_clean(text):
    from readability.readability import clean

    from tasks.cleaning.second_opinion import clean_length

    assert clean_length(text) == len(clean(text))
