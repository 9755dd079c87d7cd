"""The processing pipeline: one ordered, declarative list of small stages.

Each stage has a `predicate` (does it apply to this article?) and an `action` (do it). A stage
that raises BadInput stops the pipeline and the article is quarantined. Any other failure of a
stage marked `required = False` is contained: it is noted on the article and the rest go on, in
the manner of socorro's processor rules. Every stage is timed.

`Pipeline.version` names the stages' versions (the topic stage's includes its model's): a
record written by another pipeline version is stale and the sweep reprocesses it.

`process_document` is the one way to run it: bytes in, a record or a quarantine record out, no
I/O. `copydesk process` and the article job (worker/processing.py) both call it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from .article import Article, BadInput, Source
from .record import build_quarantine, build_record
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
                # The record is public: it names the error class; the message goes to the log only.
                article.notes.append({"stage": stage.name, "error": type(exc).__name__})
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


@dataclass
class Processed:
    """What one input became: a record (`article` is set) or a quarantine record (`error` says
    why), never both."""

    record: dict[str, Any] | None = None
    quarantine: dict[str, Any] | None = None
    article: Article | None = None
    error: BadInput | None = None


def process_document(
    raw: bytes,
    source: Source,
    pipeline: Pipeline,
    *,
    max_bytes: int | None = None,
    task_id: str | None = None,
    attempts: int = 1,
    on_stage: Callable[[str, float], None] | None = None,
) -> Processed:
    """Bytes in, the record or the quarantine record out: no I/O, nothing but the stages.

    Bad input (too large, binary, empty, no text, ...) is a quarantine record, not an exception;
    a crash of a required stage propagates (the caller decides what a crash means for it).
    """
    try:
        if max_bytes is not None and len(raw) > max_bytes:
            raise BadInput("too_large", f"{len(raw)} bytes is over the limit of {max_bytes} bytes")
        article = pipeline.run(Article(source=source, raw=raw), on_stage=on_stage)
    except BadInput as error:
        quarantine = build_quarantine(source, pipeline.version, reason=error.reason, error=error, attempts=attempts, task_id=task_id)
        return Processed(quarantine=quarantine, error=error)
    record = build_record(article, pipeline.version, task={"id": task_id, "attempts": attempts})
    return Processed(record=record, article=article)
