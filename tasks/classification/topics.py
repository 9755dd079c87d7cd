"""The topic model at run time: load it once, score an article, say which terms weighed most.

A model is a folder with `model.npz` (vocabulary, idf, per-label weights, bias, calibration)
and `model_card.json`. Inference is TF-IDF (sublinear tf, L2 norm) → linear scores → softmax
with a temperature fitted on held-back data, so the scores are calibrated probabilities.
Only numpy is needed here; training (scikit-learn) lives in `training`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .features import display_term, features_of_words, words
from .labels import TOPIC_LABELS

SHIPPED_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "topics"
MODEL_FILE = "model.npz"
CARD_FILE = "model_card.json"
#: How many terms the record keeps as the explanation of its topic.
EXPLANATION_TERMS = 5


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
    ):
        unknown = set(labels) - set(TOPIC_LABELS)
        if unknown:
            raise ModelError(f"labels outside {TOPIC_LABELS}: {sorted(unknown)}")
        self.vocabulary = vocabulary
        self.index = {term: i for i, term in enumerate(vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float32)
        self.weights = np.asarray(weights, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.labels = list(labels)
        self.temperature = float(temperature)
        self.threshold = float(threshold)
        self.languages = list(languages)
        self.version = version or self.content_hash()
        self.card = card or {}
        # Labels the model was not trained on get probability 0 in the record.
        self._missing = [label for label in TOPIC_LABELS if label not in self.labels]

    # -- persistence -------------------------------------------------------------------------
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        digest.update("\n".join(self.vocabulary).encode())
        for array in (self.idf, self.weights.astype(np.float16), self.bias):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(json.dumps([self.labels, self.temperature, self.threshold, self.languages]).encode())
        return digest.hexdigest()[:12]

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            folder / MODEL_FILE,
            vocabulary=np.frombuffer("\n".join(self.vocabulary).encode(), dtype=np.uint8),
            idf=self.idf.astype(np.float32),
            # float16 halves the file; the scores move by far less than the calibration's error.
            weights=self.weights.astype(np.float16),
            bias=self.bias.astype(np.float32),
            meta=np.frombuffer(json.dumps(self._meta()).encode(), dtype=np.uint8),
        )
        return folder / MODEL_FILE

    def _meta(self) -> dict:
        return {
            "format": 1,
            "labels": self.labels,
            "temperature": self.temperature,
            "threshold": self.threshold,
            "languages": self.languages,
            "version": self.version,
        }

    @classmethod
    def load(cls, folder: str | Path | None = None) -> "TopicModel":
        folder = Path(folder) if folder else SHIPPED_MODEL_DIR
        path = folder / MODEL_FILE
        if not path.is_file():
            raise ModelError(f"no topic model at {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(data["meta"].tobytes().decode())
                vocabulary = data["vocabulary"].tobytes().decode().split("\n")
                arrays = {name: data[name] for name in ("idf", "weights", "bias")}
        except (KeyError, ValueError, OSError) as exc:
            raise ModelError(f"unreadable topic model {path}: {exc}") from exc
        if meta.get("format") != 1:
            raise ModelError(f"unknown model format {meta.get('format')!r} in {path}")
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
        )

    # -- inference ---------------------------------------------------------------------------
    def _vector(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Indices and TF-IDF values of the known features of the words (sublinear tf, L2 norm)."""
        index = self.index
        counts = Counter(feature for feature in features_of_words(tokens) if feature in index)
        if not counts:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
        ids = np.fromiter((index[f] for f in counts), dtype=np.intp, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        values = (1.0 + np.log(tf)) * self.idf[ids]
        values /= np.sqrt(np.dot(values, values))
        return ids, values

    def probabilities(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probabilities over self.labels, feature ids, feature values) for the words of a text."""
        ids, values = self._vector(tokens)
        scores = values @ self.weights[ids] + self.bias if len(ids) else self.bias.copy()
        scores = scores * self.temperature
        scores = np.exp(scores - scores.max())
        return scores / scores.sum(), ids, values

    def explain(
        self, ids: np.ndarray, values: np.ndarray, label_index: int, tokens: list[str], n: int = EXPLANATION_TERMS
    ) -> list[str]:
        """The terms that pushed most towards label_index rather than towards the other labels."""
        if not len(ids):
            return []
        rows = self.weights[ids]
        others = np.delete(rows, label_index, axis=1).mean(axis=1)
        contribution = values * (rows[:, label_index] - others)
        top = np.argsort(-contribution)[: n * 2]
        terms: list[str] = []
        for position in top:
            if contribution[position] <= 0:
                break
            term = display_term(self.vocabulary[ids[position]], tokens)
            if term not in terms:
                terms.append(term)
            if len(terms) == n:
                break
        return terms

    def predict(self, text: str) -> Prediction:
        tokens = words(text)
        probs, ids, values = self.probabilities(tokens)
        order = np.argsort(-probs)
        scores = [(self.labels[i], float(probs[i])) for i in order]
        scores.extend((label, 0.0) for label in self._missing)
        best = int(order[0])
        return Prediction(
            scores=scores,
            uncertain=bool(probs[best] < self.threshold) or not len(ids),
            terms=self.explain(ids, values, best, tokens),
        )

    def supports(self, language_code: str | None) -> bool:
        return language_code in self.languages


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
