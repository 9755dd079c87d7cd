"""The short tail after the last block readability's algorithm also keeps (tasks/cleaning/agreement.py)."""

from __future__ import annotations

import pytest

from tasks.cleaning import agreement
from tasks.cleaning.agreement import (
    TAIL_MAX_WORDS_PER_BLOCK,
    Reference,
    droppable_tail,
    trim_tail,
    words,
)
from tasks.cleaning import html
from tasks.cleaning.html import clean_html
from tasks.cleaning.result import Block

PROSE = [
    "The city council voted on Tuesday to expand the bus network into three new districts.",
    "The expansion will cost an estimated 40 million euros over five years, officials said.",
    "Opponents said the money would be better spent on repairing the existing roads.",
]
RELATED = ["More from the Gazette", "Mayor opens new library", "Tram strike called off", "Rain all weekend"]


def trimmed(texts: list[str], reference_text: str) -> list[str]:
    blocks = [Block(t) for t in texts]
    return [b.text for b in trim_tail(blocks, [words(t) for t in texts], Reference(words(reference_text)))]


def test_a_short_tail_after_the_shared_blocks_is_dropped():
    assert trimmed(PROSE + RELATED, " ".join(PROSE)) == PROSE


def test_a_tail_of_prose_is_kept_even_if_readability_leaves_it_out():
    tail = ["After the vote the mayor thanked the residents who had written to the council, " * 4]
    assert len(words(tail[0])) >= TAIL_MAX_WORDS_PER_BLOCK
    assert trimmed(PROSE + tail, " ".join(PROSE)) == PROSE + tail


def test_nothing_is_dropped_before_the_last_shared_block():
    # The headline and a short line inside the article are trafilatura's alone: they stay.
    texts = ["Council expands bus network", PROSE[0], "Photo: city council", PROSE[1], *RELATED]
    assert trimmed(texts, " ".join(PROSE[:2])) == texts[:4]


def test_no_opinion_when_the_two_agree_on_little():
    # readability found another part of the page (it holds under TAIL_MIN_SHARED of the words).
    texts = [PROSE[0], *RELATED, *RELATED]
    assert trimmed(texts, "Mayor opens new library") == texts
    assert trimmed(texts, "") == texts
    assert trimmed(texts, "nothing in common with the page") == texts


@pytest.mark.parametrize("max_search", [agreement.MAX_SEARCH, 0])  # string search, then word runs
def test_a_block_is_shared_when_its_words_occur_in_a_row(monkeypatch, max_search):
    monkeypatch.setattr(agreement, "MAX_SEARCH", max_search)
    ref = Reference(words("One two three four five six. Seven eight."))
    blocks = ["two three four five", "Seven eight", "four five six seven nine", "eight seven", ""]
    assert ref.shares([words(b) for b in blocks]) == [True, True, False, False, False]


def test_the_reference_runs_only_when_some_tail_is_short_enough():
    long = ["word " * TAIL_MAX_WORDS_PER_BLOCK] * 3
    assert not droppable_tail([words(t) for t in long])
    assert droppable_tail([words(t) for t in [*long, "Share this"]])
    assert not droppable_tail([words("a single short block")])


def test_a_list_of_teasers_after_the_article_is_dropped_from_a_page():
    # trafilatura keeps the promo list that closes the <article>; readability's algorithm does not.
    body = [
        f"{sentence} It was the longest debate of the year, and the vote was close." for sentence in PROSE * 2
    ]
    teasers = "".join(f"<li>{t}</li>" for t in RELATED[1:])
    markup = (
        "<html><head><title>Council expands bus network</title></head><body>"
        "<nav><ul><li><a href='/'>Home</a></li><li><a href='/news'>News</a></li></ul></nav>"
        "<article><h1>Council expands bus network</h1>"
        + "".join(f"<p>{p}</p>" for p in body)
        + f"<div class='promo'><h3>{RELATED[0]}</h3><ul>{teasers}</ul></div></article>"
        "<footer><p>Copyright 2024 Example Gazette.</p></footer></body></html>"
    )
    cleaned = clean_html(markup)
    start = cleaned.paragraphs.index(body[0])
    assert cleaned.paragraphs[start:] == body
    for teaser in RELATED:
        assert teaser not in cleaned.paragraphs
        assert teaser in cleaned.removed


def test_pages_over_the_element_bound_get_no_second_opinion(monkeypatch):
    """Beyond REFERENCE_MAX_ELEMENTS readability does not run and trafilatura's blocks stay as
    they are (bounded memory and time at the parse limit)."""
    monkeypatch.setattr(html, "REFERENCE_MAX_ELEMENTS", 10)
    teasers = "".join(f"<li>{t}</li>" for t in RELATED[1:])
    markup = (
        "<html><body><article>" + "".join(f"<p>{p} It was the longest debate of the year.</p>" for p in PROSE * 2)
        + f"<div class='promo'><h3>{RELATED[0]}</h3><ul>{teasers}</ul></div></article></body></html>"
    )
    assert RELATED[1] in html.clean_html(markup).paragraphs
    monkeypatch.setattr(html, "REFERENCE_MAX_ELEMENTS", 20_000)
    assert RELATED[1] not in html.clean_html(markup).paragraphs


def _words_one_by_one(text: str) -> list[str]:
    return [w.lower() for w in agreement.WORDS_RE.findall(text)]


def test_no_character_lowercases_to_nothing_or_out_of_the_word_characters():
    """What words' one-pass lowercasing relies on, for every code point."""
    import sys

    word = agreement.WORDS_RE
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        lowered = char.lower()
        assert lowered, hex(code)
        if len(lowered) == 1:
            assert bool(word.fullmatch(char)) == bool(word.fullmatch(lowered)), hex(code)


@pytest.mark.parametrize(
    "text",
    [
        "Plain ASCII, Words and 2 numbers_x",
        "Ünïcödé ÀÉÎ straße İstanbul ǅemal Ⅻ ＡＢＣ",
        "ΟΔΟΣ'Α ΟΔΟΣ Α ΣΑΣ σας",  # final sigma looks past the apostrophe
        "İİ x",  # lowercases to longer text
        "",
    ],
)
def test_words_are_the_words_each_lowercased(text):
    assert agreement.words(text) == _words_one_by_one(text)
