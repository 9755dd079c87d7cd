"""The base class of a pipeline stage (see tasks/pipeline.py for the ordered list).

A stage module imports only this and the article model, so the pipeline can import every stage
without an import circle.
"""

from __future__ import annotations

from .article import Article


class Stage:
    """One step of the pipeline. Subclasses set name and version and implement action."""

    name: str = "stage"
    #: Bump when the stage's output for the same input changes.
    version: str = "1"
    #: A required stage's failure fails the article; an optional one's is noted and skipped.
    required: bool = True

    def predicate(self, article: Article) -> bool:
        return True

    def action(self, article: Article) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def fingerprint(self) -> str:
        return f"{self.name}={self.version}"
