"""Configuration: environment variables with the COPYDESK_ prefix, each documented here.

The README's configuration table is generated from SETTINGS (`copydesk config --markdown`),
so a variable cannot exist without a line of documentation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any
from collections.abc import Callable, Mapping

if TYPE_CHECKING:
    from tasks.cleaning.markup import ParseLimits

PREFIX = "COPYDESK_"


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _prefix(value: str) -> str:
    value = value.strip().lstrip("/")
    return value if not value or value.endswith("/") else value + "/"


def _setting(default: Any, doc: str, parse: Callable[[str], Any] | None = None):
    return field(default=default, metadata={"doc": doc, "parse": parse})


@dataclass(frozen=True)
class Settings:
    store: str = _setting("file://./data", "Where articles live: `s3://BUCKET` (S3, MinIO, any S3 API; endpoint and credentials from boto3's standard variables such as `AWS_ENDPOINT_URL`) or `file:///path` (a local folder).")
    input_prefix: str = _setting("incoming/", "Prefix of input objects; events for other keys are ignored.", _prefix)
    processed_prefix: str = _setting("processed/", "Prefix of the per-article records (`processed/R.json`).", _prefix)
    logs_prefix: str = _setting("logs/", "Prefix of the per-article lineage logs (`logs/R.jsonl`).", _prefix)
    quarantine_prefix: str = _setting("quarantine/", "Prefix of quarantine records for inputs that cannot be processed.", _prefix)
    index_prefix: str = _setting("index/", "Prefix of the search index: index documents, segments and manifest.", _prefix)
    broker_url: str = _setting("redis://127.0.0.1:6379/0", "Celery broker (Redis). Credentials in it are never logged.")
    max_bytes: int = _setting(20 * 1024 * 1024, "Largest input processed, in bytes; larger inputs are quarantined unread.", int)
    max_markup_chars: int = _setting(8_000_000, "Largest HTML/XML document parsed, in decoded characters; larger ones are quarantined as `too_large`.", int)
    max_elements: int = _setting(100_000, "Most elements (tag openings, counted before parsing) one HTML/XML document may have; more: quarantined as `too_many_elements`.", int)
    max_depth: int = _setting(160, "Deepest element nesting parsed; deeper documents are quarantined as `too_deep`.", int)
    soft_time_limit: int = _setting(120, "Seconds after which a task is asked to stop (SoftTimeLimitExceeded).", int)
    time_limit: int = _setting(180, "Seconds after which a task's process is killed.", int)
    max_retries: int = _setting(6, "Retries of transient errors (store or broker unreachable, throttling, 5xx) before quarantine.", int)
    retry_backoff_max: int = _setting(300, "Longest wait between retries, in seconds (exponential backoff with full jitter).", int)
    sweep_interval: int = _setting(300, "Seconds between reconciling sweeps run by Celery beat; 0 turns the periodic sweep off.", int)
    concurrency: int = _setting(0, "Worker processes per `copydesk worker` (0: one per CPU) and threads for `copydesk run`.", int)
    claim_ttl: int = _setting(0, "Seconds an enqueued (key, etag, pipeline version) stays claimed against duplicate events (0: 2 x time limit).", int)
    http_token: str = _setting("", "Bearer token the HTTP listener requires (empty: none). Never logged.")
    cache_dir: str = _setting("", "Folder for cached index segments (empty: `$XDG_CACHE_HOME/copydesk`, else `~/.cache/copydesk`).")
    model_dir: str = _setting("", "Folder of the topic model to load (empty: the model shipped in the package).")
    log_level: str = _setting("INFO", "Log level of the JSON log on stdout.", str.upper)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = PREFIX + f.name.upper()
            if name in env:
                parse = f.metadata.get("parse") or str
                try:
                    values[f.name] = parse(env[name])
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if self.max_bytes <= 0:
            raise ValueError("COPYDESK_MAX_BYTES must be positive")
        if min(self.max_markup_chars, self.max_elements, self.max_depth) <= 0:
            raise ValueError("COPYDESK_MAX_MARKUP_CHARS, COPYDESK_MAX_ELEMENTS and COPYDESK_MAX_DEPTH must be positive")
        if not 0 < self.soft_time_limit < self.time_limit:
            raise ValueError("COPYDESK_SOFT_TIME_LIMIT must be positive and below COPYDESK_TIME_LIMIT")
        outputs = [self.processed_prefix, self.logs_prefix, self.quarantine_prefix, self.index_prefix]
        for out in outputs:
            if out.startswith(self.input_prefix) or self.input_prefix.startswith(out) or not self.input_prefix:
                raise ValueError(
                    f"output prefix {out!r} overlaps the input prefix {self.input_prefix!r}: "
                    "results would trigger themselves"
                )

    @property
    def parse_limits(self) -> ParseLimits:
        """The clean stage's bounds of one page's parse, as the plain values the stage takes."""
        from tasks.cleaning.markup import ParseLimits

        return ParseLimits(self.max_markup_chars, self.max_elements, self.max_depth)

    @property
    def claim_seconds(self) -> int:
        return self.claim_ttl or 2 * self.time_limit

    @property
    def visibility_timeout(self) -> int:
        """Redis redelivers an unacked task after this; it must exceed the hard time limit."""
        return self.time_limit + 60

    def with_(self, **changes: Any) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return type(self)(**values)


def documentation() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting, for the README and `--help`."""
    rows = []
    for f in fields(Settings):
        rows.append((PREFIX + f.name.upper(), repr(f.default) if f.default != "" else "(empty)", f.metadata["doc"]))
    return rows
