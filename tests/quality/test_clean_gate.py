"""Quality gate of the clean stage: a fixed slice of the article-extraction benchmark.

30 pages, chosen by hashing their ids (not by how well we do on them), scored with the
benchmark's own metric (bench/_extraction_data.py). The floors sit a little under what was
measured when they were recorded; a change that drops below them is a regression. The full
benchmark with the anchors is bench/clean.py, not part of the test run.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from _boilerplate_kinds import surviving_boilerplate  # noqa: E402
from _extraction_data import benchmark_dir, load_pages, score  # noqa: E402

from tasks.article import BadInput  # noqa: E402
from tasks.cleaning import clean_document  # noqa: E402

pytestmark = pytest.mark.quality

GATE_PAGES = 30
#: Recorded 2026-11-28 on this slice: P 0.9660, R 0.9913, F1 0.9785 (full set F1 0.9747).
F1_FLOOR = 0.965
PRECISION_FLOOR = 0.955
RECALL_FLOOR = 0.965
#: Lines of a known boilerplate kind (newsletter, paywall, app, share, cookie, copyright) kept.
MAX_BOILERPLATE_KEPT = 0


def gate_ids() -> list[str]:
    truth = json.loads((benchmark_dir() / "ground-truth.json").read_text(encoding="utf-8"))
    return sorted(truth, key=lambda page_id: hashlib.sha256(page_id.encode()).hexdigest())[:GATE_PAGES]


@pytest.fixture(scope="module")
def results():
    pages = load_pages(gate_ids())
    predictions = []
    for page in pages:
        try:
            predictions.append(clean_document(page.html, "html").text)
        except BadInput:
            predictions.append("")
    return pages, predictions


def test_f1_on_the_gate_slice_stays_above_the_floor(results):
    pages, predictions = results
    s = score(predictions, [p.body for p in pages])
    print(f"gate slice: P {s.precision:.4f} R {s.recall:.4f} F1 {s.f1:.4f}")
    assert s.f1 >= F1_FLOOR, f"F1 {s.f1:.4f} fell below the floor {F1_FLOOR}"
    assert s.precision >= PRECISION_FLOOR
    assert s.recall >= RECALL_FLOOR


def test_boilerplate_does_not_survive_on_the_gate_slice(results):
    pages, predictions = results
    kept = [line for p, pred in zip(pages, predictions, strict=True) for line in surviving_boilerplate(pred, p.body)]
    assert len(kept) <= MAX_BOILERPLATE_KEPT, kept
