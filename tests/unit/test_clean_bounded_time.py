"""Cleaning takes bounded time on hostile input (issue 10).

Property-based: hypothesis builds inputs of at most 20 KB meant to hurt a backtracking regex or a
quadratic loop (long runs of punctuation, near-matches of the boilerplate phrases repeated,
huge single lines, deep nesting, thousands of tiny blocks) and every one must be cleaned within
BUDGET_SECONDS of CPU time. CPU time (time.process_time), the best of a few runs, so a loaded
machine slows the wall clock but not the figure: what fails is work that grows faster than the
input (the old dateline pattern took minutes on 40 dashes and an "x").
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tasks.article import BadInput
from tasks.cleaning import clean_document
from tasks.cleaning.boilerplate import is_call_to_action, is_dateline
from tasks.cleaning.metadata import split_authors

MAX_INPUT_CHARS = 20_000
BUDGET_SECONDS = 0.100
REPEATS = 3

PUNCTUATION = "-—–.,;:!?*=_#|/\\()[]{}<>'\"“”«» \t©@&%$"
#: Pieces of what the patterns look for: date words, prompts, markup and code idioms, separators.
NEAR_MATCHES = [
    "Updated ", "14 ", "hours ", "ago", "Published ", "18 ", "November ", "2019", "-", " - ", "...", "--",
    "Sign up for", " our ", "newsletter", "subscribe", "Subscribe now", "follow @", "share this ", "©",
    "copyright 20", "click here", "<div ", 'class="', 'a="', "<!--", "function(", "var x = ", "{", "}",
    ":", ";", "=>", "said", ", ", " and ", "| ", "\n", "\n\n", "Read more: ", "by ", "a.m.", "GMT ",
]


def cpu_seconds(func: Callable[[], object]) -> float:
    """CPU seconds of func, the best of REPEATS runs, with the collector paused: a full
    collection of hypothesis's own objects is not the cleaner's time."""
    best = float("inf")
    for _ in range(REPEATS):
        gc.collect()
        gc.disable()
        try:
            started = time.process_time()
            func()
            best = min(best, time.process_time() - started)
        finally:
            gc.enable()
        if best <= BUDGET_SECONDS:
            break
    return best


def clean(content: str, media_type: str) -> None:
    with contextlib.suppress(BadInput):
        clean_document(content, media_type)


def as_html(text: str) -> str:
    return f"<html><head><title>{text[:200]}</title></head><body><article><p>{text}</p></article></body></html>"


punctuation_runs = st.builds(
    lambda run, n, tail: run * max(1, n // max(1, len(run))) + tail,
    st.text(alphabet=PUNCTUATION, min_size=1, max_size=8),
    st.integers(min_value=10, max_value=MAX_INPUT_CHARS - 20),
    st.sampled_from(["", "x", " x", "a", "1", ".", "\n"]),
)
near_match_runs = st.builds(
    lambda pieces, n: ("".join(pieces) * n)[:MAX_INPUT_CHARS],
    st.lists(st.sampled_from(NEAR_MATCHES), min_size=1, max_size=12),
    st.integers(min_value=1, max_value=2_000),
)
mixed = st.text(alphabet=st.sampled_from(list(PUNCTUATION) + ["a", "1", "x", "\n", "é", "字"]), max_size=MAX_INPUT_CHARS)
hostile_text = st.one_of(punctuation_runs, near_match_runs, mixed)

NESTING_TAGS = [
    ("<div>", "</div>"), ("<p>", ""), ("<a href='#'>", "</a>"), ("<table><tr><td>", "</td></tr></table>"),
    ("<ul><li>", "</li></ul>"), ("<blockquote>", "</blockquote>"), ("<span>", ""),
]


def nested(tags: tuple[str, str]):
    return st.builds(
        lambda n, inner: (tags[0] * n + inner + tags[1] * n)[:MAX_INPUT_CHARS],
        st.integers(min_value=1, max_value=MAX_INPUT_CHARS // (len(tags[0]) + len(tags[1]))),
        st.one_of(st.just("Some words of the article body here."), near_match_runs.map(lambda s: s[:2_000])),
    )


nesting = st.sampled_from(NESTING_TAGS).flatmap(nested)
#: Up to 1,000 elements in the budget's 20 KB. Denser markup (thousands of empty-ish elements)
#: costs trafilatura ~40 us an element: test_dense_markup_costs_linear_time bounds that instead.
MAX_BLOCKS = 1_000
many_blocks = st.builds(
    lambda tag, piece, n: (f"<{tag}>{piece}</{tag}>" * n)[:MAX_INPUT_CHARS],
    st.sampled_from(["p", "li", "a", "div", "h2", "td"]),
    st.sampled_from(["Subscribe now", "Updated 2 hours ago", "Read more about the thing", "x", "Share this story"]),
    st.integers(min_value=1, max_value=MAX_BLOCKS),
)
#: Dense markup (issue 10): many sibling blocks of a few varied words each, the shapes pages
#: repeat (wrapper divs, list items, table rows, containers of unlikely classes). main's cleaner
#: took ~8 us a byte on these (<div><div><p> and 3 words, to 20 KB: 160 ms), whatever the words.
DENSE_WORDS = ["the", "a", "council", "said", "on", "monday", "that", "new", "plans", "for", "housing", "would", "be", "put", "to", "vote", "after", "months"]
DENSE_SHAPES = [
    "<div><div><p>{}</p></div></div>", "<p>{}</p>", "<li>{}</li>", "<ul><li>{}</li></ul>",
    "<table><tr><td>{}</td><td>x</td></tr></table>", '<div class="sidebar comment"><p>{}</p></div>',
    '<div><p><a href="#">{}</a></p></div>', '<div class="entry"><div><p>{}</p></div></div>',
]


def dense_page(shape: str, sentences: list[list[str]]) -> str:
    parts, size, i = [], 0, 0
    while size < MAX_INPUT_CHARS - 200:
        part = shape.format(" ".join(sentences[i % len(sentences)]).capitalize() + ".")
        parts.append(part)
        size += len(part)
        i += 1
    return f"<html><head><title>A headline</title></head><body>{''.join(parts)}</body></html>"


dense_markup = st.builds(
    dense_page,
    st.sampled_from(DENSE_SHAPES),
    st.lists(st.lists(st.sampled_from(DENSE_WORDS), min_size=1, max_size=8), min_size=1, max_size=40),
)
hostile_html = st.one_of(nesting, many_blocks, hostile_text.map(as_html), dense_markup)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture(scope="module", autouse=True)
def warm_up():
    """Imports, RE2's lazily built automata and trafilatura's caches are paid once, not per input."""
    clean("Sign up for our newsletter\nUpdated 14 hours ago\n" + "-" * 40 + "x", "text")
    clean(as_html("Sign up for our newsletter. Updated 14 hours ago"), "html")


def assert_fast(func: Callable[[], object], label: str) -> None:
    spent = cpu_seconds(func)
    assert spent <= BUDGET_SECONDS, f"{label} took {spent * 1000:.0f} ms of CPU"


@pytest.mark.parametrize("media_type", ["text", "html"])
def test_forty_dashes_and_an_x_is_cleaned_at_once(media_type):
    """The regression of issue 10: this line held a worker for the whole soft time limit."""
    line = "-" * 40 + "x"
    content = line if media_type == "text" else as_html(line)
    assert_fast(lambda: clean(content, media_type), "40 dashes")
    assert not is_dateline(line)
    assert_fast(lambda: is_dateline("-" * 10_000 + "x"), "10,000 dashes")


def test_a_dateline_is_still_a_dateline():
    assert is_dateline("Updated 14 hours ago")
    assert is_dateline("Published 18 November 2019 - 10:32 GMT")
    assert not is_dateline("The meeting on 18 November 2019 ended without a deal.")


@SETTINGS
@given(hostile_text)
def test_text_cleaner_takes_bounded_time(content):
    assert len(content) <= MAX_INPUT_CHARS
    assert_fast(lambda: clean(content, "text"), f"text of {len(content)} chars")


@SETTINGS
@given(hostile_text)
def test_line_judgements_take_bounded_time(line):
    assert_fast(lambda: (is_call_to_action(line), is_dateline(line), split_authors(line)), "judgement")


@SETTINGS
@given(hostile_html)
def test_html_cleaner_takes_bounded_time(markup):
    assert len(markup) <= MAX_INPUT_CHARS + 400
    assert_fast(lambda: clean(markup, "html"), f"html of {len(markup)} chars")


@SETTINGS
@given(dense_markup)
def test_dense_markup_takes_bounded_time(markup):
    assert len(markup) <= MAX_INPUT_CHARS + 400
    assert_fast(lambda: clean(markup, "html"), f"dense html of {len(markup)} chars")


@pytest.mark.parametrize("piece", ["<p>x</p>", "<div><a href='#'>Read more about it</a></div>", "<li>Subscribe now</li>"])
def test_dense_markup_costs_linear_time(piece):
    """Thousands of tiny elements: twice the elements may cost at most about twice the time.

    A ratio of two measurements taken side by side, not an absolute bound: on a loaded 2-core
    machine CPU time itself stretches (seen: 0.59 s for what takes 0.2 s on a quiet one), and
    both runs stretch alike."""
    small, large = piece * 1_500, piece * 3_000
    small_time = cpu_seconds(lambda: clean(as_html(small), "html"))
    large_time = cpu_seconds(lambda: clean(as_html(large), "html"))
    assert large_time <= 3 * small_time + 0.010, (small_time, large_time)
