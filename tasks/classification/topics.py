"""The topic model at run time: load it once, score an article, say which terms weighed most.

A model is a folder with `model.npz` (vocabulary, idf, per-label weights, bias, calibration)
and `model_card.json`. Inference is TF-IDF (sublinear tf, L2 norm) → linear scores → softmax
with a temperature fitted on held-back data, so the scores are calibrated probabilities.
A model may also carry a second set of weights, bias and temperature for full-length articles
(at least `long_min_words` words): the general weights plus those of a model trained on long
texts only, summed at training time, so either way an article costs one look-up of weights.
Only numpy is needed here; training (scikit-learn) lives in `training`.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from .features import MAX_WORDS, STEM_LENGTH, STEM_MARK, display_term, features_of_words, word_bytes
from .labels import TOPIC_LABELS

SHIPPED_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "topics"
MODEL_FILE = "model.npz"
CARD_FILE = "model_card.json"
#: The static word encoder distilled from MiniLM (build_encoder): a committed input of the model.
ENCODER_FILE = "encoder.npz"
#: Words outside the vocabulary and the encoders that keep their slot (per model; see _build_lookup).
UNKNOWN_WORDS_CACHED = 200_000
#: The columns of a model's slot table (TopicModel._build_lookup): a word's feature id (-1: not a
#: vocabulary word), its stem's feature id (-1: none), its word id for bigram codes, then its row in
#: each encoder (-1: none), first encoder then second.
SLOT_WORD_FEATURE, SLOT_STEM_FEATURE, SLOT_WORD_ID = 0, 1, 2
SLOT_ENCODERS = 3
#: 1 + log(tf) for every count a feature can reach (at most once per word of MAX_WORDS): one
#: table look-up instead of a conversion, a log and an addition per article. Rounded to 6
#: decimals (np.log's last digit depends on the CPU's SIMD level; training reads the same table).
SUBLINEAR_TF = np.round(np.concatenate(([0.0], 1.0 + np.log(np.arange(1, MAX_WORDS + 1)))), 6).astype(np.float32)
#: How many terms the record keeps as the explanation of its topic.
EXPLANATION_TERMS = 5
#: Learned numbers are kept at these precisions (see quantised): far finer than anything the
#: scores can tell apart, far coarser than the last-digit noise of the machine that trained them.
#: Weights are half floats (about 3 significant digits); idf and bias 4 decimals; the softmax
#: temperatures 4 significant digits; the uncertain threshold 2 decimals.
DECIMALS = 4
TEMPERATURE_DIGITS = 4
THRESHOLD_DECIMALS = 2


class ModelError(Exception):
    """The model folder is missing, incomplete or not a topic model of this format."""


@dataclass(frozen=True)
class Prediction:
    #: (label, probability) for every label of TOPIC_LABELS, best first.
    scores: list[tuple[str, float]]
    uncertain: bool
    terms: list[str]

    @property
    def label(self) -> str:
        return self.scores[0][0]


def half(weights: np.ndarray) -> np.ndarray:
    """Weights as the model file stores them (float16), held as float32 for the arithmetic."""
    return np.asarray(weights, dtype=np.float32).astype(np.float16).astype(np.float32)


def rounded(values: np.ndarray, decimals: int = DECIMALS) -> np.ndarray:
    """A float32 array rounded to a fixed number of decimals (IEEE arithmetic only: the same on any CPU)."""
    return np.round(np.asarray(values, dtype=np.float64), decimals).astype(np.float32)


def significant(value: float, digits: int = TEMPERATURE_DIGITS) -> float:
    """value rounded to `digits` significant digits, through its decimal text (no libm call)."""
    return float(f"{float(value):.{digits}g}")


class LongArticleWeights:
    """Weights, bias and softmax temperature for texts of at least min_words words."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray, min_words: int, temperature: float):
        self.weights = half(weights)
        self.bias = rounded(bias)
        self.min_words = int(min_words)
        self.temperature = significant(temperature)


