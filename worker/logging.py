"""structlog JSON logging: one line per event on stderr, and the per-article lineage log.

stderr for every command, so that what a command prints as its result on stdout (records,
tables, search hits, counts) is never mixed with its logs. COPYDESK_LOG_FORMAT=console renders
the same events for a human instead of as JSON.

Everything, including Celery's and libraries' stdlib logging, goes through one renderer. Two
processors run before it:
- `redact_secrets` masks passwords in URLs (redis://:pw@host), and values of keys that name
  credentials, so no secret ever reaches a log line;
- `capture_article_event` copies events bound to an article (a `key` in the context)
  into the active ArticleLog, which the job writes to `logs/R.jsonl`.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import re2
import structlog

SECRET_KEY_RE = re.compile(r"pass(word)?|secret|token|credential|authorization|api[_-]?key|access[_-]?key", re.I)

def _linear(pattern: str):
    """Case-insensitive RE2 (linear time): every string value of every log event is redacted,
    and some carry untrusted text; with `re` this pattern was quadratic on a long run of letters
    (40 KB took 9 s). Not tasks.cleaning.linear.compile_linear: importing that package loads
    lxml, and every command, `copydesk status` included, imports this module."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return re2.compile(pattern, options)


URL_PASSWORD_RE = _linear(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")
BEARER_RE = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.I)
AWS_SECRET_RE = re.compile(r"(aws_secret_access_key\s*[=:]\s*)\S+", re.I)
REDACTED = "***"


#: What each of the three patterns needs in a text to match at all (literals, linear): a text
#: without any is returned as it is, with no pass of the patterns (most values: keys, event
#: names, numbers as text; issue 15: the three passes were ~0.5 ms of an article's CPU).
REDACT_TRIGGER_RE = re.compile(r"://|bearer|aws_secret_access_key", re.I)


def redact_text(text: str) -> str:
    if REDACT_TRIGGER_RE.search(text) is None:
        return text
    text = URL_PASSWORD_RE.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    text = BEARER_RE.sub(rf"\1{REDACTED}", text)
    return AWS_SECRET_RE.sub(rf"\1{REDACTED}", text)


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    """Does this field name name a credential? (Field names repeat: asked once per name.)"""
    return SECRET_KEY_RE.search(key) is not None


