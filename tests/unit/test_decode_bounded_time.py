"""Decoding takes bounded time on hostile input (issue 10, the decode stage's share).

Decode sniffs the charset and the kind of document with patterns over the head of the input;
those run on RE2 (linear time). Hostile heads of at most 20 KB (runs of comments, declarations,
meta tags and near-matches of them) must be decoded within the CPU budget of the cleaning
tests. The first regression: 4 KB of `<!---->` then `!` made the old root-sniffing pattern
backtrack exponentially (22 comments took 0.6 s, 30 would take minutes, 585 fit in the head).
"""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings, strategies as st

from tasks.article import Article, BadInput, Source
from tasks.stages.decode import Decode, sniff_media_type

from test_clean_bounded_time import BUDGET_SECONDS, MAX_INPUT_CHARS, cpu_seconds


def decode(raw: bytes) -> None:
    with contextlib.suppress(BadInput):
        Decode().action(Article(Source("b", "incoming/x"), raw))


def assert_fast(raw: bytes, label: str) -> None:
    spent = cpu_seconds(lambda: decode(raw))
    assert spent <= BUDGET_SECONDS, f"{label} took {spent * 1000:.0f} ms of CPU"


PIECES = ["<!---->", "<!--", "-->", "<?xml ", "?>", "<meta ", "charset=", "<!DOCTYPE ", "[", ">", "<", " ", "\n", "x", "é"]
hostile_heads = st.builds(
    lambda pieces, n, tail: (("".join(pieces) * n)[: MAX_INPUT_CHARS - 10] + tail).encode(),
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=6),
    st.integers(min_value=1, max_value=MAX_INPUT_CHARS),
    st.sampled_from(["", "!", "x", "<html>", "<p>body</p>"]),
)


def test_a_run_of_comments_does_not_backtrack():
    raw = ("<!---->" * 585 + "!").encode()
    assert_fast(raw, "585 comments and a !")
    # The sniffing still reads past comments, declarations and doctypes to the root.
    assert sniff_media_type("<?xml version='1.0'?>\n<!-- c -->" * 1 + "<!-- d --><nitf><body/></nitf>") == "xml"
    assert sniff_media_type("<!-- a --> <!-- b -->\n<html><body><p>x</p></body></html>") == "html"


def test_repeated_meta_prefixes_cost_linear_time():
    assert_fast(b"<meta " * 3_000 + b"<p>text</p>", "3,000 <meta")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(hostile_heads)
def test_decode_takes_bounded_time(raw):
    assert len(raw) <= 2 * MAX_INPUT_CHARS  # é is two bytes
    assert_fast(raw, f"{len(raw)} bytes")
