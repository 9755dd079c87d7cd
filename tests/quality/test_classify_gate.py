"""Quality gate of the classify stages: the shipped topic model and the language detector on a
fixed slice of the shared test sets.

Slices are chosen by hashing ids/texts (not by how well we do on them). The floors sit a little
under what was measured when they were recorded; a change of model, features or detector that
drops below them is a regression. The full figures with the baselines: bench/classify.py.
"""

from __future__ import annotations

import hashlib

import pytest

from tasks.classification import labels as data
from tasks.classification.evaluation import merge_world_politics, same, scores
from tasks.classification.language import detect
from tasks.classification.topics import load_model

pytestmark = pytest.mark.quality

# Recorded 2026-11-28 with model 95ec29dec6ba on these slices (accuracy):
# AG News 1,500: 0.8920 (world+politics as one class); BBC test 400: 0.9825 strict;
# 10kGNAD test half 374: 0.8717; developer-written news_en test 126: 0.9921 (world+politics as
# one class). Whole sets: AG 0.8961, BBC 0.9825, 10kGNAD 0.8717. Model c20150e660ec (the same
# recipe with machine-independent numbers, issue 9): AG 0.8958, BBC 0.9800, 10kGNAD 0.8663,
# news_en 0.9921.
FLOORS = {"ag_news": 0.88, "bbc_news": 0.975, "10kgnad_de": 0.855, "news_en": 0.96}
#: Leave-one-outlet-out on the two real full-length English outlets (tasks/classification/outlets.py;
#: BBC's fold is the former cross-source probe), as floors of (full-text accuracy, every label's
#: accuracy, lead accuracy), world and politics as one class. Recorded with the recipe of model
#: c20150e660ec (bench/classify.py --loo-only): BBC 0.9236, lowest label business 0.847, leads
#: 0.8162; the Guardian 0.8310, lowest scitech 0.660 (53 articles) and world/politics 0.701,
#: leads 0.7043. The floors sit a noise margin under: ~1.5-2 points of accuracy, ~4 of a label
#: (one Guardian scitech article is 1.9 points). The issue's targets (0.90 on every full-length
#: outlet, 0.80 for every label) are not met on the Guardian: see the README.
LOO_FLOORS = {"bbc_news": (0.905, 0.80, 0.795), "guardian_2022": (0.81, 0.62, 0.68)}
AG_SLICE = 1500
#: Calibration, recorded on the AG slice: 3.1% flagged uncertain; right 0.907 when sure, 0.41 when not.
SURE_ACCURACY_FLOOR = 0.90
UNSURE_ACCURACY_CEILING = 0.7
UNCERTAIN_SHARE_CEILING = 0.12
#: Language, recorded: first 100 characters of the AG slice 0.9940 (en set 0.995), everything else 1.0.
LANGUAGE_FULL_FLOOR = 0.99
LANGUAGE_PREFIX_FLOOR = 0.985


def _slice(examples, n):
    return sorted(examples, key=lambda e: hashlib.sha256(e[0].encode()).hexdigest())[:n]


def topic_sets():
    return {
        "ag_news": (_slice(data.ag_news("test"), AG_SLICE), merge_world_politics),
        "bbc_news": (data.bbc_news("test"), same),
        "10kgnad_de": (data.gnad_de("test"), same),
        "news_en": (data.news_en("test"), merge_world_politics),
    }


def test_topic_accuracy_stays_above_the_recorded_floors():
    model = load_model()
    measured = {}
    for name, (examples, mapper) in topic_sets().items():
        predicted = [model.predict(text).label for text, _ in examples]
        measured[name] = scores([label for _, label in examples], predicted, mapper)["accuracy"]
    failing = {name: round(acc, 4) for name, acc in measured.items() if acc < FLOORS[name]}
    assert not failing, f"below floor {FLOORS}: {failing} (all: {measured})"


def test_calibrated_scores_separate_right_from_wrong():
    """Confident answers are right far more often than the ones flagged uncertain."""
    model = load_model()
    examples = _slice(data.ag_news("test"), AG_SLICE)
    predictions = [(model.predict(text), label) for text, label in examples]
    sure = [merge_world_politics(p.label) == merge_world_politics(t) for p, t in predictions if not p.uncertain]
    unsure = [merge_world_politics(p.label) == merge_world_politics(t) for p, t in predictions if p.uncertain]
    assert unsure and sure
    assert sum(sure) / len(sure) >= SURE_ACCURACY_FLOOR
    assert sum(unsure) / len(unsure) <= UNSURE_ACCURACY_CEILING
    assert len(unsure) / len(predictions) <= UNCERTAIN_SHARE_CEILING


def test_language_accuracy_on_full_articles_and_first_100_characters():
    sets = {
        "en": [t for t, _ in _slice(data.ag_news("test"), AG_SLICE)] + [t for t, _ in data.bbc_news("test")],
        "de": [t for t, _ in data.gnad_de("test")],
    }
    for code, texts in sets.items():
        full = sum(detect(text).code == code for text in texts) / len(texts)
        prefix = sum(detect(text[:100]).code == code for text in texts) / len(texts)
        assert full >= LANGUAGE_FULL_FLOOR, (code, full)
        assert prefix >= LANGUAGE_PREFIX_FLOOR, (code, prefix)


#: Training tests: about a minute each on a quiet 2-core machine, five and more on a loaded one
#: (pytest-timeout's default of 300 s failed them there).
TRAINING_TIMEOUT = 1200


@pytest.mark.timeout(TRAINING_TIMEOUT)
@pytest.mark.parametrize("outlet", sorted(LOO_FLOORS))
def test_leave_one_outlet_out_on_full_length_outlets(outlet):
    """The shipped recipe trained on every other outlet, scored on this one (an outlet and years it
    never saw, as the held-out set will be): full texts, every label the outlet has, and leads
    (first 40 words), world and politics as one class. bench/classify.py --loo-only prints the
    whole table beside the TF-IDF + LR baseline."""
    from tasks.classification.outlets import OUTLETS, fold_model, score_outlet

    model = fold_model(outlet)
    result = score_outlet(lambda texts: [model.predict(t).label for t in texts], OUTLETS[outlet].scored())
    full_floor, label_floor, lead_floor = LOO_FLOORS[outlet]
    assert result["full"]["accuracy"] >= full_floor, result["full"]["accuracy"]
    weak = {label: round(acc, 3) for label, acc in result["full"]["by_label"].items() if acc < label_floor}
    assert not weak, (weak, label_floor)
    assert result["lead"]["accuracy"] >= lead_floor, result["lead"]["accuracy"]


@pytest.mark.timeout(TRAINING_TIMEOUT)
def test_the_rebuild_command_reproduces_the_shipped_model(tmp_path):
    """The shipped model is what `python -m tasks.classification.build_shipped` makes from the
    data: same weights, same version (pipeline_version depends on it). A recipe change without a
    rebuild fails here; a correct rebuild on another CPU does not (the version hashes quantised
    numbers: checked with NPY_DISABLE_CPU_FEATURES="AVX512_ICL X86_V4" and "AVX512_ICL X86_V4
    X86_V3", 1 and 2 BLAS threads)."""
    from tasks.classification.build_shipped import SOURCE_WEIGHTS, shipped_examples
    from tasks.classification.training import train

    rebuilt = train(shipped_examples(), tmp_path, (), SOURCE_WEIGHTS).model
    assert rebuilt.version == load_model().version
