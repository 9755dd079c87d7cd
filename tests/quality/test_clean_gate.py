"""Quality gate of the clean stage: a fixed slice of every extraction set, against recorded floors.

GATE_PAGES pages of each of the six sets (scrapinghub and the five of web-extraction/), chosen
by hashing their ids (not by how well we do on them), scored with the scrapinghub README's
metric (bench/_extraction_data.py). Each set's floor sits NOISE_MARGIN under what was measured
when it was recorded (a library update moves a few pages); below it is a regression. The full
sets, with the libraries side by side, are bench/clean.py, not part of the test run.

The slowest page is bounded too, in CPU time (time.process_time, not the wall clock, so a
loaded machine does not fail it) with a generous bound: what it catches is a page that runs
away (the old dateline pattern held a worker for minutes), not a slower machine.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from _boilerplate_kinds import surviving_boilerplate  # noqa: E402
from _extraction_data import SETS, load_set, score, set_ids  # noqa: E402

from tasks.article import BadInput  # noqa: E402
from tasks.cleaning import clean_document  # noqa: E402

pytestmark = pytest.mark.quality

GATE_PAGES = 12
NOISE_MARGIN = 0.015
#: F1 measured on each set's gate slice when the floors were recorded (see the commit message):
#: trafilatura's full mode, no hand rule on HTML blocks (issue 10's leave-one-set-out choice),
#: readability-lxml's second opinion (clean stage v11: the short tail it leaves out dropped,
#: agreement.py, and its long paragraphs trafilatura missed added, second_opinion.py), and the
#: judge (clean stage v12, judge.py: readability's own reading, with v11's long paragraphs it
#: lacks, where resiliparse agrees with it more; 24 of the 72 slice pages). Against v11's
#: recording: readability +0.0220, cleaneval +0.0014, dragnet +0.0003, cleanportaleval -0.0027,
#: google-trends -0.0039, scrapinghub -0.0103 (the whole sets: bench/clean.py, in the commit message).
RECORDED_F1 = {
    "scrapinghub": 0.9706,
    "cleaneval": 0.8518,
    "cleanportaleval": 0.9569,
    "dragnet": 0.9450,
    "google-trends-2017": 0.8904,
    "readability": 0.9799,
}
#: Lines of a known boilerplate kind (newsletter, paywall, app, share, cookie, copyright) kept,
#: over all slices: 22 when recorded (21 with clean stage v11 and v12; 20 on cleaneval's 2007 pages: "Click here", copyright
#: footers), up from 6 when the call-to-action rule ran on HTML; it paid off in F1 on one set
#: besides scrapinghub, so issue 10 dropped it. The bound is that count plus a little noise.
MAX_BOILERPLATE_KEPT = 24
#: CPU seconds of the slowest page of the slices: 0.23 s when recorded; ~9x that is the bound.
SLOWEST_PAGE_CPU_SECONDS = 2.0


def gate_ids(set_name: str) -> list[str]:
    return sorted(set_ids(set_name), key=lambda page_id: hashlib.sha256(page_id.encode()).hexdigest())[:GATE_PAGES]


@pytest.fixture(scope="module")
def results():
    # Warm up (imports, caches) outside the timed pages.
    clean_document(load_set("scrapinghub", gate_ids("scrapinghub")[:1])[0].html, "html")
    found = {}
    for set_name in SETS:
        pages = load_set(set_name, gate_ids(set_name))
        predictions, seconds = [], []
        for page in pages:
            started = time.process_time()
            try:
                predictions.append(clean_document(page.html, "html").text)
            except BadInput:
                predictions.append("")
            seconds.append(time.process_time() - started)
        found[set_name] = (pages, predictions, seconds)
    return found


@pytest.mark.parametrize("set_name", SETS)
def test_f1_on_each_set_stays_above_its_floor(results, set_name):
    pages, predictions, _ = results[set_name]
    s = score(predictions, [p.body for p in pages])
    print(f"{set_name} gate slice: P {s.precision:.4f} R {s.recall:.4f} F1 {s.f1:.4f}")
    floor = RECORDED_F1[set_name] - NOISE_MARGIN
    assert s.f1 >= floor, f"{set_name}: F1 {s.f1:.4f} fell below the floor {floor:.4f}"


def test_boilerplate_does_not_survive_on_the_slices(results):
    kept = [
        line
        for pages, predictions, _ in results.values()
        for page, predicted in zip(pages, predictions, strict=True)
        for line in surviving_boilerplate(predicted, page.body)
    ]
    assert len(kept) <= MAX_BOILERPLATE_KEPT, kept


def test_no_page_runs_away(results):
    slowest = max(max(seconds) for _, _, seconds in results.values())
    assert slowest <= SLOWEST_PAGE_CPU_SECONDS, f"slowest page took {slowest:.2f} s of CPU"
