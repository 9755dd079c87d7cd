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
from tasks.classification.features import lead
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
#: Trained without BBC, scored on all 2,198 BBC articles: recorded 0.9286 (0.7534 before the
#: news_en set was added, 0.9181 before the full-article expert); on their first 40 words
#: (headline and lead, as feeds give them): 0.8271 (0.8035 before leads were trained on).
CROSS_SOURCE_FLOOR = 0.915
CROSS_SOURCE_SNIPPET_WORDS = 40
CROSS_SOURCE_SNIPPET_FLOOR = 0.815
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
def test_a_model_trained_without_bbc_still_classifies_bbc(tmp_path):
    """Generalisation to an outlet and article length never trained on: the shipped recipe,
    trained on everything but BBC, scores BBC's articles and their first 40 words (world and
    politics as one class)."""
    from tasks.classification.build_shipped import cross_source

    model, _, bbc = cross_source(tmp_path)
    truth = [label for _, label in bbc]
    predicted = [model.predict(text).label for text, _ in bbc]
    accuracy = scores(truth, predicted, merge_world_politics)["accuracy"]
    assert accuracy >= CROSS_SOURCE_FLOOR, accuracy
    snippets = [lead(text, CROSS_SOURCE_SNIPPET_WORDS) for text, _ in bbc]
    snippet_accuracy = scores(truth, [model.predict(text).label for text in snippets], merge_world_politics)["accuracy"]
    assert snippet_accuracy >= CROSS_SOURCE_SNIPPET_FLOOR, snippet_accuracy


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
