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
from tasks.classification.evaluation import as_stage, merge_world_politics, same, scores
from tasks.classification.language import detect
from tasks.classification.topics import load_model

pytestmark = pytest.mark.quality

# Recorded 2026-11-28 with model 95ec29dec6ba on these slices (accuracy):
# AG News 1,500: 0.8920 (world+politics as one class); BBC test 400: 0.9825 strict;
# 10kGNAD test half 374: 0.8717; developer-written news_en test 126: 0.9921 (world+politics as
# one class). Model c20150e660ec (machine-independent numbers, issue 9): AG 0.8958, BBC 0.9800,
# 10kGNAD 0.8663, news_en 0.9921 (whole sets). Model 43a1facad502 (HuffPost added, issue 14),
# recorded 2026-12-01 on these slices: AG 0.8860, BBC 0.9800, 10kGNAD 0.8583, news_en 0.9921: AG
# and the German half lost 0.6 and 0.8 points (the German half is 3 articles) for 6-8 points on
# other outlets' leads in the leave-one-outlet-out table below; floors re-recorded with the same
# margins as before (~1.2 points for AG, ~1 for 10kGNAD). Model 750d5b849ca2 (the encoder blended
# in for English articles, issue 14), recorded 2026-12-01 on these slices as the stage scores them
# (with the detected language): AG 0.8807, BBC 0.9675, 10kGNAD 0.8583, news_en 0.9921. AG lost 0.5
# and BBC's test 1.25 points (5 of 400 articles), for +1.7 points of macro over the full-length
# outlets in the leave-one-outlet-out table below (+3.6 to +10.8 on the other outlets' texts); the
# issue takes decisions on that table. Floors re-recorded with the same margins as before.
# Model 491671841786 (the written set relabelled to the label guidelines, issue 14: 29 rows, 3 of
# them in the test file), whole sets as the stage scores them: AG 0.8820, BBC 0.9650 (one article
# less), 10kGNAD 0.8610, news_en 0.9762 (its two relabelled sports rows, a rugby union's deficit and
# a darts tour's sale, still come out business); BBC and news_en floors lowered to keep their margins.
# Model 5c88ad7a909c (a second encoder, distilled from USE multilingual v3, blended in for German
# articles, issue 14): 10kGNAD 0.8770 (6 articles more), the English sets unchanged; its floor
# raised with the same ~1.2-point margin.
# Model 8840aefe4a16 (the health rule, labels.HEALTH_TERMS: 271 training rows of AG Sci/Tech and
# HuffPost WORLD NEWS/SCIENCE/TECH whose headline names a disease, vaccine, hospital... are health,
# issue 14), on these slices as the stage scores them: AG 0.8713 (-0.9 points: AG has no health
# class, and its Sci/Tech, Business and World medical snippets now come out health, as the
# guidelines file them: 98 of the whole test set's 7,600), BBC 0.9700, 10kGNAD 0.8717 (2 articles
# fewer), news_en 0.9841. The AG floor is lowered to keep its ~1.2-point margin; 10kGNAD's to keep
# ~1 point; the others keep theirs.
FLOORS = {"ag_news": 0.859, "bbc_news": 0.955, "10kgnad_de": 0.86, "news_en": 0.95}
#: Leave-one-outlet-out (tasks/classification/outlets.py; BBC's fold is the former cross-source
#: probe), as floors of (accuracy on the outlet's texts, every label's accuracy or None, accuracy on
#: their first 40 words), world and politics as one class. Recorded with the recipe of model
#: 43a1facad502 (bench/classify.py --loo-only, 2026-12-01): BBC 0.9240, lowest label business
#: 0.837, leads 0.8803; the Guardian 0.8400, lowest scitech 0.642 (53 articles) and world/politics
#: 0.730, leads 0.7805; the written set 0.7782, lowest label but health entertainment 0.880, leads
#: 0.7252; HuffPost (headline + description, a short outlet: no label floor) 0.5831, leads 0.5828.
#: Re-recorded with the recipe of model 750d5b849ca2 (the encoder blended in for English texts;
#: `bench/classify.py --loo-only`, 2026-12-01): BBC 0.9277, lowest label business 0.855, leads
#: 0.8926; the Guardian 0.8449, lowest scitech 0.623 (one article less than before: 33 of 53) and
#: business 0.744, leads 0.7860; the written set 0.8382, lowest label but health entertainment
#: 0.889, leads 0.7734; HuffPost 0.6913, leads 0.6909.
#: Model 491671841786 (the written set relabelled to the label guidelines; the written fold's model
#: is the same, its truth changed on 29 rows; the other folds train on the relabelled rows), same
#: command: BBC 0.9258, lowest business 0.855, leads 0.8894; the Guardian 0.8470, lowest scitech
#: 0.604, leads 0.7895; the written set 0.8237 (0.8382 on its old labels), lowest label but health
#: entertainment 0.889, leads 0.7700; HuffPost 0.6932, leads 0.6930. The written set's floor follows
#: its new labels.
#: Model 5c88ad7a909c (the second encoder for German texts; English folds unchanged, same command):
#: the German fold (it keeps the German training half, its only German source) 0.8877 against
#: 0.8743 with the linear model alone, lowest labels business 0.779 (53 of 68) and entertainment
#: 0.850 (17 of 20), leads 0.8048; it has a floor of its own since this model.
#: Model 8840aefe4a16 (the health rule above; same command, one run, 2026-12-02 06:07-06:17 UTC at
#: load 3-4): BBC 0.9254, lowest business 0.853, leads 0.8867; the Guardian 0.8476, lowest scitech
#: 0.585 (31 of 53) and world/politics 0.733, leads 0.7812; German unchanged (0.8877, business
#: 0.779, entertainment 0.850, leads 0.8075); the written set 0.8926 (0.8237 before), health 0.771
#: (185 of 240; 0.346 before), lowest other label entertainment 0.893, leads 0.8540; HuffPost
#: 0.6935, leads 0.6935. Floors follow with the same margins: the written set's full, lead and health
#: floors rise, the Guardian's scitech and lead floors fall by one-two articles' worth.
#: Model 153fc8d6d09b (AG's World section joins the health rule with labels.EPIDEMIC_TERMS; same
#: command, one run, 2026-12-02 10:17-10:25 UTC at load 2-3; the temperatures did not change, so
#: the figures hold at this model's): BBC 0.9245, lowest business 0.851, leads 0.8872; the Guardian
#: 0.8490, lowest scitech 0.585, leads 0.7853; German 0.8904, business 0.779, entertainment 0.850,
#: leads 0.8102; the written set 0.9001, health 0.812 (195 of 240), lowest other label
#: entertainment 0.893, leads 0.8547; HuffPost 0.6845, leads 0.6843 (-0.009: Covid and vaccine
#: headlines filed under POLITICS and WORLD NEWS now come out health, and churn between world/politics
#: and the other labels; see the model card). The written set's full and health floors rise with
#: their margins; HuffPost's fall by a point to keep its ~2-point margin.
#: The floors sit a noise margin under: ~1.5-2 points of accuracy, ~4 of a label (one Guardian
#: scitech article is 1.9 points; one German entertainment article 5). The issue's targets (0.90 on every full-length outlet, 0.80 for
#: every label) are not met on the Guardian, the written set and German business: see the README.
LOO_FLOORS: dict[str, tuple[float, float | None, float]] = {
    "bbc_news": (0.91, 0.81, 0.87),
    "guardian_2022": (0.825, 0.545, 0.765),
    "written": (0.88, 0.85, 0.835),
    "huffpost": (0.665, None, 0.665),
    "10kgnad_de": (0.87, 0.75, 0.785),
}
#: Labels of an outlet under the issue's target, with a floor of their own: the written set's health
#: is learnt, when the written set is left out, from HuffPost's WELLNESS headlines and the rows the
#: health rule reads as health (AG Sci/Tech and HuffPost WORLD NEWS outbreak, vaccine and hospital
#: news): 0.017 (4 of 240) with the linear model alone and no rule, 0.346 (83 of 240) with the
#: encoder, 0.771 (185 of 240) with the encoder and the rule, 0.812 (195 of 240) with AG's World
#: section in the rule (above the issue's 0.80, under the 0.85 label floor: it keeps its own). See
#: tasks/classification/HISTORY.md.
LOO_LABELS_UNMET = {"written": {"health": 0.77}, "10kgnad_de": {"business": 0.73}}
AG_SLICE = 1500
#: Calibration, recorded on the AG slice: 3.1% flagged uncertain; right 0.907 when sure, 0.41 when
#: not (model 43a1facad502: 4.8%, 0.9041, 0.5278; model 750d5b849ca2, with the encoder: 6.5%, 0.9081, 0.4845).
SURE_ACCURACY_FLOOR = 0.895
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
        predicted = [as_stage(model, text).label for text, _ in examples]
        measured[name] = scores([label for _, label in examples], predicted, mapper)["accuracy"]
    failing = {name: round(acc, 4) for name, acc in measured.items() if acc < FLOORS[name]}
    assert not failing, f"below floor {FLOORS}: {failing} (all: {measured})"


