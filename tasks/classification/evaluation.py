"""Scores of a topic model on labelled examples: accuracy, macro-F1, confusion matrix."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .labels import WORLD_POLITICS

#: Map a label before comparing: scoring with world and politics as one class.
Mapper = Callable[[str], str]


def merge_world_politics(label: str) -> str:
    return WORLD_POLITICS if label in ("world", "politics") else label


def same(label: str) -> str:
    return label


def as_stage(model, text: str):
    """The model's prediction as the classify stage makes it: with the text's detected language
    (which decides which encoder, if any, is blended in)."""
    from .language import detect

    return model.predict(text, detect(text).code)


def scores(truth: Sequence[str], predicted: Sequence[str], mapper: Mapper = same) -> dict:
    """Accuracy, macro-F1 over the true labels, and the confusion matrix (truth -> predicted ->
    count), from sklearn.metrics (training, benchmarks and quality gates only: inference never
    imports this module)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    truth = [mapper(t) for t in truth]
    predicted = [mapper(p) for p in predicted]
    if not truth:
        return {"n": 0, "accuracy": 0.0, "macro_f1": 0.0, "confusion": {}}
    labels = sorted(set(truth) | set(predicted))
    # One label (a source of one label, all right): scikit-learn warns about the 1x1 shape.
    matrix = confusion_matrix(truth, predicted, labels=labels) if len(labels) > 1 else np.array([[len(truth)]])
    return {
        "n": len(truth),
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro", zero_division=0)),
        "confusion": {t: {p: int(matrix[i, j]) for j, p in enumerate(labels)} for i, t in enumerate(labels)},
    }


def format_confusion(confusion: dict) -> str:
    labels = list(confusion)
    width = max(8, *(len(label) for label in labels)) + 1
    lines = ["truth \\ predicted".ljust(width + 4) + "".join(label[:width - 1].rjust(width) for label in labels)]
    for truth in labels:
        lines.append(truth.ljust(width + 4) + "".join(str(confusion[truth][p]).rjust(width) for p in labels))
    return "\n".join(lines)
