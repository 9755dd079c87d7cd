"""Configuration: environment variables with the COPYDESK_ prefix, each documented here.

The README's configuration table is generated from SETTINGS (`copydesk config --markdown`),
so a variable cannot exist without a line of documentation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any
from collections.abc import Callable, Mapping

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
    soft_time_limit: int = _setting(9, "Seconds after which an article task is asked to stop (SoftTimeLimitExceeded): quarantined as `time_limit` when it was in the stages, retried when it was waiting for the store. An article takes well under a second.", int)
    time_limit: int = _setting(12, "Seconds after which an article task's process is killed (quarantined as `time_limit` by the worker). Redis' visibility timeout is this + COPYDESK_RETRY_BACKOFF_MAX + 2 s, which bounds redelivery after a worker is killed (see README, Retries).", int)
    max_retries: int = _setting(0, "Retries of an outage (store or broker unreachable, throttling, 5xx, wrong credentials or bucket, model missing) before the article is quarantined as `retries_exhausted`; 0: retry for as long as the outage lasts.", int)
    retry_backoff_max: int = _setting(6, "Longest wait between retries, in seconds (exponential backoff with full jitter). Kept short: a retried task waits in the worker unacknowledged, so this adds to Redis' visibility timeout.", int)
    sweep_time_limit: int = _setting(20, "Seconds one sweep run lists and dispatches before it stops; the next run continues from its cursor (queued at once until the pass is complete).", int)
    sweep_interval: int = _setting(300, "Seconds between reconciling sweeps run by Celery beat; 0 turns the periodic sweep off.", int)
    max_memory_per_child: int = _setting(512_000, "KiB of resident memory after which a pool child is replaced once its task is done (Celery's worker_max_memory_per_child); 0: never.", int)
    max_tasks_per_child: int = _setting(1000, "Tasks after which a pool child is replaced (Celery's worker_max_tasks_per_child); 0: never.", int)
    concurrency: int = _setting(0, "Worker processes per `copydesk worker` (0: one per CPU) and threads for `copydesk run`.", int)
    claim_ttl: int = _setting(0, "Seconds an enqueued (key, etag, pipeline version) stays claimed against duplicate events (0: 300); a task waiting to retry renews its claim.", int)
    http_token: str = _setting("", "Bearer token the HTTP listener requires (`Authorization: Bearer TOKEN`, scheme in any case). Never logged. The listener refuses to start without one unless COPYDESK_HTTP_ALLOW_ANONYMOUS is set.")
    http_allow_anonymous: bool = _setting(False, "Let the HTTP listener run without a token (any client on its network may then announce objects of the configured bucket).", _bool)
    http_max_records: int = _setting(100, "Most records one POSTed notification (or SQS message) may hold; larger ones are refused whole (HTTP 413).", int)
    http_timeout: int = _setting(10, "Seconds the HTTP listener gives a client to send its request (slow clients are cut off) and keeps an idle connection.", int)
    sqs_keep_unparseable: bool = _setting(False, "Leave SQS messages that are not S3 notifications on the queue (for its redrive policy's dead-letter queue) instead of deleting them.", _bool)
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
    def claim_seconds(self) -> int:
        return self.claim_ttl or 300

    @property
    def visibility_timeout(self) -> int:
        """Redis redelivers an unacked task after this. It exceeds the hard time limit plus the
        longest retry countdown (a retried task is held unacknowledged until its countdown
        ends), so a live task is not handed out twice; and it bounds redelivery after a kill."""
        return self.time_limit + self.retry_backoff_max + 2

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