def test_calibrated_scores_separate_right_from_wrong():
    """Confident answers are right far more often than the ones flagged uncertain."""
    model = load_model()
    examples = _slice(data.ag_news("test"), AG_SLICE)
    predictions = [(as_stage(model, text), label) for text, label in examples]
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
def test_leave_one_outlet_out_stays_above_the_recorded_floors(outlet):
    """The shipped recipe (encoder included) trained on every other outlet, scored on this one as
    the stage scores it (an outlet and years it never saw, as the held-out set will be): its texts,
    every label a full-length outlet has (LOO_LABELS_UNMET at their own floors), and leads (first 40
    words), world and politics as one class. bench/classify.py --loo-only prints the whole table
    beside the TF-IDF + LR baseline."""
    from tasks.classification.outlets import OUTLETS, fold_model, score_outlet

    model = fold_model(outlet)
    result = score_outlet(lambda texts: [as_stage(model, t).label for t in texts], OUTLETS[outlet].scored())
    full_floor, label_floor, lead_floor = LOO_FLOORS[outlet]
    assert result["full"]["accuracy"] >= full_floor, result["full"]["accuracy"]
    if label_floor is not None:
        unmet = LOO_LABELS_UNMET.get(outlet, {})
        by_label = result["full"]["by_label"]
        weak = {
            label: round(acc, 3) for label, acc in by_label.items() if acc < unmet.get(label, label_floor)
        }
        assert not weak, (weak, label_floor, unmet)
    assert result["lead"]["accuracy"] >= lead_floor, result["lead"]["accuracy"]


@pytest.mark.timeout(TRAINING_TIMEOUT)
def test_the_rebuild_command_reproduces_the_shipped_model(tmp_path):
    """The shipped model is what `python -m tasks.classification.build_shipped` makes from the
    data: same weights, same version (pipeline_version depends on it). A recipe change without a
    rebuild fails here; a correct rebuild on another CPU does not (the version hashes quantised
    numbers: checked with NPY_DISABLE_CPU_FEATURES="AVX512_ICL X86_V4" and "AVX512_ICL X86_V4
    X86_V3", 1 and 2 BLAS threads)."""
    from tasks.classification.build_shipped import build

    rebuilt = build(tmp_path).model
    assert rebuilt.encoder is not None and rebuilt.second_encoder is not None
    assert rebuilt.version == load_model().version
