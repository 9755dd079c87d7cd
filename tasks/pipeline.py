"""The processing pipeline: one ordered, declarative list of small stages.

Each stage has a `predicate` (does it apply to this article?) and an `action` (do it). A stage
that raises BadInput stops the pipeline and the article is quarantined. Any other failure of a
stage marked `required = False` is contained: it is noted on the article and the rest go on, in
the manner of socorro's processor rules. Every stage is timed.

`Pipeline.version` names the stages' versions (the topic stage's includes its model's): a
record written by another pipeline version is stale and the sweep reprocesses it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import structlog

from .article import Article, BadInput, Source
from .stage import Stage

if TYPE_CHECKING:
    from .cleaning.markup import ParseLimits

log = structlog.get_logger("copydesk.pipeline")


class Pipeline:
    def __init__(self, stages: Sequence[Stage]):
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique: {names}")
        self.stages = tuple(stages)

    @property
    def version(self) -> str:
        spec = ";".join(stage.fingerprint() for stage in self.stages)
        return "1-" + hashlib.sha256(spec.encode()).hexdigest()[:12]

    def run(self, article: Article, on_stage: Callable[[str, float], None] | None = None) -> Article:
        """Run every stage in order. Raises BadInput for inputs that must be quarantined."""
        for stage in self.stages:
            if not stage.predicate(article):
                continue
            started = time.perf_counter()
            try:
                stage.action(article)
            except BadInput:
                raise
            except Exception as exc:
                if stage.required:
                    raise
                article.notes.append(
                    {"stage": stage.name, "error": type(exc).__name__, "message": str(exc)[:500]}
                )
                log.warning("stage_failed", stage=stage.name, error=type(exc).__name__, message=str(exc)[:500])
            finally:
                elapsed = round((time.perf_counter() - started) * 1000, 3)
                article.timings_ms[stage.name] = elapsed
                if on_stage is not None:
                    on_stage(stage.name, elapsed)
        return article


def build_pipeline(model_dir: str | None = None, parse_limits: ParseLimits | None = None) -> Pipeline:
    """The stages, in order. model_dir names a topic model other than the shipped one;
    parse_limits bound one page's parse in the clean stage (defaults when None)."""
    # Imported here so that importing the pipeline module stays cheap for the CLI.
    from .stages.classify import ClassifyTopics, DetectLanguage
    from .stages.clean import Clean
    from .stages.decode import Decode
    from .stages.index import BuildIndexDocument

    return Pipeline(
        [
            Decode(),
            Clean(parse_limits),
            DetectLanguage(),
            ClassifyTopics(model_dir=model_dir),
            BuildIndexDocument(),
        ]
    )


_default: Pipeline | None = None


def default_pipeline() -> Pipeline:
    global _default
    if _default is None:
        _default = build_pipeline()
    return _default


def pipeline_version() -> str:
    return default_pipeline().version


def process_bytes(raw: bytes, source: Source, pipeline: Pipeline | None = None) -> Article:
    """The processing entry point: bytes and metadata in, a filled Article out (no I/O)."""
    article = Article(source=source, raw=raw)
    return (pipeline or default_pipeline()).run(article)