#: The languages whose articles the encoder reads (MiniLM is an English model): others get the
#: linear model's scores alone, unless the second encoder reads them.
ENCODER_LANGUAGES = ("en",)
#: The second encoder: a table distilled from a multilingual model (USE multilingual v3, see
#: build_encoder --source use), trained on all the rows as the first is, read for German articles
#: only (leave-one-outlet-out: it lifts the German fold, and MiniLM stays better on English ones;
#: see tasks/classification/HISTORY.md).
SECOND_ENCODER_FILE = "encoder_de.npz"
SECOND_ENCODER_LANGUAGES = ("de",)
#: An English article's scores: (1 - ENCODER_BLEND) x the linear model's probabilities + ENCODER_BLEND
#: x the encoder's (leave-one-outlet-out: see tasks/classification/HISTORY.md).
ENCODER_BLEND = 0.5
#: The encoder's word rows are kept as int16 with one scale: an article's vector is an exact integer
#: sum, the same on every CPU.
ENCODER_ROW_SCALE = 32767


class EncoderTable:
    """The distilled word vectors (ENCODER_FILE, made by build_encoder): words and their int16 rows."""

    def __init__(self, words: list[bytes], vectors: np.ndarray, meta: dict | None = None):
        if len(words) != len(vectors):
            raise ModelError(f"encoder table: {len(words)} words but {len(vectors)} vectors")
        self.words = words
        self.vectors = np.asarray(vectors, dtype=np.int16)
        self.meta = meta or {}
        digest = hashlib.sha256(b"\n".join(words))
        digest.update(np.ascontiguousarray(self.vectors, dtype="<i2").tobytes())
        #: A hash of the words and vectors (not of the file's bytes): part of the model version.
        self.digest = digest.hexdigest()[:12]

    @cached_property
    def index(self) -> dict[bytes, int]:
        """Each word's row. Training's look-up only: the model keeps its own of the words it
        uses (Encoder.lookup), so loading the model for inference builds no second dict."""
        return {word: i for i, word in enumerate(self.words)}

    def ids(self, text: str) -> np.ndarray:
        """The rows of the text's words (word_bytes) that the table has, in order (training's
        look-up, through `index`)."""
        tokens = word_bytes(text)
        found = np.fromiter(map(self.index.get, tokens, repeat(-1)), dtype=np.int32, count=len(tokens))
        return found[found >= 0]

    @classmethod
    def load(cls, path: Path) -> EncoderTable:
        if not path.is_file():
            raise ModelError(
                f"the topic model needs its encoder table {path}, which is missing "
                "(made by python -m tasks.classification.build_encoder; committed beside the model)"
            )
        try:
            with np.load(path, allow_pickle=False) as data:
                words = data["words"].tobytes().split(b"\n")
                vectors = data["vectors"]
                meta = json.loads(data["meta"].tobytes().decode())
        except (KeyError, ValueError, OSError) as exc:
            raise ModelError(f"unreadable encoder table {path}: {exc}") from exc
        if vectors.dtype != np.int16 or vectors.ndim != 2:
            raise ModelError(f"encoder table {path}: vectors must be a 2-d int16 array, not {vectors.dtype} {vectors.shape}")
        return cls(words, vectors, meta)


def weighted_rows(vectors: np.ndarray, word_weights: np.ndarray, dtype: type = np.int64, chunk: int = 4096) -> np.ndarray:
    """Every word's row as the encoder sums it: its table vector times its frequency weight (as the
    model stores it, float16), re-quantised to ENCODER_ROW_SCALE with one scale, as `dtype`. IEEE
    products of exact numbers and one rounding: the same on every CPU, in training and at run time.
    Taken `chunk` rows at a time (the products are elementwise, so the result is the same to the
    bit): the whole table in float64 would be a transient of ~4x its int64 size in every pool
    child that loads the model, where billiard's max-memory-per-child counts peak RSS."""
    weights = half(word_weights).astype(np.float64)
    starts = range(0, len(vectors), chunk)

    def product(start: int) -> np.ndarray:
        return np.asarray(vectors[start : start + chunk], dtype=np.float64) * weights[start : start + chunk, None]

    largest = max((float(np.abs(product(start)).max()) for start in starts), default=0.0) if vectors.size else 0.0
    scale = ENCODER_ROW_SCALE / largest if largest else 0.0
    rows: np.ndarray = np.empty(vectors.shape, dtype=dtype)
    for start in starts:
        rows[start : start + chunk] = np.round(product(start) * scale)
    return rows


