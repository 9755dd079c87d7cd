"""The judge between copydesk's two readings of an HTML page (tasks/cleaning/judge.py, clean stage v12)."""

from __future__ import annotations

import builtins

import pytest

from tasks.article import Article, Source
from tasks.cleaning import clean_document, html, judge
from tasks.cleaning.judge import READABILITY_READING, V11_READING, Verdict, agreement, choose, shingles
from tasks.cleaning.agreement import words
from tasks.stages.clean import Clean

ARTICLE = [
    "The city council voted on Tuesday to expand the bus network into three new districts, officials said.",
    "The expansion will cost an estimated 40 million euros over five years, according to the budget office.",
    "Opponents said the money would be better spent on repairing the existing roads and bridges first.",
]
TEASERS = [
    "Mayor opens the new library in the old town hall after two years of building work there.",
    "Tram drivers call off the strike planned for next week after a late offer from the company.",
]
#: A page whose main content resiliparse reads as ARTICLE (an <article>, a sidebar of links).
PAGE = (
    "<html><head><title>Buses</title></head><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
    "<article>" + "".join(f"<p>{s}</p>" for s in ARTICLE) + "</article>"
    "<aside class='sidebar'><ul>" + "".join(f"<li><a href='/x'>{t}</a></li>" for t in TEASERS) + "</ul></aside>"
    "<footer>Copyright 2026 The Gazette</footer></body></html>"
)


def test_agreement_is_the_shingle_f1_of_two_texts():
    a = shingles(words("one two three four five"))  # two runs of four
    assert agreement(a, a) == 1.0
    assert agreement(a, shingles(words("one two three four"))) == pytest.approx(2 * 1 / 3)
    assert agreement(a, shingles([])) == 0.0
    assert agreement(shingles([]), shingles([])) == 0.0
    # Fewer words than a run: all of them are one run, as in the benchmark's metric.
    assert agreement(shingles(words("Breaking news")), shingles(words("breaking NEWS"))) == 1.0


def test_the_reading_the_judge_agrees_with_wins():
    with_teasers = ARTICLE + TEASERS
    # resiliparse reads the article without the sidebar: the reading without the teasers wins.
    verdict = choose(PAGE, with_teasers, ARTICLE)
    assert verdict.reading == READABILITY_READING
    assert verdict.agrees_readability is not None and verdict.agrees_v11 is not None
    assert verdict.agrees_readability > verdict.agrees_v11
    assert choose(PAGE, ARTICLE, with_teasers).reading == V11_READING


def test_alike_readings_need_no_judge(monkeypatch):
    monkeypatch.setattr(judge, "judge_text", lambda markup: pytest.fail("the judge was asked"))
    # The same words, whatever the paragraphs and the case.
    assert choose(PAGE, ARTICLE, [" ".join(ARTICLE).upper()]) == Verdict(V11_READING, skipped="same_text")


