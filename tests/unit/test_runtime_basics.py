"""Settings, layout, log redaction and the shape of the code base."""

from __future__ import annotations

import ast
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import structlog

from worker.layout import Layout
from worker.logging import configure_logging, redact_text
from worker.settings import Settings, documentation

ROOT = Path(__file__).resolve().parents[2]


def test_settings_from_env_and_defaults():
    s = Settings.from_env({"COPYDESK_STORE": "s3://news", "COPYDESK_MAX_BYTES": "1000", "COPYDESK_INPUT_PREFIX": "in"})
    assert (s.store, s.max_bytes, s.input_prefix) == ("s3://news", 1000, "in/")
    assert Settings.from_env({}).max_bytes == 20 * 1024 * 1024
    assert s.visibility_timeout > s.time_limit


@pytest.mark.parametrize(
    "env",
    [
        {"COPYDESK_MAX_BYTES": "lots"},
        {"COPYDESK_PROCESSED_PREFIX": "incoming/processed/"},
        {"COPYDESK_SOFT_TIME_LIMIT": "500", "COPYDESK_TIME_LIMIT": "100"},
    ],
)
def test_bad_settings_are_refused(env):
    with pytest.raises(ValueError):
        Settings.from_env(env)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"COPYDESK_MAX_BYTES": "lots"}, "COPYDESK_MAX_BYTES='lots': must be a whole number"),
        ({"COPYDESK_CONCURRENCY": "-3"}, "COPYDESK_CONCURRENCY='-3': must be 0 or more"),
        ({"COPYDESK_MAX_BYTES": "0"}, "COPYDESK_MAX_BYTES='0': must be more than 0"),
        ({"COPYDESK_TIME_LIMIT": "1.5"}, "COPYDESK_TIME_LIMIT='1.5': must be a whole number"),
        ({"COPYDESK_LOG_LEVEL": "loud"}, "COPYDESK_LOG_LEVEL='loud': must be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'"),
        ({"COPYDESK_STORE": "bucket"}, "COPYDESK_STORE='bucket': 'bucket' has no scheme"),
        ({"COPYDESK_STORE": "s3://news/root"}, "is not supported"),
        ({"COPYDESK_SOFT_TIME_LIMIT": "500"}, "COPYDESK_SOFT_TIME_LIMIT (500) must be below COPYDESK_TIME_LIMIT (12)"),
    ],
)
def test_bad_settings_are_explained_in_words(env, message):
    from worker.settings import SettingsError

    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    assert message in str(info.value)
    assert "invalid literal" not in str(info.value) and "\n" not in str(info.value)


def test_relative_file_store_is_resolved_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({"COPYDESK_STORE": "file:relative/dir"}).store == (tmp_path / "relative" / "dir").as_uri()
    assert Settings.from_env({}).store == (tmp_path / "data").as_uri()


def test_importing_the_app_reads_no_setting():
    env = {**os.environ, "COPYDESK_CONCURRENCY": "-3", "COPYDESK_STORE": "bucket"}
    code = "import worker.app, worker.jobs.article, worker.jobs.indexing, worker.jobs.maintenance, worker.cli"
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name, _default, doc in documentation():
        assert doc.strip()
        assert f"`{name}`" in readme, f"{name} is missing from the README's configuration table"


def test_layout_maps_input_keys_to_outputs():
    layout = Layout.from_settings(Settings.from_env({}))
    key = "incoming/2026/03/story one.html"
    assert layout.record_key(key) == "processed/2026/03/story one.html.json"
    assert layout.log_key(key) == "logs/2026/03/story one.html.jsonl"
    assert layout.quarantine_key(key) == "quarantine/2026/03/story one.html.json"
    assert layout.input_key_for_record(layout.record_key(key)) == key
    assert not layout.is_input("processed/x.json") and not layout.is_input("incoming/")


@pytest.mark.parametrize(
    "text,secret",
    [
        ("redis://:hunter2@redis:6379/0", "hunter2"),
        ("redis://user:hunter2@redis:6379/0", "hunter2"),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI"),
    ],
)
def test_redaction(text, secret):
    assert secret not in redact_text(text)


def test_redaction_takes_linear_time_on_long_values():
    """Every string of every log event is redacted; a long one must not cost seconds (with a
    backtracking engine 40 KB of letters took 9 s)."""
    import time

    long_value = "a" * 200_000 + " redis://u:hunter2@h/0 " + "b://" * 20_000
    started = time.process_time()
    out = redact_text(long_value)
    assert time.process_time() - started < 1.0  # linear: ~ms; quadratic: minutes
    assert "hunter2" not in out and "redis://u:***@h/0" in out


def test_no_secret_reaches_a_log_line_from_structlog_or_stdlib():
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    try:
        structlog.get_logger("t").info("broker_connecting", url="redis://:pw-123@h:6379/0", password="pw-123", token="tok-9")
        logging.getLogger("celery.worker").error("Cannot connect to redis://:pw-123@h:6379/0: refused")
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        configure_logging("INFO")
    assert len(lines) == 2
    assert "pw-123" not in stream.getvalue() and "tok-9" not in stream.getvalue()
    assert lines[0]["event"] == "broker_connecting" and lines[1]["logger"] == "celery.worker"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_tasks_never_import_worker():
    """Processing (tasks) is pure; the runtime (worker) depends on it, never the reverse."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "tasks").rglob("*.py")
        if any(name == "worker" or name.startswith("worker.") for name in _imports(path))
    ]
    assert offenders == []


def test_stages_never_touch_celery_or_storage_libraries():
    forbidden = ("celery", "kombu", "boto3", "botocore", "redis")
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "tasks").rglob("*.py")
        if any(name.split(".")[0] in forbidden for name in _imports(path))
    ]
    assert offenders == []


def test_lineage_log_keeps_info_events_when_stdout_level_is_warning():
    from worker.logging import get_logger, start_article_log, stop_article_log

    stream = io.StringIO()
    configure_logging("WARNING", stream=stream)
    collector, token = start_article_log()
    try:
        get_logger("copydesk.job").info("stage_finished", key="incoming/a.txt", stage="clean", duration_ms=1.0)
    finally:
        stop_article_log(token)
        configure_logging("INFO")
    assert stream.getvalue() == ""
    assert [json.loads(line)["event"] for line in collector.lines] == ["stage_finished"]


def _module_graph() -> dict[str, set[str]]:
    """Every import between copydesk's own modules, function-level ones included."""
    modules: dict[str, Path] = {}
    for package in ("worker", "tasks"):
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                found.add(module)
                found.update(f"{module}.{alias.name}" for alias in node.names)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_import_circle_in_or_between_worker_and_tasks():
    graph = _module_graph()
    visiting: list[str] = []
    done: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        if module in visiting:
            circles.append(visiting[visiting.index(module):] + [module])
            return
        if module in done:
            return
        visiting.append(module)
        for dependency in sorted(graph[module]):
            visit(dependency)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert circles == []