def softmax(raw: list[float], temperature: float) -> list[float]:
    """A softmax over a handful of labels' scores: plain floats beat five numpy calls."""
    top = max(raw)
    exps = [math.exp((score - top) * temperature) for score in raw]
    total = sum(exps)
    return [e / total for e in exps]


def normed(total: np.ndarray) -> np.ndarray:
    """An integer sum of encoder rows as the classifier reads it: divided by its exact L2 norm."""
    squared = int(total @ total)
    return total / math.sqrt(squared) if squared else np.zeros(len(total), dtype=np.float64)


class Encoder:
    """The encoder's part of a topic model: an article's vector is the L2-normed sum of the rows of
    its words (the words the linear model has already split), each row the table's vector times the
    word's frequency weight (SIF, learnt from the training rows; 0 for a word training did not see
    twice); a multinomial logistic regression on that vector, softmax with its own temperature."""

    def __init__(
        self, table: EncoderTable, word_weights: np.ndarray, weights: np.ndarray, bias: np.ndarray, temperature: float,
        blend: float = ENCODER_BLEND, languages: tuple[str, ...] | list[str] = ENCODER_LANGUAGES,
        file: str = ENCODER_FILE,
    ):
        if len(word_weights) != len(table.words):
            raise ModelError(f"encoder: {len(word_weights)} word weights for a table of {len(table.words)} words")
        if weights.shape[1] != table.vectors.shape[1]:
            raise ModelError(f"encoder weights {weights.shape} do not fit a table of {table.vectors.shape[1]} dimensions")
        self.table = table
        self.word_weights = half(word_weights)
        self.weights = half(weights)
        self.bias = rounded(bias)
        self.temperature = significant(temperature)
        self.blend = round(float(blend), THRESHOLD_DECIMALS)
        self.languages = sorted(languages)
        #: The table's file name beside the model file.
        self.file = file
        used = np.flatnonzero(self.word_weights > 0)
        # Every value is within ±ENCODER_ROW_SCALE: int16 holds it exactly, and half the bytes of
        # int32 make the per-article gather faster; sums are taken in int64.
        self.rows = weighted_rows(table.vectors, self.word_weights, dtype=np.int16)[used]
        self._weights64 = self.weights.astype(np.float64)
        self._bias64 = self.bias.astype(np.float64)
        self.lookup = {table.words[i]: row for row, i in enumerate(used.tolist())}

    def vector(self, tokens: list[bytes]) -> np.ndarray:
        """The article's vector (float64, L2 norm 1; zeros when none of its words is known)."""
        return self.vector_of(np.fromiter(map(self.lookup.get, tokens, repeat(-1)), dtype=np.intp, count=len(tokens)))

    def vector_of(self, found: np.ndarray) -> np.ndarray:
        """vector() of the words whose rows (-1: none) the caller has looked up already."""
        ids = found[found >= 0]
        # Integer sums: exact in int32 as long as they cannot pass 2**31 (int16 rows, fewer than
        # 2**16 of them), and int32 sums are the faster ones.
        dtype = np.int32 if len(ids) < 1 << 16 else np.int64
        return normed(np.add.reduce(self.rows.take(ids, axis=0), axis=0, dtype=dtype).astype(np.int64))

    def probabilities(self, tokens: list[bytes]) -> list[float]:
        return softmax((self._weights64 @ self.vector(tokens) + self._bias64).tolist(), self.temperature)

    def probabilities_of(self, found: np.ndarray) -> list[float]:
        """probabilities() of the words whose rows (-1: none) the caller has looked up already."""
        return softmax((self._weights64 @ self.vector_of(found) + self._bias64).tolist(), self.temperature)

    def hash_parts(self) -> tuple[list[np.ndarray], dict]:
        arrays = [self.word_weights.astype(np.float16), self.weights.astype(np.float16), self.bias]
        scalars = {
            "table": self.table.digest,
            "temperature": f"{self.temperature:.{TEMPERATURE_DIGITS}g}",
            "blend": f"{self.blend:.{THRESHOLD_DECIMALS}f}",
            "languages": self.languages,
        }
        return arrays, scalars