def test_long_readings_are_not_judged(monkeypatch):
    monkeypatch.setattr(judge, "judge_text", lambda markup: pytest.fail("the judge was asked"))
    long = ARTICLE * (judge.JUDGE_MAX_CHARS // len(" ".join(ARTICLE)) + 1)
    assert choose(PAGE, long, ARTICLE) == Verdict(V11_READING, skipped="too_long")
    assert choose(PAGE, ARTICLE, long) == Verdict(V11_READING, skipped="too_long")
    huge_page = PAGE.replace("</body>", "<!--" + "x" * judge.JUDGE_MAX_MARKUP_CHARS + "--></body>")
    assert choose(huge_page, ARTICLE + TEASERS, ARTICLE) == Verdict(V11_READING, skipped="too_long")


def test_a_long_judge_text_is_not_compared(monkeypatch):
    monkeypatch.setattr(judge, "judge_text", lambda markup: "word " * judge.JUDGE_MAX_CHARS)
    assert choose(PAGE, ARTICLE + TEASERS, ARTICLE) == Verdict(V11_READING, skipped="too_long")


def test_a_tie_keeps_v11s_reading_and_the_margin_holds_readability_back():
    assert choose(PAGE, ARTICLE, ARTICLE[:2] + ARTICLE[2:] + ["Advertisement"]).reading == V11_READING
    verdict = choose(PAGE, ARTICLE + TEASERS, ARTICLE)
    gap = verdict.agrees_readability - verdict.agrees_v11
    assert choose(PAGE, ARTICLE + TEASERS, ARTICLE, margin=gap + 0.01).reading == V11_READING
    assert choose(PAGE, ARTICLE + TEASERS, ARTICLE, margin=gap - 0.01).reading == READABILITY_READING


def test_a_failing_judge_leaves_v11s_reading(monkeypatch):
    def broken(markup):
        raise RuntimeError("lexbor said no")

    monkeypatch.setattr(judge, "judge_text", broken)
    assert choose(PAGE, ARTICLE + TEASERS, ARTICLE) == Verdict(V11_READING, failure="RuntimeError")
    monkeypatch.setattr(judge, "judge_text", lambda markup: "  ")
    assert choose(PAGE, ARTICLE + TEASERS, ARTICLE) == Verdict(V11_READING, skipped="no_text")


def test_shingles_count_repeats_as_the_metric_does():
    from collections import Counter

    from tasks.cleaning.agreement import ngrams

    def counter_f1(a: list[str], b: list[str]) -> float:
        ca, cb = Counter(ngrams(a, 4)), Counter(ngrams(b, 4))
        return 2 * sum((ca & cb).values()) / (sum(ca.values()) + sum(cb.values()))

    repeated = words("see it now amazon " * 5 + "the end of the story is here")
    other = words("see it now amazon " * 2 + "the end of the story is near")
    assert agreement(shingles(repeated), shingles(other)) == pytest.approx(counter_f1(repeated, other))
    assert len(shingles(repeated)) == len(repeated) - 3


def test_a_judge_not_installed_leaves_v11s_reading(monkeypatch):
    real_import = builtins.__import__

    def no_resiliparse(name, *args, **kwargs):
        if name.startswith("resiliparse"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_resiliparse)
    assert choose(PAGE, ARTICLE + TEASERS, ARTICLE).failure == "no_judge"


def test_clean_html_takes_readability_s_reading_when_the_judge_says_so(monkeypatch):
    # What trafilatura and readability read on this page depends on them: the judge is made to
    # agree with readability's lines exactly, whatever they are.
    seen = {}

    def judge_agreeing_with_readability(markup, v11, readability, margin=judge.MARGIN):
        seen["readability"] = list(readability)
        return Verdict(READABILITY_READING, 0.5, 1.0)

    monkeypatch.setattr(html, "choose", judge_agreeing_with_readability)
    cleaned = clean_document(PAGE, "html")
    assert cleaned.paragraphs == seen["readability"]
    assert cleaned.verdict == Verdict(READABILITY_READING, 0.5, 1.0)


def readability_reads_more(monkeypatch):
    """readability's reading of PAGE made to differ from v11's (a teaser more), so that the judge
    is asked."""
    monkeypatch.setattr(html, "readability_lines", lambda tree, reparse: ARTICLE + TEASERS[:1])


def test_clean_html_keeps_v11s_reading_when_the_judge_fails(monkeypatch):
    readability_reads_more(monkeypatch)
    with monkeypatch.context() as patched:
        patched.setattr(html, "choose", lambda *args, **kwargs: Verdict(V11_READING))
        v11 = clean_document(PAGE, "html").paragraphs
    monkeypatch.setattr(judge, "judge_text", lambda markup: 1 / 0)
    cleaned = clean_document(PAGE, "html")
    assert cleaned.verdict == Verdict(V11_READING, failure="ZeroDivisionError")
    assert cleaned.paragraphs == v11


def test_the_judge_is_not_asked_without_readability_s_reading(monkeypatch):
    monkeypatch.setattr(html, "readability_lines", lambda tree, reparse: [])
    monkeypatch.setattr(html, "choose", lambda *a, **k: pytest.fail("the judge was asked"))
    assert clean_document(PAGE, "html").verdict is None


def test_the_stage_keeps_the_verdict_for_the_log_and_notes_a_failure(monkeypatch):
    readability_reads_more(monkeypatch)
    article = Article(Source("bucket", "incoming/a.html"), PAGE.encode(), media_type="html", content=PAGE)
    Clean().action(article)
    assert article.notes == []
    assert article.reading is not None and set(article.reading) == {"reading", "agrees_v11", "agrees_readability"}
    monkeypatch.setattr(judge, "judge_text", lambda markup: 1 / 0)
    article = Article(Source("bucket", "incoming/a.html"), PAGE.encode(), media_type="html", content=PAGE)
    Clean().action(article)
    assert article.notes == [{"stage": "clean", "error": "judge:ZeroDivisionError"}]
    assert article.reading == {"reading": "trafilatura", "judge_failure": "ZeroDivisionError"}
    assert "bus network" in article.text


def test_verdict_log_fields():
    assert Verdict(READABILITY_READING, 0.81234, 0.95).as_log() == {
        "reading": "readability", "agrees_v11": 0.8123, "agrees_readability": 0.95,
    }
    assert Verdict(failure="no_judge").as_log() == {"reading": "trafilatura", "judge_failure": "no_judge"}
    assert Verdict(skipped="same_text").as_log() == {"reading": "trafilatura", "judge_skipped": "same_text"}


def test_readability_s_reading_gets_v11s_long_paragraphs_it_lacks():
    from tasks.cleaning.result import Block

    embedded = (
        "Interesting to see the new console running at an unstable sixty frames a second here, "
        "a bit tired tonight and the service barely runs on my home connection right now."
    )
    v11 = [Block(ARTICLE[0]), Block(embedded), Block("Short line v11 has."), Block(ARTICLE[1])]
    reading = html.readability_reading([ARTICLE[0], ARTICLE[1]], v11)
    # The long paragraph is added where it sat (after the last line both hold before it); the
    # short one is not (fewer than MISSING_MIN_WORDS words).
    assert [b.text for b in reading] == [ARTICLE[0], embedded, ARTICLE[1]]
