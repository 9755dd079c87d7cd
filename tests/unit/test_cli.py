"""The copydesk command: local processing, startup checks and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support import SAMPLE, free_port

ROOT = Path(__file__).resolve().parents[2]
COPYDESK = [sys.executable, "-m", "worker.cli"]


def copydesk(*args: str, env_extra: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([*COPYDESK, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def test_process_prints_one_record_per_file_and_flags_bad_input(tmp_path):
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    result = copydesk("process", str(SAMPLE), str(png))
    assert result.returncode == 3, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["text"].startswith("North Korean and US officials") and first["language"]["code"] == "en"
    assert second["reason"] == "binary"
    assert "image.png: binary" in result.stderr


def test_process_single_good_file_exits_zero():
    result = copydesk("process", str(SAMPLE))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["source"]["size"] == SAMPLE.stat().st_size


@pytest.mark.parametrize("command", [["listen", "--http", "127.0.0.1:0"], ["sweep"], ["worker"], ["status"]])
def test_services_refuse_to_start_without_a_broker(command, tmp_path):
    dead = f"redis://:sekrit-pw@127.0.0.1:{free_port()}/0"
    result = copydesk(*command, env_extra={"COPYDESK_BROKER_URL": dead, "COPYDESK_STORE": f"file://{tmp_path}"})
    assert result.returncode == 1
    assert "broker" in result.stderr and "does not answer" in result.stderr
    assert "sekrit-pw" not in result.stderr + result.stdout


def test_services_refuse_to_start_on_an_unwritable_store(tmp_path, redis_url):
    not_a_folder = tmp_path / "store"
    not_a_folder.write_text("a file where the store's folder should be")
    result = copydesk("sweep", env_extra={"COPYDESK_BROKER_URL": redis_url, "COPYDESK_STORE": f"file://{not_a_folder}"})
    assert result.returncode == 1
    assert "not writable" in result.stderr


def test_usage_errors_exit_two():
    assert copydesk("listen").returncode == 2
    assert copydesk("submit").returncode == 2
    assert copydesk("nonsense").returncode == 2


def test_every_command_has_help():
    for command in ("run", "process", "worker", "beat", "listen", "sweep", "submit", "status", "search", "reindex", "export", "train", "config"):
        result = copydesk(command, "--help")
        assert result.returncode == 0 and "Usage:" in result.stdout, (command, result.stderr)
