"""Classify: language and topic. (First version; see issue 4.)"""

from __future__ import annotations

import py3langid

from ..article import Article
from ..pipeline import Stage

TOPIC_LABELS = ("world", "politics", "business", "sports", "scitech", "entertainment", "health")


class DetectLanguage(Stage):
    name = "language"
    version = "0"
    required = False

    def action(self, article: Article) -> None:
        code, score = py3langid.classify(article.text[:5000])
        article.language = {"code": code, "score": round(float(score), 4)}


class ClassifyTopics(Stage):
    name = "topics"
    version = "0"
    required = False

    def action(self, article: Article) -> None:
        # Placeholder until the trained model lands: every label equally likely, flagged uncertain.
        article.topics = [{"label": label, "score": round(1 / len(TOPIC_LABELS), 4)} for label in TOPIC_LABELS]
        article.topic_uncertain = True
