"""The copydesk command: local processing, startup checks, settings errors and exit codes.

In-process with click's CliRunner; only what needs a real process (an import with a broken
environment, exec'ing celery) runs a subprocess.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from support import SAMPLE, free_port
from worker.cli import cli, register_feature_commands

register_feature_commands()


@pytest.fixture(autouse=True)
def _json_logs_again():
    yield
    from worker.logging import configure_logging

    configure_logging("INFO")  # a CliRunner command configured logging for itself


def copydesk(*args: str, env_extra: dict | None = None):
    return CliRunner().invoke(cli, list(args), env=env_extra, prog_name="copydesk")


def test_process_prints_one_record_per_file_and_flags_bad_input(tmp_path):
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    result = copydesk("process", str(SAMPLE), str(png))
    assert result.exit_code == 3, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["text"].startswith("North Korean and US officials") and first["language"]["code"] == "en"
    assert second["reason"] == "binary"
    assert "image.png: binary" in result.stderr


def test_process_single_good_file_exits_zero():
    result = copydesk("process", str(SAMPLE))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["source"]["size"] == SAMPLE.stat().st_size


@pytest.mark.parametrize("command", [["listen", "--http", "127.0.0.1:0"], ["sweep"], ["worker"], ["status"]])
def test_services_refuse_to_start_without_a_broker(command, tmp_path):
    dead = f"redis://:sekrit-pw@127.0.0.1:{free_port()}/0"
    result = copydesk(*command, env_extra={"COPYDESK_BROKER_URL": dead, "COPYDESK_STORE": f"file://{tmp_path}"})
    assert result.exit_code == 1
    assert result.stderr.startswith("copydesk: error: broker") and "does not answer" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "sekrit-pw" not in result.stderr + result.stdout


def test_services_refuse_to_start_on_a_store_that_is_not_a_folder(tmp_path, redis_url):
    not_a_folder = tmp_path / "store"
    not_a_folder.write_text("a file where the store's folder should be")
    result = copydesk("sweep", env_extra={"COPYDESK_BROKER_URL": redis_url, "COPYDESK_STORE": f"file://{not_a_folder}"})
    assert result.exit_code == 1
    assert result.stderr.strip() == f"copydesk: error: store {not_a_folder.as_uri()}: {not_a_folder} is not a folder"


# `status` reads the store only to count articles (--articles); its queue and worker figures come from Redis.
@pytest.mark.parametrize("command", [["sweep"], ["submit", "incoming/a.txt"], ["listen", "--http", "127.0.0.1:0"], ["status", "--articles"], ["worker"]])
def test_a_missing_store_folder_is_an_error_not_an_empty_store(command, tmp_path, redis_url):
    missing = tmp_path / "no-such-folder"
    result = copydesk(*command, env_extra={"COPYDESK_BROKER_URL": redis_url, "COPYDESK_STORE": f"file://{missing}"})
    assert result.exit_code == 1, result.output
    assert f"no such folder: {missing} (create it, or pass --create)" in result.stderr
    assert not missing.exists()


@pytest.mark.parametrize("command", [["sweep"], ["submit", "incoming/a.txt"], ["listen", "--http", "127.0.0.1:0"], ["status"], ["config"], ["search", "x"]])
@pytest.mark.parametrize(
    "env, words",
    [
        ({"COPYDESK_CONCURRENCY": "-3"}, "COPYDESK_CONCURRENCY='-3': must be 0 or more"),
        ({"COPYDESK_MAX_RETRIES": "abc"}, "COPYDESK_MAX_RETRIES='abc': must be a whole number"),
        ({"COPYDESK_STORE": "bucket"}, "COPYDESK_STORE='bucket': 'bucket' has no scheme"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_two(command, env, words):
    result = copydesk(*command, env_extra=env)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"copydesk: error: {words}: use s3://BUCKET, file:///absolute/path or file:relative/path"] \
        if "scheme" in words else result.stderr.splitlines() == [f"copydesk: error: {words}"]
    assert "Traceback" not in result.output


def test_usage_errors_exit_two():
    for args in (["listen"], ["submit"], ["nonsense"], ["run", "x", "--threads", "-1"], ["run", "x", "--threads", "0"]):
        result = copydesk(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("copydesk: error: ") and len(result.stderr.splitlines()) == 1


def test_run_refuses_a_missing_folder_unless_asked_to_create_it(tmp_path):
    missing = tmp_path / "desk"
    result = copydesk("run", str(missing), "--once")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"copydesk: error: no such folder: {missing} (create it, or pass --create)"
    assert not missing.exists()
    result = copydesk("run", str(missing), "--once", "--create", env_extra={"COPYDESK_LOG_LEVEL": "WARNING"})
    assert result.exit_code == 0, result.output
    assert (missing / "incoming").is_dir()


def test_run_hints_at_incoming_when_files_sit_directly_in_the_folder(tmp_path):
    (tmp_path / "story.txt").write_text("A story that was dropped in the wrong place.")
    result = copydesk("run", str(tmp_path), "--once", env_extra={"COPYDESK_LOG_LEVEL": "WARNING"})
    assert result.exit_code == 0, result.output
    assert f"inputs are read from {tmp_path / 'incoming'}/: move them there" in result.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["--since", "2026-13-01", "budget"], "since wants a date as YYYY-MM-DD, got '2026-13-01'"),
        (["--until", "yesterday", "budget"], "until wants a date as YYYY-MM-DD, got 'yesterday'"),
        (["--topic", "sport", "budget"], "unknown topic 'sport'"),
        (["topic:sport budget"], "unknown topic 'sport'"),
        ([], "empty query"),
        (["  "], "empty query"),
    ],
)
def test_search_usage_errors_are_not_no_hits(tmp_path, args, words):
    result = copydesk("search", *args, env_extra={"COPYDESK_STORE": f"file://{tmp_path}"})
    assert result.exit_code == 2, result.output
    assert words in result.stderr and "no hits" not in result.output


def test_search_with_no_hits_is_not_an_error(tmp_path):
    result = copydesk("search", "budget", env_extra={"COPYDESK_STORE": f"file://{tmp_path}"})
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == "no hits"


def test_search_on_a_missing_store_is_a_store_failure(tmp_path):
    result = copydesk("search", "budget", env_extra={"COPYDESK_STORE": f"file://{tmp_path / 'gone'}"})
    assert result.exit_code == 1
    assert result.stderr.startswith("copydesk: error: store ") and "no such folder" in result.stderr


def test_every_command_has_help():
    for command in ("run", "process", "worker", "beat", "listen", "sweep", "submit", "status", "search", "reindex", "export", "train", "config"):
        result = copydesk(command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.stdout, (command, result.output)


def test_beat_keeps_its_schedule_in_a_state_folder_not_the_working_directory(tmp_path, redis_url, monkeypatch):
    seen = []
    monkeypatch.setattr("os.execv", lambda path, argv: seen.append(argv))
    state = tmp_path / "state"
    result = copydesk("beat", env_extra={"COPYDESK_BROKER_URL": redis_url, "XDG_STATE_HOME": str(state)})
    assert result.exit_code == 0, result.output
    (argv,) = seen
    assert argv[argv.index("--schedule") + 1] == str(state / "copydesk" / "celerybeat-schedule")
    assert (state / "copydesk").is_dir()
    configured = tmp_path / "beat" / "schedule"
    copydesk("beat", env_extra={"COPYDESK_BROKER_URL": redis_url, "COPYDESK_BEAT_SCHEDULE": str(configured)})
    assert seen[-1][seen[-1].index("--schedule") + 1] == str(configured)
    copydesk("beat", "--", "-s", "/elsewhere/sched", env_extra={"COPYDESK_BROKER_URL": redis_url})
    assert "--schedule" not in seen[-1] and seen[-1][-2:] == ["-s", "/elsewhere/sched"]


def test_reindex_prints_its_result_alone_on_stdout(tmp_path):
    result = copydesk("reindex", env_extra={"COPYDESK_STORE": f"file://{tmp_path}", "COPYDESK_LOG_LEVEL": "INFO",
                                           "COPYDESK_CACHE_DIR": str(tmp_path / "cache")})
    assert result.exit_code == 0, result.output
    assert result.stdout == "reindexed 0 documents\n"
    assert all(json.loads(line) for line in result.stderr.splitlines())


def test_submit_logs_its_own_origin(tmp_path, redis_url):
    (tmp_path / "incoming").mkdir()
    env = {"COPYDESK_STORE": f"file://{tmp_path}", "COPYDESK_BROKER_URL": redis_url}
    result = copydesk("submit", "incoming/not-there.txt", env_extra=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"missing": 1}
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert [e["origin"] for e in events if e["event"] == "event_object_missing"] == ["submit"]
