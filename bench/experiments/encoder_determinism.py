"""Can the encoder's multinomial logistic regression (loo_encoder.py's best classifier, lbfgs) give
the same float16 weights on every CPU? Trains it on the shipped rows' static-words vectors (one
int16 table, built once and saved, so only the classifier's arithmetic varies) and prints a hash
of its weights as float16 and rounded to 3 decimals: lbfgs at scikit-learn's default tolerance and
at a tight one (float32 vectors), and Newton's method (newton-cholesky, float64, tight tolerance),
which converges to the one optimum rather than stopping on the way. Run it under different BLAS kernels and thread counts and compare the hashes:

    for core in Haswell Sandybridge Prescott; do for threads in 1 2; do
      OPENBLAS_CORETYPE=$core OPENBLAS_NUM_THREADS=$threads nice -n 10 .venv/bin/python bench/experiments/encoder_determinism.py
    done; done

Needs loo_encoder.py's cache (/tmp/copydesk-loo-encoder/words.npz: run loo_encoder.py first).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from loo_encoder import CACHE, LABELS, text_words, training_matrix, word_table  # noqa: E402
from tasks.classification.labels import shipped_training_data  # noqa: E402

DIMS = 64
MATRIX = CACHE / f"determinism-{DIMS}d.npz"


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    rows = shipped_training_data()
    if not MATRIX.is_file():
        with np.load(CACHE / "words.npz") as data:
            names = data["words"].tobytes().decode().split("\n")
            vectors = dict(zip(names, data["vectors"], strict=True))
        counts: Counter = Counter()
        for text, _, _ in rows:
            counts.update(text_words(text))
        x, y, w = training_matrix(word_table(vectors, counts, DIMS), rows)
        np.savez(MATRIX, x=x, y=y, w=w)
    with np.load(MATRIX) as data:
        x, y, w = data["x"], data["y"], data["w"]
    setting = f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '-')} threads={os.environ.get('OPENBLAS_NUM_THREADS', '-')}"
    for solver, tol, dtype in (("lbfgs", 1e-4, np.float32), ("lbfgs", 1e-10, np.float32), ("newton-cholesky", 1e-10, np.float64)):
        model = LogisticRegression(C=1.0, max_iter=20000, tol=tol, solver=solver, class_weight="balanced")
        model.fit(x.astype(dtype), y, sample_weight=w)
        assert list(model.classes_) == LABELS
        weights = np.concatenate([model.coef_.ravel(), model.intercept_])
        half = hashlib.sha256(weights.astype(np.float16).tobytes()).hexdigest()[:12]
        three = hashlib.sha256(np.round(weights, 3).tobytes()).hexdigest()[:12]
        print(f"{setting} {solver} tol {tol:g} {np.dtype(dtype).name}: {model.n_iter_[0]} iterations, float16 {half}, 3 decimals {three}, "
              f"first weights {weights[:3].tolist()}", flush=True)


if __name__ == "__main__":
    main()
