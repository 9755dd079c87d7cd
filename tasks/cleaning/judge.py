"""A judge between copydesk's two readings of an HTML page: resiliparse's main-content text.

copydesk reads a page twice (html.py): trafilatura's blocks with readability's second opinion
(the tail trim and the long paragraphs added: clean stage v11), and readability-lxml's own
reading (second_opinion.py). Where the two differ, which is right? A third extractor, built on
another parser (resiliparse: lexbor, C++) by other heuristics, is asked: the reading its text
agrees with more wins. resiliparse alone is the weakest of the three (issue 10's six sets: macro
0.878), but where trafilatura and readability disagree it is mostly nearer the right one. The
per-page oracle between the two readings is ~0.945 against v11's 0.929; the judge takes a share
of that gap (bench/experiments/judge.py: leave-one-set-out figures and the margin's choice).

Agreement is the benchmark metric's own measure between two texts: the F1 of their runs of
SHINGLE lowercased `\\w+` words (agreement.words), as multisets. A multiset is held as a set (each
run, and its second, third... occurrence as (run, 1), (run, 2)...), so that the intersection runs in
C: Counter's `&` loops in Python (1.7 ms a page of the judge's 5). readability's reading
wins only when resiliparse agrees with it by more than MARGIN over copydesk's v11 reading.

The judge parses the markup again (lexbor's parser, not lxml's) and is only asked about pages
that copydesk's own parse accepted within the parse limits and that got readability's opinion
(html.py: at most REFERENCE_MAX_ELEMENTS elements, not thick), only when the two readings' words
differ (three pages in four of the six sets), and within JUDGE_MAX_CHARS and
JUDGE_MAX_MARKUP_CHARS: its cost stays bounded (parse and extraction
~2.3 ms a page on average, 58 ms on the largest page of the sets, 1 MB). Any failure of it (not
installed, a parser error) is contained: v11's reading stays, and the verdict says why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from .agreement import ngrams, words
from .result import READABILITY_READING, V11_READING, Verdict

__all__ = ["READABILITY_READING", "V11_READING", "Verdict", "agreement", "choose", "judge_text", "shingles"]

#: readability's reading wins when resiliparse's text agrees with it by more than this over
#: copydesk's v11 reading (shingle F1, 0 to 1). Chosen leave-one-set-out (bench/experiments/judge.py).
MARGIN = 0.0
#: Texts longer than this (characters; a reading's paragraphs joined by line breaks, or the judge's
#: text) are not compared: v11's reading stays. A cost bound, not a quality choice: comparing
#: costs ~3.5 us a word of the three texts (a 21,000-word page took 75 ms, a judge's text of
#: 176,000 characters 50 ms), and cleaning's p99 is made of such pages. 44 of the 1,183 bench pages
#: have a reading this long and 14 more a judge's text this long; judging them too moved macro F1
#: by +0.0002.
JUDGE_MAX_CHARS = 30_000
#: Markup longer than this (characters) is not given to the judge: resiliparse's parse and
#: extraction cost up to ~65 ns a character (61 ms on a 900,000-character page). A cost bound: 11
#: of the 1,183 bench pages (scrapinghub 3, google-trends 6, readability 2), F1 unchanged.
JUDGE_MAX_MARKUP_CHARS = 1_000_000
#: Words compared as runs of this many (the benchmark metric's shingles).
SHINGLE = 4
#: resiliparse's options: its main-content heuristics, text only (no alt texts, bullets or URLs:
#: neither reading has them), block structure kept (lines, as the readings have).
JUDGE_OPTIONS: dict[str, Any] = dict(
    main_content=True,
    alt_texts=False,
    preserve_formatting=True,
    list_bullets=False,
    links=False,
)


def judge_text(markup: str) -> str:
    """resiliparse's main-content text of the page (ImportError when it is not installed)."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return str(extract_plain_text(HTMLTree.parse(markup), **JUDGE_OPTIONS))


def shingles(text_words: Sequence[str]) -> set[Any]:
    """The multiset of the words' runs of SHINGLE (all of them as one run when fewer), as a set:
    each run, and (run, k) for its k-th repeat (k from 1)."""
    if len(text_words) < SHINGLE:
        return {tuple(text_words)} if text_words else set()
    runs = list(ngrams(text_words, SHINGLE))
    unique: set[Any] = set(runs)
    if len(unique) < len(runs):  # repeats: rare, only then counted in Python
        unique.update((run, k) for run, count in Counter(runs).items() if count > 1 for k in range(1, count))
    return unique


def agreement(a: set[Any], b: set[Any]) -> float:
    """F1 of two texts' run multisets (shingles): 2 x shared / (both sizes); 0 when both are empty."""
    total = len(a) + len(b)
    if not total:
        return 0.0
    return 2 * len(a & b) / total


def choose(markup: str, v11: Sequence[str], readability: Sequence[str], margin: float = MARGIN) -> Verdict:
    """Which of the two readings (their paragraphs) resiliparse's text of `markup` agrees with
    more: readability's only when by more than `margin`. Never raises: a judge that fails or
    finds nothing leaves v11's reading."""
    ours_text, theirs_text = "\n".join(v11), "\n".join(readability)
    if max(len(ours_text), len(theirs_text)) > JUDGE_MAX_CHARS or len(markup) > JUDGE_MAX_MARKUP_CHARS:
        return Verdict(skipped="too_long")
    ours_words, theirs_words = words(ours_text), words(theirs_text)
    if ours_words == theirs_words:
        return Verdict(skipped="same_text")
    try:
        judged_text = judge_text(markup)
    except ImportError:
        return Verdict(failure="no_judge")
    except Exception as exc:  # the judge's failure is contained: v11's reading stays
        return Verdict(failure=type(exc).__name__)
    if len(judged_text) > JUDGE_MAX_CHARS:
        return Verdict(skipped="too_long")
    judged = words(judged_text)
    if not judged:
        return Verdict(skipped="no_text")
    judge = shingles(judged)
    ours = agreement(judge, shingles(ours_words))
    theirs = agreement(judge, shingles(theirs_words))
    reading = READABILITY_READING if theirs > ours + margin else V11_READING
    return Verdict(reading, ours, theirs)
