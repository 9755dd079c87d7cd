"""Classify: the article's language, then its topic scores with the terms that decided it.

DetectLanguage: ISO 639-1 code and confidence (tasks.classification.language).
ClassifyTopics: every label of TOPIC_LABELS with a calibrated probability, best first; flagged
uncertain when the best score is below the model's calibrated threshold, or when the article's
language is one the model has no training data for (then the scores are uniform: no guess).
"""

from __future__ import annotations

from ..article import Article
from ..classification.features import document
from ..classification.labels import TOPIC_LABELS
from ..classification.language import detect
from ..classification.topics import TopicModel, load_model
from ..stage import Stage

__all__ = ["DetectLanguage", "ClassifyTopics", "TOPIC_LABELS", "warm_up"]


class DetectLanguage(Stage):
    name = "language"
    version = "1"
    required = False

    def action(self, article: Article) -> None:
        article.language = detect(document(article.title, article.text)).as_dict()


class ClassifyTopics(Stage):
    name = "topics"
    version = "1"
    required = False

    def __init__(self, model_dir: str | None = None):
        self.model_dir = model_dir or None

    @property
    def model(self) -> TopicModel:
        # load_model caches per folder: loaded once per process, on first use.
        return load_model(self.model_dir)

    def fingerprint(self) -> str:
        return f"{self.name}={self.version}+model.{self.model.version}"

    def action(self, article: Article) -> None:
        model = self.model
        language = (article.language or {}).get("code")
        if language is not None and not model.supports(language):
            article.topics = uniform_scores()
            article.topic_uncertain = True
            article.topic_terms = []
            return
        # The detected language also decides which encoder is blended in (English: the first, German: the second).
        prediction = model.predict(document(article.title, article.text), language)
        article.topics = [{"label": label, "score": round(score, 4)} for label, score in prediction.scores]
        article.topic_uncertain = prediction.uncertain
        article.topic_terms = prediction.terms


def uniform_scores() -> list[dict]:
    return [{"label": label, "score": round(1 / len(TOPIC_LABELS), 4)} for label in TOPIC_LABELS]


def warm_up(model_dir: str | None = None) -> None:
    """Load the language model (~1 s: py3langid decompresses it) and the topic model now rather
    than on the first article; for a worker process to call at start."""
    detect("warm up")
    load_model(model_dir)