class TopicModel:
    def __init__(
        self,
        vocabulary: list[str],
        idf: np.ndarray,
        weights: np.ndarray,
        bias: np.ndarray,
        labels: list[str],
        temperature: float,
        threshold: float,
        languages: list[str],
        version: str | None = None,
        card: dict | None = None,
        long: LongArticleWeights | None = None,
        encoder: Encoder | None = None,
        second_encoder: Encoder | None = None,
    ):
        unknown = set(labels) - set(TOPIC_LABELS)
        if unknown:
            raise ModelError(f"labels outside {TOPIC_LABELS}: {sorted(unknown)}")
        self.vocabulary = vocabulary
        self.index = {term: i for i, term in enumerate(vocabulary)}
        # Every learned number is quantised on the way in (a freshly trained model and the same
        # model loaded from its file compute the same scores), so that the version, a hash of
        # them, does not depend on the last digits a given CPU's SIMD code or BLAS produced.
        self.idf = rounded(idf)
        self.weights = half(weights)
        self.bias = rounded(bias)
        self.labels = list(labels)
        self.temperature = significant(temperature)
        self.threshold = round(float(threshold), THRESHOLD_DECIMALS)
        self.languages = sorted(languages)
        if long is not None and (long.weights.shape != self.weights.shape or long.bias.shape != self.bias.shape):
            raise ModelError(f"full-article weights {long.weights.shape} do not match the weights {self.weights.shape}")
        self.long = long
        for one in (encoder, second_encoder):
            if one is not None and one.weights.shape[0] != len(self.labels):
                raise ModelError(f"encoder weights {one.weights.shape} do not match the {len(self.labels)} labels")
        if second_encoder is not None and (encoder is None or second_encoder.file == encoder.file):
            raise ModelError("a second encoder needs a first one and a table file of its own")
        self.encoder = encoder
        self.second_encoder = second_encoder
        #: Each language's encoder (the first encoder's languages win).
        self._encoder_of = {
            language: one for one in (second_encoder, encoder) if one is not None for language in one.languages
        }
        self._build_lookup()
        self._margins = margins_of(self.weights)
        self._long_margins = margins_of(self.long.weights) if self.long is not None else self._margins
        self.version = version or self.content_hash()
        self.card = card or {}
        # Labels the model was not trained on get probability 0 in the record.
        self._missing = [label for label in TOPIC_LABELS if label not in self.labels]

    # -- persistence -------------------------------------------------------------------------
    def content_hash(self) -> str:
        """The model version: a hash of what the model computes with, all of it quantised (see
        __init__), the scalars written as fixed decimal text. The same on every machine."""
        digest = hashlib.sha256()
        digest.update("\n".join(self.vocabulary).encode())
        arrays = [self.idf, self.weights.astype(np.float16), self.bias]
        scalars: dict[str, object] = {
            "labels": self.labels,
            "temperature": f"{self.temperature:.{TEMPERATURE_DIGITS}g}",
            "threshold": f"{self.threshold:.{THRESHOLD_DECIMALS}f}",
            "languages": self.languages,
        }
        if self.long is not None:
            arrays += [self.long.weights.astype(np.float16), self.long.bias]
            scalars["long"] = {"min_words": self.long.min_words, "temperature": f"{self.long.temperature:.{TEMPERATURE_DIGITS}g}"}
        for key, one in self._encoders():
            encoder_arrays, scalars[key] = one.hash_parts()
            arrays += encoder_arrays
        for array in arrays:
            digest.update(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes())
        digest.update(json.dumps(scalars, sort_keys=True).encode())
        return digest.hexdigest()[:12]

    def _encoders(self) -> list[tuple[str, Encoder]]:
        """(key in the model file, encoder) of the encoders this model has, first then second."""
        return [(key, one) for key, one in (("encoder", self.encoder), ("second_encoder", self.second_encoder)) if one is not None]

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {}
        if self.long is not None:
            arrays = {"long_weights": self.long.weights.astype(np.float16), "long_bias": self.long.bias.astype(np.float32)}
        for key, one in self._encoders():
            arrays[f"{key}_word_weights"] = one.word_weights.astype(np.float16)
            arrays[f"{key}_weights"] = one.weights.astype(np.float16)
            arrays[f"{key}_bias"] = one.bias.astype(np.float32)
            self._save_table(folder, one)
        np.savez_compressed(
            folder / MODEL_FILE,
            vocabulary=np.frombuffer("\n".join(self.vocabulary).encode(), dtype=np.uint8),
            idf=self.idf.astype(np.float32),
            # float16 halves the file; the scores move by far less than the calibration's error.
            weights=self.weights.astype(np.float16),
            bias=self.bias.astype(np.float32),
            meta=np.frombuffer(json.dumps(self._meta()).encode(), dtype=np.uint8),
            **arrays,
        )
        return folder / MODEL_FILE

    @staticmethod
    def _save_table(folder: Path, encoder: Encoder) -> None:
        """An encoder's table beside the model file (the same words and vectors; a copy when the
        model is saved elsewhere than the table it was trained with)."""
        target = folder / encoder.file
        if target.is_file():
            try:
                if EncoderTable.load(target).digest == encoder.table.digest:
                    return
            except ModelError:
                pass
        table = encoder.table
        np.savez_compressed(
            target,
            words=np.frombuffer(b"\n".join(table.words), dtype=np.uint8),
            vectors=table.vectors,
            meta=np.frombuffer(json.dumps(table.meta).encode(), dtype=np.uint8),
        )

    def _meta(self) -> dict:
        meta = {
            "format": 1,
            "labels": self.labels,
            "temperature": self.temperature,
            "threshold": self.threshold,
            "languages": self.languages,
            "version": self.version,
        }
        if self.long is not None:
            meta["long"] = {"min_words": self.long.min_words, "temperature": self.long.temperature}
        for key, one in self._encoders():
            meta[key] = {
                "file": one.file,
                "table": one.table.digest,
                "temperature": one.temperature,
                "blend": one.blend,
                "languages": one.languages,
            }
        return meta

    @classmethod
    def load(cls, folder: str | Path | None = None) -> TopicModel:
        folder = Path(folder) if folder else SHIPPED_MODEL_DIR
        path = folder / MODEL_FILE
        if not path.is_file():
            raise ModelError(f"no topic model at {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(data["meta"].tobytes().decode())
                vocabulary = data["vocabulary"].tobytes().decode().split("\n")
                arrays = {name: data[name] for name in ("idf", "weights", "bias")}
                long = None
                if "long" in meta:
                    long = LongArticleWeights(
                        data["long_weights"], data["long_bias"], meta["long"]["min_words"], meta["long"]["temperature"]
                    )
                encoder_arrays = {
                    f"{key}_{name}": data[f"{key}_{name}"]
                    for key in ("encoder", "second_encoder") if key in meta
                    for name in ("word_weights", "weights", "bias")
                }
        except (KeyError, ValueError, OSError) as exc:
            raise ModelError(f"unreadable topic model {path}: {exc}") from exc
        if meta.get("format") != 1:
            raise ModelError(f"unknown model format {meta.get('format')!r} in {path}")
        encoders: dict[str, Encoder] = {}
        for key in ("encoder", "second_encoder"):
            if key not in meta:
                continue
            described = meta[key]
            table = EncoderTable.load(folder / described["file"])
            if table.digest != described["table"]:
                raise ModelError(
                    f"encoder table {folder / described['file']} is {table.digest}, the model was trained with {described['table']}"
                )
            encoders[key] = Encoder(
                table, encoder_arrays[f"{key}_word_weights"], encoder_arrays[f"{key}_weights"],
                encoder_arrays[f"{key}_bias"], described["temperature"], described["blend"], described["languages"],
                described["file"],
            )
        card_path = folder / CARD_FILE
        card = json.loads(card_path.read_text()) if card_path.is_file() else {}
        return cls(
            vocabulary,
            arrays["idf"],
            arrays["weights"],
            arrays["bias"],
            meta["labels"],
            meta["temperature"],
            meta["threshold"],
            meta["languages"],
            version=meta["version"],
            card=card,
            long=long,
            encoder=encoders.get("encoder"),
            second_encoder=encoders.get("second_encoder"),
        )

    # -- inference ---------------------------------------------------------------------------
    def _build_lookup(self) -> None:
        """Tables that find a text's features with one dict look-up per word and numpy for the rest.

        Looking up every bigram and stem string in a 200k-entry dict was most of the time per
        article. Instead: one dict gives each word a slot, a row of the slot table that holds what
        the word is to the model (the SLOT_ columns: its word feature, its stem feature, its word id
        for bigrams, its row in each encoder), so that one numpy gather answers for all the words
        of an article; bigrams → sorted int codes of word-id pairs (searchsorted). A bigram with
        min_df ≥ 2 implies both its words have it too, so every vocabulary bigram is reachable
        this way. The words of the vocabulary and of the encoders have their slots from the start;
        other words get one on first sight (news reuses them: most articles then need no Python per
        word), at most UNKNOWN_WORDS_CACHED of them.
        """
        word_ids: dict[bytes, int] = {}
        word_feature: list[int] = []
        stems: dict[str, int] = {}
        bigrams: list[tuple[str, str, int]] = []
        for feature_id, term in enumerate(self.vocabulary):
            if term.startswith(STEM_MARK):
                stems[term] = feature_id
            elif " " in term:
                first, second = term.split(" ", 1)
                bigrams.append((first, second, feature_id))
            else:
                word_ids[term.encode()] = len(word_feature)
                word_feature.append(feature_id)
        self._stems = stems
        n_words = max(1, len(word_ids))
        if n_words >= 1 << 20:
            raise ModelError(f"{n_words} words: bigram codes (word id pairs, see _features_of) need fewer than 2**20")
        codes, feature_ids = [], []
        for first, second, feature_id in bigrams:
            first_key, second_key = first.encode(), second.encode()
            if first_key in word_ids and second_key in word_ids:
                codes.append(word_ids[first_key] * n_words + word_ids[second_key])
                feature_ids.append(feature_id)
        order = np.argsort(np.array(codes, dtype=np.int64), kind="stable")
        # A sentinel past every code: searchsorted always lands on a valid index.
        self._bigram_codes = np.append(np.array(codes, dtype=np.int64)[order], np.iinfo(np.int64).max)
        self._bigram_feature = np.append(np.array(feature_ids, dtype=np.intp)[order], -1)
        self._n_words = n_words
        # A word outside the vocabulary has word id n_words**2 in the slot table: a pair with it
        # makes a code of at least n_words**2, past every bigram's (and below 2**63).
        self._no_word = n_words * n_words
        encoders = [one for _, one in self._encoders()]
        slots: dict[bytes, int] = dict(word_ids)  # a vocabulary word's slot is its word id
        for one in encoders:
            for word in one.lookup:
                slots.setdefault(word, len(slots))
        self._known_slots = len(slots)
        self._slots = slots
        # Column by column; the dict's order is the slots' order.
        words = list(slots)
        word_feature_column = np.full(len(words), -1, dtype=np.intp)
        word_feature_column[: len(word_feature)] = word_feature
        word_id_column = np.full(len(words), self._no_word, dtype=np.intp)
        word_id_column[: len(word_ids)] = np.arange(len(word_ids))
        self._slot_table = np.column_stack([
            word_feature_column,
            np.array([stem_id(stems, word.decode()) for word in words], dtype=np.intp),
            word_id_column,
            *(np.fromiter(map(one.lookup.get, words, repeat(-1)), dtype=np.intp, count=len(words)) for one in encoders),
        ])
        #: Each encoder's column in the slot table.
        self._encoder_column = {id(one): SLOT_ENCODERS + k for k, one in enumerate(encoders)}

    def _unseen_row(self, word: bytes) -> list[int]:
        """The slot table's row of a word outside the vocabulary and the encoders (their words have
        their slots from the start, so only these get one later): no word feature, no encoder row,
        at most its stem's feature."""
        return [-1, stem_id(self._stems, word.decode()), self._no_word] + [-1] * len(self._encoder_column)

    def _slots_of(self, tokens: list[bytes]) -> np.ndarray:
        """Each word's slot in the slot table (see _build_lookup), giving words not seen yet one."""
        slots = self._slots
        found = np.fromiter(map(slots.get, tokens, repeat(-1)), dtype=np.intp, count=len(tokens))
        if len(tokens) and found.min() < 0:
            unseen = np.flatnonzero(found < 0)
            if len(slots) - self._known_slots + len(unseen) > UNKNOWN_WORDS_CACHED:
                # Start again from the known words; the rows past them are overwritten.
                self._slots = slots = {word: slot for word, slot in slots.items() if slot < self._known_slots}
            for position in unseen.tolist():
                token = tokens[position]
                slot = slots.get(token)
                if slot is None:
                    slot = slots[token] = len(slots)
                    if slot == len(self._slot_table):
                        grown = min(2 * slot, self._known_slots + UNKNOWN_WORDS_CACHED) - slot
                        self._slot_table = np.concatenate((self._slot_table, np.empty((grown, self._slot_table.shape[1]), dtype=np.intp)))
                    self._slot_table[slot] = self._unseen_row(token)
                found[position] = slot
        return found

    def _rows_of(self, tokens: list[bytes]) -> np.ndarray:
        """The slot table's rows of the words, in order."""
        slots = self._slots_of(tokens)  # first: it may grow the table
        return self._slot_table.take(slots, axis=0)

    def _features_of(self, rows: np.ndarray) -> np.ndarray:
        """Vocabulary ids of the features of the words whose slot-table rows these are, one per
        occurrence (as features_of_words), and -1 for each word without a word or stem feature."""
        parts = [rows[:, SLOT_WORD_FEATURE], rows[:, SLOT_STEM_FEATURE]]
        if len(rows) > 1:
            word = rows[:, SLOT_WORD_ID]
            codes = word[:-1] * self._n_words + word[1:]
            # Sorted queries walk the sorted codes in order: fewer cache misses.
            codes.sort()
            where = self._bigram_codes.searchsorted(codes)
            parts.append(self._bigram_feature[where[self._bigram_codes[where] == codes]])
        return np.concatenate(parts)

    def _feature_ids(self, tokens: list[bytes]) -> np.ndarray:
        """Vocabulary ids of the features of the words, one per occurrence (as features_of_words)."""
        found = self._features_of(self._rows_of(tokens))
        return found[found >= 0]

    def _weigh(self, ids: np.ndarray, tf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(ids):
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
        values = SUBLINEAR_TF.take(tf, mode="clip") * self.idf[ids]
        values /= np.sqrt(np.dot(values, values))
        return ids, values

    def _vector_of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids, tf = counted(self._features_of(rows))
        if len(ids) and ids[0] < 0:  # the words without a feature
            ids, tf = ids[1:], tf[1:]
        return self._weigh(ids, tf)

    def _vector(self, tokens: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """Indices and TF-IDF values of the known features of the words (sublinear tf, L2 norm)."""
        return self._vector_of(self._rows_of(tokens))

    def _vector_reference(self, tokens: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """The same as _vector, the plain way (feature strings → dict); kept to test _vector against."""
        strings = [token.decode() for token in tokens]
        counts = Counter(f for f in features_of_words(strings) if f in self.index)
        ids = np.array(sorted(self.index[f] for f in counts), dtype=np.intp)
        tf = np.array([counts[self.vocabulary[i]] for i in ids], dtype=np.int64)
        return self._weigh(ids, tf)

    def _scores(self, tokens: list[bytes]):
        return self._scores_of(self._rows_of(tokens))

    def _scores_of(self, rows: np.ndarray):
        """Probabilities of the article whose words' slot-table rows these are, its feature ids and
        TF-IDF values, and the margins (margins_of) of the weights that scored it: the long model's
        for articles of at least its min_words words."""
        ids, values = self._vector_of(rows)
        weights, bias, temperature, margins = self.weights, self.bias, self.temperature, self._margins
        if self.long is not None and len(rows) >= self.long.min_words:
            weights, bias, temperature, margins = self.long.weights, self.long.bias, self.long.temperature, self._long_margins
        raw = (values @ weights[ids] + bias if len(ids) else bias).tolist()
        return softmax(raw, temperature), ids, values, margins

    def explain(
        self, ids: np.ndarray, values: np.ndarray, margins: np.ndarray, label_index: int, tokens: list[bytes],
        n: int = EXPLANATION_TERMS,
    ) -> list[str]:
        """The terms that pushed most towards label_index rather than towards the other labels
        (margins: margins_of() the weights that scored the article)."""
        if not len(ids):
            return []
        contribution = values * margins[label_index].take(ids)
        keep = min(len(contribution), n * 2)
        top = np.argpartition(-contribution, keep - 1)[:keep]
        top = top[np.argsort(-contribution[top])]
        terms: list[str] = []
        joined = None
        # Plain Python numbers from here: a numpy scalar per comparison costs more than the loop.
        for weight, feature_id in zip(contribution[top].tolist(), ids[top].tolist(), strict=True):
            if weight <= 0:
                break
            feature = self.vocabulary[feature_id]
            if joined is None and feature.startswith(STEM_MARK):
                joined = b" " + b" ".join(tokens) + b" "
            term = display_term(feature, tokens, joined)
            if term not in terms:
                terms.append(term)
            if len(terms) == n:
                break
        return terms

    def predict(self, text: str, language: str | None = None) -> Prediction:
        """The article's scores. language is the article's detected language (ISO 639-1): in one of
        the encoders' languages, the linear model's probabilities are blended with that encoder's
        (computed from the same words); otherwise, or without a language, the linear model answers
        alone."""
        tokens = word_bytes(text)
        slot_rows = self._rows_of(tokens)
        listed, ids, values, margins = self._scores_of(slot_rows)
        encoder = self._encoder_of.get(language) if language is not None else None
        if encoder is not None:
            share = encoder.blend
            found = slot_rows[:, self._encoder_column[id(encoder)]]
            listed = [(1 - share) * p + share * q for p, q in zip(listed, encoder.probabilities_of(found), strict=True)]
        order = sorted(range(len(listed)), key=listed.__getitem__, reverse=True)
        scores = [(self.labels[i], listed[i]) for i in order]
        scores.extend((label, 0.0) for label in self._missing)
        best = order[0]
        return Prediction(
            scores=scores,
            uncertain=listed[best] < self.threshold or not len(ids),
            terms=self.explain(ids, values, margins, best, tokens),
        )

    def supports(self, language_code: str | None) -> bool:
        return language_code in self.languages


def margins_of(weights: np.ndarray) -> np.ndarray:
    """For each label (row) and feature (column): the feature's weight for the label minus its mean
    weight for the other labels, per unit of its TF-IDF value (what explain() ranks terms by). The
    same float32 operations explain() used to do on the weight rows of each article's features,
    done once for the whole table: a row's sum over the labels is the same sum whichever rows are
    gathered with it, so the terms are the same."""
    total = weights.sum(axis=1)
    others = max(1, weights.shape[1] - 1)
    return np.stack([weights[:, label] - (total - weights[:, label]) / others for label in range(weights.shape[1])])


def counted(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values, sorted, and how often each occurs (np.unique's answer at a third of its
    cost on short arrays: one sort, one comparison into a preallocated mask, no index bookkeeping)."""
    if not len(values):
        return values.astype(np.intp), np.zeros(0, dtype=np.int64)
    values = np.sort(values)
    edges = np.empty(len(values) + 1, dtype=bool)
    edges[0] = edges[-1] = True
    np.not_equal(values[1:], values[:-1], out=edges[1:-1])
    bounds = np.flatnonzero(edges)
    return values[bounds[:-1]], bounds[1:] - bounds[:-1]


def stem_id(stems: dict[str, int], word: str) -> int:
    """Vocabulary id of the word's stem feature, -1 when it has none."""
    return stems.get(STEM_MARK + word[:STEM_LENGTH], -1) if len(word) > STEM_LENGTH else -1


_cache: dict[Path, TopicModel] = {}
_lock = threading.Lock()


def load_model(model_dir: str | Path | None = None) -> TopicModel:
    """The model in model_dir (default: the shipped one), loaded once per process."""
    key = Path(model_dir).resolve() if model_dir else SHIPPED_MODEL_DIR
    with _lock:
        model = _cache.get(key)
        if model is None:
            model = _cache[key] = TopicModel.load(key)
        return model
