"""Leave-one-outlet-out (issue 14): variants of the encoder's classifier on the shipped table, blended
with the fold's linear model as the stage blends them (linear scores from a loo_parts.py --save file,
so only the encoder part is refitted here). Each fold: the table's words seen at least twice in the
fold's rows, SIF-weighted (training.Prepared.encoder_word_weights), the article vectors, then each
classifier variant; scored on the left-out outlet's full texts, world and politics as one class.

    nice -n 10 .venv/bin/python bench/experiments/loo_encoder_classifier.py /tmp/parts.npz [more.npz ...]
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import statistics  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from itertools import repeat  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import loo_parts  # noqa: E402
from tasks.classification import training  # noqa: E402
from tasks.classification.build_shipped import SOURCE_WEIGHTS, shipped_table  # noqa: E402
from tasks.classification.evaluation import merge_world_politics  # noqa: E402
from tasks.classification.features import lead, word_bytes  # noqa: E402
from tasks.classification.outlets import OUTLETS, fold_training  # noqa: E402
from tasks.classification.topics import normed, weighted_rows  # noqa: E402

VARIANTS = {
    "shipped (C 1)": {"C": 1.0},
    "C 1, fitted T": {"C": 1.0},
    "C 0.1": {"C": 0.1},
    "C 10": {"C": 10.0},
    "C 100": {"C": 100.0},
    "no leads": {"C": 1.0, "leads": False},
    "squares": {"C": 1.0, "squares": True},
    "squares C 10": {"C": 10.0, "squares": True},
}


def expand(x: np.ndarray, squares: bool) -> np.ndarray:
    return np.hstack([x, x * x * 8]) if squares else x


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    parts, meta = {}, {}
    for one in sys.argv[1:]:
        more = loo_parts.load(Path(one))
        parts.update(more[0])
        meta.update(more[1])
    table = shipped_table()
    index = table.index
    results: dict[str, dict[str, float]] = {v: {} for v in VARIANTS}
    by_label: dict[str, dict[str, dict]] = {v: {} for v in VARIANTS}
    for name in [n for n in loo_parts.FULL if n in meta]:
        rows = fold_training(name)

        def ids_of(text: str, index=index) -> np.ndarray:
            tokens = word_bytes(text)
            found = np.fromiter(map(index.get, tokens, repeat(-1)), dtype=np.int64, count=len(tokens))
            return found[found >= 0]

        example_ids = [ids_of(t) for t, _, _ in rows]
        lead_rows = [i for i, (t, _, _) in enumerate(rows) if len(t.split()) >= training.LEAD_MIN_WORDS]
        lead_ids = [ids_of(lead(rows[i][0], training.LEAD_WORDS)) for i in lead_rows]
        n = len(table.words)
        counts = np.bincount(np.concatenate(example_ids), minlength=n)
        kept = counts >= training.ENCODER_MIN_COUNT
        word_weights = np.zeros(n)
        word_weights[kept] = training.ENCODER_SIF / (training.ENCODER_SIF + counts[kept] / counts[kept].sum())
        vectors = weighted_rows(table.vectors, word_weights)

        def vec(ids_list, vectors=vectors):
            return np.array([normed(vectors[i].sum(axis=0)) for i in ids_list], dtype=np.float64)

        x_main, x_lead = vec(example_ids), vec(lead_ids)
        y_main = np.array([label for _, label, _ in rows])
        w_main = np.array([SOURCE_WEIGHTS.get(s, 1.0) for _, _, s in rows])
        scored = OUTLETS[name].scored()
        x_test = vec([ids_of(t) for t, _ in scored])
        truth = np.array([merge_world_politics(label) for _, label in scored])
        p = f"{name}/full/"
        m = meta[name]
        lin = loo_parts.softmax(parts[p + "linear"], np.where(parts[p + "long"], m["long_temperature"], m["temperature"]))
        english = parts[p + "language"] == "en"
        for variant, options in VARIANTS.items():
            x, y, w = x_main, y_main, w_main
            if options.get("leads", True):
                x = np.vstack([x_main, x_lead])
                y = np.concatenate([y_main, y_main[lead_rows]])
                w = np.concatenate([w_main, training.LEAD_WEIGHT * w_main[lead_rows]])
            squares = options.get("squares", False)
            classifier = LogisticRegression(
                C=options["C"], solver="newton-cholesky", tol=1e-8, max_iter=200, class_weight="balanced"
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                classifier.fit(expand(x, squares), y, sample_weight=w)
            raw = classifier.decision_function(expand(x_test, squares))
            assert list(classifier.classes_) == m["labels"]
            enc = loo_parts.softmax(raw, m["encoder_temperature"] if variant == "shipped (C 1)" else fit_t(classifier, expand(x, squares), y))
            blended = np.where(english[:, None], 0.5 * lin + 0.5 * enc, lin)
            found = np.array([merge_world_politics(label) for label in np.array(m["labels"])[blended.argmax(axis=1)]])
            results[variant][name] = float((found == truth).mean())
            by_label[variant][name] = {
                label: round(float((found[truth == label] == label).mean()), 3) for label in sorted(set(truth))
            }
            print(f"  {name} {variant}: {results[variant][name]:.4f} {by_label[variant][name]}", flush=True)
    print()
    for variant, row in results.items():
        full = [row[n] for n in loo_parts.FULL if n in row]
        print(f"{variant:16} " + " ".join(f"{n[:8]} {a:.4f}" for n, a in row.items())
              + (f"  macro-full {statistics.mean(full):.4f}" if len(full) == 4 else ""))


def fit_t(classifier, x, y) -> float:
    """A temperature for a variant (the shipped one's is the shipped model's): fitted on a tenth of
    the fold's rows (every tenth), as calibration does on held-back rows (here not held back: rough)."""
    pick = slice(None, None, 10)
    truth = np.array([list(classifier.classes_).index(label) for label in y[pick]])
    return training.fit_temperature(classifier.decision_function(x[pick]), truth)


if __name__ == "__main__":
    main()
