"""Leave-one-outlet-out (issue 14): would adding the short-text model's score of an article's
first words to its full-article score help? Scores the four full-length folds with the linear
scores of the fold model, (full-article scores) + alpha * (short-text scores of the first N
words), for a few N and alpha; alpha 0 is the shipped recipe. Measured, not shipped.

    .venv/bin/python bench/experiments/loo_lead_blend.py
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tasks.classification.evaluation import merge_world_politics, scores  # noqa: E402
from tasks.classification.features import word_bytes  # noqa: E402
from tasks.classification.outlets import OUTLETS, fold_model  # noqa: E402

ALPHAS = (0, 0.25, 0.5, 1.0, 2.0)
LEADS = (30, 60)
FOLDS = ("bbc_news", "guardian_2022", "written", "10kgnad_de")


def main() -> None:
    results: dict[tuple[int, float], dict[str, float]] = {}
    for name in FOLDS:
        model = fold_model(name)
        rows = OUTLETS[name].scored()
        truth = [label for _, label in rows]
        full, leads = [], {n: [] for n in LEADS}
        for text, _ in rows:
            tokens = word_bytes(text)
            ids, values = model._vector(tokens)
            weights, bias = model.weights, model.bias
            if model.long is not None and len(tokens) >= model.long.min_words:
                weights, bias = model.long.weights, model.long.bias
            full.append(values @ weights[ids] + bias if len(ids) else bias)
            for n in LEADS:
                lead_ids, lead_values = model._vector(tokens[:n])
                leads[n].append(lead_values @ model.weights[lead_ids] + model.bias if len(lead_ids) else model.bias)
        full_scores = np.array(full)
        for n in LEADS:
            lead_scores = np.array(leads[n])
            for alpha in ALPHAS:
                predicted = [model.labels[i] for i in (full_scores + alpha * lead_scores).argmax(axis=1)]
                accuracy = scores(truth, predicted, merge_world_politics)["accuracy"]
                results.setdefault((n, alpha), {})[name] = accuracy
                print(f"  {name:14} first {n} words, alpha {alpha}: {accuracy:.4f}", flush=True)
    for (n, alpha), by_fold in results.items():
        print(f"first {n} words, alpha {alpha}: macro {statistics.mean(by_fold.values()):.4f} "
              + " ".join(f"{k} {v:.4f}" for k, v in by_fold.items()))


if __name__ == "__main__":
    main()
