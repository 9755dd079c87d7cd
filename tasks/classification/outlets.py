"""Leave-one-outlet-out: train the shipped recipe on every outlet but one, score the one left out.

The held-out set the topic model is judged on comes from an outlet and years it never saw; one
cross-source probe (BBC left out) over-stated how well the model transfers. This module lists
every labelled source as an outlet and makes the folds; bench/classify.py prints the whole table
next to a TF-IDF + LR baseline trained on the same folds, tests/quality/test_classify_gate.py
keeps floors on a part of it.

Every outlet is scored as the held-out set is: world and politics as one class (a world or a
politics answer is right for either). Each outlet is scored on its texts as they are ("full":
full-length articles for BBC, the Guardian, the German set and the written set; headline +
description for AG and HuffPost) and on their first LEAD_WORDS words ("lead", as a feed gives them).
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

from . import labels as data
from .evaluation import merge_world_politics, scores
from .features import lead

#: The length of a lead: a headline and the first sentence or two.
LEAD_WORDS = 40


@dataclass(frozen=True)
class Outlet:
    name: str
    #: Whether its texts are full-length articles (the issue's targets are on those).
    full_length: bool
    #: (text, label, source) rows the shipped model trains on; empty for an outlet used for
    #: evaluation only (licence).
    training: Callable[[], list[tuple[str, str, str]]]
    #: (text, label) rows scored when the outlet is left out.
    scored: Callable[[], list[tuple[str, str]]]
    #: Rows of its own kept in training when it is left out (the German set: the only German
    #: source, see GERMAN_NOTE); empty for every other outlet.
    kept: Callable[[], list[tuple[str, str, str]]] = lambda: []
    note: str = ""


GERMAN_NOTE = (
    "the only German source: left out entirely the model would have no German at all, so its fold keeps "
    "the German training half and scores the other half (a new-outlet test only for the English outlets)"
)


def _tagged(rows: list[tuple[str, str]], source: str) -> list[tuple[str, str, str]]:
    return [(text, label, source) for text, label in rows]


def _shipped(*sources: str) -> Callable[[], list[tuple[str, str, str]]]:
    return lambda: [row for row in data.shipped_training_data() if row[2] in sources]


OUTLETS: dict[str, Outlet] = {
    "bbc_news": Outlet(
        "bbc_news", True, _shipped("bbc_news"), lambda: data.bbc_news("train") + data.bbc_news("test")
    ),
    "guardian_2022": Outlet(
        "guardian_2022", True, lambda: [], lambda: data.guardian("all"),
        note="evaluation only: not openly licensed, never trained on",
    ),
    "10kgnad_de": Outlet(
        "10kgnad_de", True, _shipped("10kgnad_de"), lambda: data.gnad_de("test"), kept=_shipped("10kgnad_de"),
        note=GERMAN_NOTE,
    ),
    "written": Outlet(
        "written",
        True,
        _shipped("news_en", "health_en"),
        lambda: data.news_en("train") + data.news_en("test") + data.health_en("train") + data.health_en("test"),
        note="the developers' written set (news_en and health_en, train and test files)",
    ),
    "ag_news": Outlet("ag_news", False, _shipped("ag_news"), lambda: data.ag_news("test")),
    "huffpost": Outlet("huffpost", False, _shipped("huffpost"), lambda: data.huffpost("all")),
}


def fold_training(left_out: str) -> list[tuple[str, str, str]]:
    """What the fold that leaves `left_out` out trains on: every other outlet's training rows."""
    rows = list(OUTLETS[left_out].kept())
    for name, outlet in OUTLETS.items():
        if name != left_out:
            rows += outlet.training()
    return rows


def fold_model(left_out: str, encoder: bool = True):
    """The shipped recipe (its source weights, its encoder table) fitted on the fold that leaves
    `left_out` out (labels only: see training.fit_labels_only). The encoder uses only the table's
    words the fold's rows have at least twice, weighted by their frequency there, so it neither
    knows nor weighs the left-out outlet's other words (the table's PCA was fitted on all the shipped
    data's words: unsupervised, no labels). Its blend uses the shipped model's calibrated
    temperatures. encoder=False: the linear model alone."""
    from .build_shipped import SOURCE_WEIGHTS, shipped_second_table, shipped_table
    from .topics import load_model
    from .training import Example, fit_labels_only

    examples = [Example(text, label, source) for text, label, source in fold_training(left_out)]
    if not encoder:
        return fit_labels_only(examples, SOURCE_WEIGHTS, temperatures_of=load_model())
    return fit_labels_only(examples, SOURCE_WEIGHTS, shipped_table(), load_model(), shipped_second_table())


def score_outlet(predict: Callable[[list[str]], list[str]], examples: list[tuple[str, str]]) -> dict[str, dict]:
    """Scores of a predictor (texts -> labels) on the outlet's texts and on their leads, world and
    politics as one class; each with per-label accuracy (recall)."""
    truth = [label for _, label in examples]
    out = {}
    for kind, texts in (("full", [t for t, _ in examples]), ("lead", [lead(t, LEAD_WORDS) for t, _ in examples])):
        result = scores(truth, predict(texts), merge_world_politics)
        result["by_label"] = per_label(result["confusion"])
        out[kind] = result
    return out


def per_label(confusion: dict) -> dict[str, float]:
    """Share of each true label's rows that were predicted right."""
    return {
        label: row[label] / sum(row.values())
        for label, row in confusion.items()
        if sum(row.values())
    }
