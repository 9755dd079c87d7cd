"""Leave-one-outlet-out (issue 14): other static word tables in the encoder's place, among them
multilingual ones (build_encoder --source use / e5), scored offline. The linear model's scores come
from a loo_parts.py --save file (the shipped recipe's fold models); for each table given, the
encoder's part is refitted on each fold as training.Prepared.fit_encoder fits it (the table's words
seen at least ENCODER_MIN_COUNT times in the fold's rows, SIF weights from their counts there, leads
of the longer rows at LEAD_WEIGHT, balanced newton-cholesky logistic regression, C = ENCODER_C), its
temperature fitted on every tenth training row (rough: the same for every table), and blended 0.5
with the linear model as the stage blends, for the languages given:
- TABLE en: English articles only (the shipped way);
- TABLE en+de: English and German articles;
- A en + B de: table A's encoder for English articles, table B's for German ones (two encoders).

    nice -n 10 .venv/bin/python bench/experiments/loo_multilingual.py /tmp/parts.npz \
        minilm=tasks/models/topics/encoder.npz use=/tmp/use64.npz [--confusion "use en+de"]

All tables must have the same word list (build_encoder's shipped_words): the word ids are computed once.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
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
from tasks.classification.build_shipped import SOURCE_WEIGHTS  # noqa: E402
from tasks.classification.evaluation import merge_world_politics  # noqa: E402
from tasks.classification.features import lead, word_bytes  # noqa: E402
from tasks.classification.outlets import LEAD_WORDS, OUTLETS, fold_training  # noqa: E402
from tasks.classification.topics import EncoderTable, normed, weighted_rows  # noqa: E402


def fit_t(classifier, x, y) -> float:
    pick = slice(None, None, 10)
    truth = np.array([list(classifier.classes_).index(label) for label in y[pick]])
    return training.fit_temperature(classifier.decision_function(x[pick]), truth)


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", type=Path)
    parser.add_argument("tables", nargs="+", help="NAME=PATH of an encoder table (npz as build_encoder writes)")
    parser.add_argument("--confusion", action="append", default=[], help="print per-label and confusion of this variant")
    parser.add_argument("--three-way", action="store_true", help="also blend the linear model with two tables' encoders at once")
    args = parser.parse_args()
    parts, meta = loo_parts.load(args.parts)
    tables = {one.split("=", 1)[0]: EncoderTable.load(Path(one.split("=", 1)[1])) for one in args.tables}
    first = next(iter(tables.values()))
    for name, table in tables.items():
        assert table.words == first.words, f"{name}: another word list"
    index = first.index
    n_words = len(first.words)

    def ids_of(text: str) -> np.ndarray:
        tokens = word_bytes(text)
        found = np.fromiter(map(index.get, tokens, repeat(-1)), dtype=np.int64, count=len(tokens))
        return found[found >= 0]

    # probs[name][kind][table] = encoder probabilities of the left-out outlet's texts
    results: dict[str, dict[str, dict[str, float]]] = {}
    confusions: dict[str, dict[str, np.ndarray]] = {}
    names = [n for n in OUTLETS if n in meta]
    for name in names:
        rows = fold_training(name)
        example_ids = [ids_of(t) for t, _, _ in rows]
        lead_rows = [i for i, (t, _, _) in enumerate(rows) if len(t.split()) >= training.LEAD_MIN_WORDS]
        lead_ids = [ids_of(lead(rows[i][0], training.LEAD_WORDS)) for i in lead_rows]
        counts = np.bincount(np.concatenate(example_ids), minlength=n_words)
        kept = counts >= training.ENCODER_MIN_COUNT
        word_weights = np.zeros(n_words)
        word_weights[kept] = training.ENCODER_SIF / (training.ENCODER_SIF + counts[kept] / counts[kept].sum())
        y_main = np.array([label for _, label, _ in rows])
        w_main = np.array([SOURCE_WEIGHTS.get(s, 1.0) for _, _, s in rows])
        y = np.concatenate([y_main, y_main[lead_rows]])
        w = np.concatenate([w_main, training.LEAD_WEIGHT * w_main[lead_rows]])
        scored = OUTLETS[name].scored()
        truth = np.array([merge_world_politics(label) for _, label in scored])
        test_ids = {"full": [ids_of(t) for t, _ in scored], "lead": [ids_of(lead(t, LEAD_WORDS)) for t, _ in scored]}
        m = meta[name]
        labels = np.array(m["labels"])
        enc: dict[str, dict[str, np.ndarray]] = {}
        for tname, table in tables.items():
            vectors = weighted_rows(table.vectors, word_weights)

            def vec(ids_list, vectors=vectors):
                return np.array([normed(vectors[i].sum(axis=0)) for i in ids_list], dtype=np.float64)

            x = np.vstack([vec(example_ids), vec(lead_ids)])
            classifier = LogisticRegression(
                C=training.ENCODER_C, solver="newton-cholesky", tol=training.ENCODER_TOL,
                max_iter=training.ENCODER_MAX_ITER, class_weight="balanced",
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                classifier.fit(x, y, sample_weight=w)
            assert list(classifier.classes_) == list(labels)
            t = fit_t(classifier, x, y)
            enc[tname] = {kind: loo_parts.softmax(classifier.decision_function(vec(ids)), t) for kind, ids in test_ids.items()}
        for kind in ("full", "lead"):
            p = f"{name}/{kind}/"
            lin = loo_parts.softmax(parts[p + "linear"], np.where(parts[p + "long"], m["long_temperature"], m["temperature"]))
            language = parts[p + "language"]
            english, german = language == "en", language == "de"
            variants = {"linear alone": lin, "shipped encoder (parts file), en": np.where(
                english[:, None], 0.5 * lin + 0.5 * loo_parts.softmax(parts[p + "encoder"], m["encoder_temperature"]), lin)}
            for tname, e in enc.items():
                variants[f"{tname} en"] = np.where(english[:, None], 0.5 * lin + 0.5 * e[kind], lin)
                variants[f"{tname} en+de"] = np.where((english | german)[:, None], 0.5 * lin + 0.5 * e[kind], lin)
            for a in enc:
                for b in enc:
                    if a != b:
                        both = np.where(english[:, None], enc[a][kind], enc[b][kind])
                        variants[f"{a} en + {b} de"] = np.where((english | german)[:, None], 0.5 * lin + 0.5 * both, lin)
            if args.three_way:
                # Both tables for English (and German): the linear model and the two encoders' mean.
                for a in enc:
                    for b in enc:
                        if a < b:
                            for w in (0.5, 0.6):
                                mixed = w * lin + (1 - w) * 0.5 * (enc[a][kind] + enc[b][kind])
                                variants[f"{a}+{b} en, linear {w}"] = np.where(
                                    english[:, None], mixed, np.where(german[:, None], 0.5 * lin + 0.5 * enc[b][kind], lin))
                                variants[f"{a}+{b} en+de, linear {w}"] = np.where((english | german)[:, None], mixed, lin)
            for variant, probs in variants.items():
                found = np.array([merge_world_politics(label) for label in labels[probs.argmax(axis=1)]])
                results.setdefault(variant, {}).setdefault(name, {})[kind] = float((found == truth).mean())
                if kind == "full" and variant in args.confusion:
                    classes = sorted(set(truth))
                    matrix = np.array([[int(((truth == a) & (found == b)).sum()) for b in classes] for a in classes])
                    confusions.setdefault(variant, {})[name] = matrix
                    recall = {c: matrix[i, i] / max(1, matrix[i].sum()) for i, c in enumerate(classes)}
                    print(f"  {name} {variant}: " + " ".join(f"{c} {r:.3f}" for c, r in recall.items()), flush=True)
        print(f"fold {name} done: " + ", ".join(f"{v} {r[name]['full']:.4f}" for v, r in results.items()), flush=True)
    full = [n for n in loo_parts.FULL if n in names]
    print(f"\n{'variant':34} " + " ".join(f"{n[:10]:>17}" for n in names) + "  macro-full")
    for variant, row in results.items():
        cells = " ".join(f"{row[n]['full']:.4f} / {row[n]['lead']:.4f}" for n in names)
        macro = statistics.mean(row[n]["full"] for n in full) if len(full) == 4 else float("nan")
        print(f"{variant:34} {cells}  {macro:.4f}")
    for variant, by_outlet in confusions.items():
        total = sum(by_outlet[n] for n in full if n in by_outlet)
        print(f"\nconfusion of {variant}, summed over the full-length outlets (rows truth; columns in the same order):\n{total}")


if __name__ == "__main__":
    main()