#: Values no pattern can match: returned as they are, with no call.
_PLAIN = (int, float, bool, type(None))
_PLAIN_TYPES = frozenset(_PLAIN)
#: Fields the processors add to every event, never carrying a secret ("event" is not one: a
#: library's stdlib record carries its free text there).
_OWN_FIELDS = frozenset(("level", "logger", "timestamp"))


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict):
        return {k: (REDACTED if v and _secret_key(str(k)) else v if isinstance(v, _PLAIN) else _redact_value(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(v) for v in value]
    return value


_needs_redaction = REDACT_TRIGGER_RE.search


def redact_secrets(_logger, _method, event_dict: dict) -> dict:
    for key, value in event_dict.items():  # values replaced in place: no key added or removed
        if key in _OWN_FIELDS:
            continue
        kind = type(value)
        if value and key != "event" and _secret_key(key):
            event_dict[key] = REDACTED  # a credential-named field, whatever its type
        elif kind in _PLAIN_TYPES:
            continue
        elif kind is str:
            if _needs_redaction(value) is not None:  # most strings: one search, no call
                event_dict[key] = redact_text(value)
        else:
            event_dict[key] = _redact_value(value)
    return event_dict


class ArticleLog:
    """Collects the events bound to one article during one task run, in order."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        #: Set by the job: nothing was logged for this article before (one PUT, no append).
        self.fresh = False
        #: Some lines were already written to the store in this run (later ones append).
        self.flushed = False

    def add(self, event_dict: MutableMapping[str, Any]) -> str:
        line = _dumps(event_dict)
        self.lines.append(line)
        return line

    def render(self) -> bytes:
        return ("\n".join(self.lines) + "\n").encode() if self.lines else b""


_article_log: contextvars.ContextVar[ArticleLog | None] = contextvars.ContextVar("article_log", default=None)


def start_article_log() -> tuple[ArticleLog, contextvars.Token]:
    collector = ArticleLog()
    return collector, _article_log.set(collector)


def stop_article_log(token: contextvars.Token) -> None:
    _article_log.reset(token)


def _dumps(event_dict: MutableMapping[str, Any]) -> str:
    return json.dumps(event_dict, default=str, ensure_ascii=False)


#: Where capture_article_event leaves the JSON line it made, for the stderr renderer to reuse
#: (one encoding per event, not two).
_LINE = "_copydesk_line"


def capture_article_event(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    collector = _article_log.get()
    if collector is not None and event_dict.get("key"):
        event_dict[_LINE] = collector.add(event_dict)
    return event_dict


def _render(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """The last processor of structlog events. JSON: the line (the lineage log's, when there
    is one), handed to stdlib logging beside the event dict; `_Formatter` writes it as it is.
    Console: the event dict, for the formatter's renderer. (Decided per call, not by the
    processor list: loggers keep their list once used.)"""
    line = event_dict.pop(_LINE, None)
    if _console:
        return structlog.stdlib.ProcessorFormatter.wrap_for_formatter(logger, method, event_dict)
    return (event_dict,), {"extra": {_LINE: line if line is not None else _dumps(event_dict)}}


class _Formatter(structlog.stdlib.ProcessorFormatter):
    """A line structlog already rendered is written as it is (no copy of the record, no second
    pass of the processors); everything else (stdlib logging: Celery, libraries, console
    rendering) goes through the ProcessorFormatter."""

    def format(self, record: logging.LogRecord) -> str:
        line = getattr(record, _LINE, None)
        if line is not None:
            return line
        return super().format(record)


#: Set by configure_logging: copydesk's DEBUG events are made (processed) only when True;
#: events are rendered for a person (COPYDESK_LOG_FORMAT=console) when _console is.
_debug = False
_console = False


class _BoundLogger(structlog.stdlib.BoundLogger):
    """The stdlib BoundLogger with DEBUG decided before anything runs: a filtered `debug` call
    (7 per article: the per-stage timings) copies no context and runs no processor."""

    def debug(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        if not _debug:
            return None
        return super().debug(event, *args, **kw)


def _shared_processors() -> list:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]


_configured = False


class _Stderr:
    """sys.stderr as it is at each write: a live display (rich) that redirects stderr then
    shows the log lines above itself instead of being torn by them."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def debug_enabled() -> bool:
    """Are copydesk's DEBUG events made? (Callers skip building them when not.)"""
    return _debug


def is_configured() -> bool:
    return _configured


def configure_logging(level: str = "INFO", stream=None, fmt: str = "json") -> None:
    """Route structlog and stdlib logging through one renderer (JSON unless fmt="console") on
    stderr (or `stream`)."""
    global _configured, _debug, _console
    stream = stream or _Stderr()
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=hasattr(stream, "isatty") and stream.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer(default=str, ensure_ascii=False)
    )
    # JSON: structlog events are rendered by the last processor (once: the lineage log's line
    # when there is one); console: by the formatter, like stdlib records.
    _console = fmt == "console"
    shared = _shared_processors()
    # copydesk's own loggers drop events below INFO (or below the level, when it is DEBUG)
    # before any processor runs, so the per-stage `stage_finished` events at DEBUG cost nothing;
    # the lineage log keeps every article event at INFO and above whatever the stdout level
    # (the article's start, the one `article_processed` summary with every stage's timing,
    # warnings); the level applies to the stream handler.
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            capture_article_event,
            _render,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=_BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = _Formatter(
        foreign_pre_chain=[*shared, _rename_stdlib_message],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.setLevel(level)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    numeric = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    # No caller lookup per record (the logging docs' "Optimization" section): no line shows
    # a record's file or line, and the lookup walked the stack on every event (issue 15).
    logging._srcfile = None
    logging.getLogger("copydesk").setLevel(min(logging.INFO, numeric))
    _debug = isinstance(numeric, int) and numeric <= logging.DEBUG
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "watchdog"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # Celery's "Task ... received" (worker main process) and "Task ... succeeded in ...: <repr
    # of the result>" (pool child) lines: one each per task at INFO, saying less than the
    # article's own `article_processed` event, at ~35 and ~100 us of CPU each (issue 15).
    # Failures and retries are still logged at WARNING/ERROR; at DEBUG they come back.
    per_task = logging.INFO if isinstance(numeric, int) and numeric <= logging.DEBUG else logging.WARNING
    for name in ("celery.worker.strategy", "celery.app.trace"):
        logging.getLogger(name).setLevel(per_task)
    _configured = True


def _rename_stdlib_message(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # stdlib records arrive with free text as "event": keep it, but make the name snake_case-safe
    # by moving free text to "message" and naming the event after the logger.
    message = event_dict.get("event")
    if isinstance(message, str) and not re.fullmatch(r"[a-z0-9_]+", message):
        event_dict["message"] = message
        event_dict["event"] = "library_log"
    return event_dict


def get_logger(name: str = "copydesk", **bound: Any):
    return structlog.get_logger(name).bind(**bound) if bound else structlog.get_logger(name)


def bind(**values: Any) -> None:
    structlog.contextvars.bind_contextvars(**values)


def unbind(*keys: str) -> None:
    structlog.contextvars.unbind_contextvars(*keys)


def clear() -> None:
    structlog.contextvars.clear_contextvars()
