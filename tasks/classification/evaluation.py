"""Scores of a topic model on labelled examples: accuracy, macro-F1, confusion matrix, speed."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .labels import WORLD_POLITICS

#: Map a label before comparing: scoring with world and politics as one class.
Mapper = Callable[[str], str]


def merge_world_politics(label: str) -> str:
    return WORLD_POLITICS if label in ("world", "politics") else label


def same(label: str) -> str:
    return label


def scores(truth: Sequence[str], predicted: Sequence[str], mapper: Mapper = same) -> dict:
    truth = [mapper(t) for t in truth]
    predicted = [mapper(p) for p in predicted]
    labels = sorted(set(truth) | set(predicted))
    confusion = {t: {p: 0 for p in labels} for t in labels}
    for t, p in zip(truth, predicted, strict=True):
        confusion[t][p] += 1
    f1s = []
    for label in sorted(set(truth)):
        tp = confusion[label][label]
        fp = sum(confusion[t][label] for t in labels) - tp
        fn = sum(confusion[label].values()) - tp
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    correct = sum(t == p for t, p in zip(truth, predicted, strict=True))
    return {
        "n": len(truth),
        "accuracy": correct / len(truth) if truth else 0.0,
        "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
        "confusion": confusion,
    }


def format_confusion(confusion: dict) -> str:
    labels = list(confusion)
    width = max(8, *(len(label) for label in labels)) + 1
    lines = ["truth \\ predicted".ljust(width + 4) + "".join(label[:width - 1].rjust(width) for label in labels)]
    for truth in labels:
        lines.append(truth.ljust(width + 4) + "".join(str(confusion[truth][p]).rjust(width) for p in labels))
    return "\n".join(lines)
