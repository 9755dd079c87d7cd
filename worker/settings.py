"""Configuration: environment variables with the COPYDESK_ prefix, each documented here.

pydantic-settings reads and validates them when a command asks for them (never at import);
an invalid value is refused with a message that names the variable, the value and what is
wanted (`SettingsError`). The README's configuration table is generated from the fields
(`copydesk config --markdown`), so a variable cannot exist without a line of documentation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .storage.urls import normalise_store_url

if TYPE_CHECKING:
    from tasks.cleaning.markup import ParseLimits

PREFIX = "COPYDESK_"
#: Seconds a batch of articles (COPYDESK_DISPATCH_BATCH) may spend before it starts its last
#: article: its message's time limits are the article's plus this, so every article of a batch
#: gets at least the soft time limit, and Redis' visibility timeout covers it.
BATCH_BUDGET_SECONDS = 3


class SettingsError(ValueError):
    """One or more settings are invalid; the message has one line per problem, in words."""


def _prefix(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = value.strip().lstrip("/")
    return value if not value or value.endswith("/") else value + "/"


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _store(value: str) -> str:
    return normalise_store_url(value)


Prefix = Annotated[str, BeforeValidator(_prefix)]
StoreUrl = Annotated[str, AfterValidator(_store)]
LogFormat = Annotated[Literal["json", "console"], BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v)]
LogLevel = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(_upper)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="forbid", validate_default=True)

    store: StoreUrl = Field("file://./data", description="Where articles live: `s3://BUCKET` (S3, MinIO, any S3 API; endpoint and credentials from boto3's standard variables such as `AWS_ENDPOINT_URL`) or a local folder: `file:///absolute/path` or `file:relative/path` (relative to the working directory). A scheme is required; a root inside the bucket (`s3://BUCKET/ROOT`) is refused: use the prefixes below.")
    input_prefix: Prefix = Field("incoming/", description="Prefix of input objects; events for other keys are ignored.")
    processed_prefix: Prefix = Field("processed/", description="Prefix of the per-article records (`processed/R.json`).")
    logs_prefix: Prefix = Field("logs/", description="Prefix of the per-article lineage logs (`logs/R.jsonl`).")
    quarantine_prefix: Prefix = Field("quarantine/", description="Prefix of quarantine records for inputs that cannot be processed.")
    index_prefix: Prefix = Field("index/", description="Prefix of the search index: pending markers (the index documents), segments and manifest.")
    broker_url: str = Field("redis://127.0.0.1:6379/0", description="Celery broker (Redis). Credentials in it are never logged.")
    max_bytes: int = Field(20 * 1024 * 1024, gt=0, description="Largest input processed, in bytes; larger inputs are quarantined unread.")
    max_markup_chars: int = Field(8_000_000, gt=0, description="Largest HTML/XML document parsed, in decoded characters; larger ones are quarantined as `too_large`.")
    max_elements: int = Field(100_000, gt=0, description="Most elements (tag openings, counted before parsing) one HTML/XML document may have; more: quarantined as `too_many_elements`.")
    max_depth: int = Field(160, gt=0, description="Deepest element nesting parsed; deeper documents are quarantined as `too_deep`.")
    soft_time_limit: int = Field(9, gt=0, description="Seconds after which an article task is asked to stop (SoftTimeLimitExceeded): quarantined as `time_limit` when it was in the stages, retried when it was waiting for the store. An article takes well under a second.")
    time_limit: int = Field(12, gt=0, description="Seconds after which an article task's process is killed (quarantined as `time_limit` by the worker). Redis' visibility timeout is this + COPYDESK_RETRY_BACKOFF_MAX (at least 3 s, a batch's budget) + 2 s, which bounds redelivery after a worker is killed (see README, Broker).")
    max_retries: int = Field(0, ge=0, description="Retries of an outage (store or broker unreachable, throttling, 5xx, wrong credentials or bucket, model missing) before the article is quarantined as `retries_exhausted`; 0: retry for as long as the outage lasts.")
    retry_backoff_max: int = Field(6, ge=0, description="Longest wait between retries, in seconds (exponential backoff with full jitter). Kept short: a retried task waits in the worker unacknowledged, so this adds to Redis' visibility timeout.")
    sweep_time_limit: int = Field(20, gt=0, description="Seconds one sweep run lists and dispatches before it stops; the next run continues from its cursor (queued at once until the pass is complete).")
    sweep_interval: int = Field(300, ge=0, description="Seconds between reconciling sweeps run by Celery beat; 0 turns the periodic sweep off.")
    max_memory_per_child: int = Field(512_000, ge=0, description="KiB of resident memory after which a pool child is replaced once its task is done (Celery's worker_max_memory_per_child); 0: never.")
    max_tasks_per_child: int = Field(1000, ge=0, description="Tasks after which a pool child is replaced (Celery's worker_max_tasks_per_child); 0: never.")
    concurrency: int = Field(0, ge=0, description="Worker processes per `copydesk worker` and `copydesk run` (0: one per CPU).")
    dispatch_batch: int = Field(16, ge=1, le=256, description="Most articles the dispatcher puts in one task message when a source has several events at hand (a sweep's page, one SQS poll, one POSTed notification); the worker runs them with one group commit (folder store: one flush of the file system for the batch). 1: one article per message, as before issue 15's fourth session. Upgrade workers before listeners and beat: an older worker does not know the batch task.")
    dispatch_batch_seconds: float = Field(0.2, ge=0, le=60, description="Longest an article waits in the dispatcher for its batch to fill, in seconds (a batch is also sent as soon as the source has no more events at hand).")
    claim_ttl: int = Field(0, ge=0, description="Seconds an enqueued (key, etag, pipeline version) stays claimed against duplicate events (0: 300); a task waiting to retry renews its claim.")
    http_token: str = Field("", description="Bearer token the HTTP listener requires (`Authorization: Bearer TOKEN`, scheme in any case). Never logged. The listener refuses to start without one unless COPYDESK_HTTP_ALLOW_ANONYMOUS is set.")
    http_allow_anonymous: bool = Field(False, description="Let the HTTP listener run without a token (any client on its network may then announce objects of the configured bucket).")
    http_max_records: int = Field(100, gt=0, description="Most records one POSTed notification may hold; larger ones are refused whole (HTTP 413).")
    http_timeout: int = Field(10, gt=0, description="Seconds the HTTP listener gives a client to send its request body (slower clients get 408) and keeps an idle connection.")
    sqs_keep_unparseable: bool = Field(False, description="Leave SQS messages that are not S3 notifications on the queue (for its redrive policy's dead-letter queue) instead of deleting them.")
    fsync_records: bool = Field(True, description="Folder store only: make each record and quarantine record durable before renaming it into place (Celery workers: one group commit per task message, i.e. per batch of up to COPYDESK_DISPATCH_BATCH articles, one fsync for a message of one article; `copydesk run`: one group commit per batch of up to 32 records per worker thread, see \"Group commit in `copydesk run`\"). Off: a power loss may lose the records of the last seconds (their inputs are processed again by the next sweep or run; outputs are rewritten in place, nothing else is lost). One fsync per article cost 3-5 ms of system CPU and 3-7 ms of wall time on the 2-core test VM, more than the stages of a text article (issue 15).")
    cache_dir: str = Field("", description="Folder for cached index segments (empty: `$XDG_CACHE_HOME/copydesk`, else `~/.cache/copydesk`).")
    model_dir: str = Field("", description="Folder of the topic model to load (empty: the model shipped in the package).")
    watch_settle_seconds: float = Field(1.0, ge=0, le=3600, description="`copydesk run` without --once: seconds a new file's size and modification time must stay unchanged before it is processed (a file still being written waits).")
    beat_schedule: str = Field("", description="File where `copydesk beat` keeps its schedule state (empty: `$XDG_STATE_HOME/copydesk/celerybeat-schedule`, else `~/.local/state/copydesk/celerybeat-schedule`; never the working directory).")
    metrics_port: int = Field(0, ge=0, le=65535, description="Port on which a worker, beat or the SQS listener serves Prometheus `/metrics` (0: none). The HTTP listener serves `/metrics` on its own port.")
    queue_max_age: int = Field(600, gt=0, description="Seconds a message may wait in a queue before `copydesk status` exits non-zero (a probe).")
    log_level: LogLevel = Field("INFO", description="Log level: DEBUG, INFO, WARNING, ERROR or CRITICAL.")
    log_format: LogFormat = Field("json", description="`json`: one JSON object per event on stderr (every command); `console`: the same events rendered for a person.")

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.soft_time_limit >= self.time_limit:
            raise ValueError(
                f"COPYDESK_SOFT_TIME_LIMIT ({self.soft_time_limit}) must be below COPYDESK_TIME_LIMIT ({self.time_limit})"
            )
        if not self.input_prefix:
            raise ValueError("COPYDESK_INPUT_PREFIX must not be empty: every output would be an input")
        for name in ("processed_prefix", "logs_prefix", "quarantine_prefix", "index_prefix"):
            out = getattr(self, name)
            if out.startswith(self.input_prefix) or self.input_prefix.startswith(out):
                raise ValueError(
                    f"{PREFIX}{name.upper()} ({out!r}) overlaps COPYDESK_INPUT_PREFIX ({self.input_prefix!r}): "
                    "results would trigger themselves"
                )
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from `env` (default: the process environment) plus non-None `overrides`.

        Raises SettingsError, whose message names each invalid variable and says why.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            variable = PREFIX + name.upper()
            if variable in env:
                values[name] = env[variable]
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            # model_validate skips pydantic-settings' own sources: `env` is the only input.
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc, values)) from None

    @property
    def parse_limits(self) -> ParseLimits:
        """The clean stage's bounds of one page's parse, as the plain values the stage takes."""
        from tasks.cleaning.markup import ParseLimits

        return ParseLimits(self.max_markup_chars, self.max_elements, self.max_depth)

    @property
    def beat_schedule_path(self) -> str:
        if self.beat_schedule:
            return os.path.abspath(os.path.expanduser(self.beat_schedule))
        state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
        return os.path.join(state, "copydesk", "celerybeat-schedule")

    @property
    def claim_seconds(self) -> int:
        return self.claim_ttl or 300

    @property
    def visibility_timeout(self) -> int:
        """Redis redelivers an unacked task after this. It exceeds the hard time limit plus the
        longest retry countdown (a retried task is held unacknowledged until its countdown
        ends) and above a batch's hard time limit (the article's plus BATCH_BUDGET_SECONDS), so a
        live task is not handed out twice; and it bounds redelivery after a kill."""
        return self.time_limit + max(self.retry_backoff_max, BATCH_BUDGET_SECONDS) + 2

    def with_(self, **changes: Any) -> Settings:
        values = self.model_dump()
        values.update(changes)
        return type(self).from_env({}, **values)


#: pydantic error types whose stock message reads like a parser's.
_WORDS = {
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "greater_than_equal": "must be {ge} or more",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be {le} or less",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "extra_forbidden": "is not a setting",
}


def _describe(exc: ValidationError, values: Mapping[str, Any]) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        message = _WORDS.get(error["type"], error["msg"]).format(**error.get("ctx", {}))
        # pydantic's messages start "Value error, " for our own validators and "Input should
        # be ..." for its types: keep the words, drop the jargon.
        message = message.removeprefix("Value error, ").replace("Input should be", "must be", 1)
        if loc and loc[0] in Settings.model_fields:
            variable = PREFIX + loc[0].upper()
            lines.append(f"{variable}={values.get(loc[0])!r}: {message}")
        else:
            lines.append(message)
    return "; ".join(lines)


def documentation() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting, for the README and `--help`."""
    rows = []
    for name, info in Settings.model_fields.items():
        default = info.default
        rows.append((PREFIX + name.upper(), repr(default) if default != "" else "(empty)", info.description or ""))
    return rows
