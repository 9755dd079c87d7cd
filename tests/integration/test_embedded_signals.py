"""`copydesk run DIR --once` and signals, as a user's Ctrl-C or a supervisor's SIGTERM sends them.

The first signal lets the article in flight finish, leaves the rest for the next run and prints
the summary (exit 130); a second one quits at once. Either way no `.tmp-*` file is left that
the next run does not remove, and the next run processes exactly what was left.

Each article is slowed by the test-only tests/slow_stages (on the child's PYTHONPATH) so that a
signal reliably lands while one is in flight.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from integration_support import BIN, ROOT
from support import EXAMPLES, examples_desk

pytestmark = pytest.mark.integration

SLOW_STAGES = ROOT / "tests" / "slow_stages"
COPIES = 2  # 12 inputs, one thread, 1 s each: far more than the time a signal needs to land


def _start(folder: Path, delay: float) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COPYDESK_", "AWS_"))}
    started = folder.parent / "in-flight"
    started.mkdir(exist_ok=True)
    env.update(COPYDESK_CACHE_DIR=str(folder.parent / "cache"), COPYDESK_LOG_LEVEL="WARNING",
               COPYDESK_TEST_STAGE_DELAY=str(delay), PYTHONPATH=str(SLOW_STAGES),
               COPYDESK_TEST_STAGE_STARTED_DIR=str(started))
    return subprocess.Popen(
        [str(BIN / "copydesk"), "run", str(folder), "--once", "--threads", "1"],
        env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_first_record(folder: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list((folder / "processed").glob("*.json")) if (folder / "processed").is_dir() else []:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("no record written")


def _processed(stderr: str) -> int:
    match = re.search(r"(\d+) processed, (\d+) quarantined, (\d+) skipped", stderr)
    assert match, stderr
    return int(match.group(1))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_first_signal_finishes_in_flight_and_leaves_the_rest(tmp_path, signum):
    folder = examples_desk(tmp_path, COPIES)
    total = COPIES * len(EXAMPLES)
    proc = _start(folder, delay=1.0)
    _wait_for_first_record(folder, proc)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-3000:]
    assert "stopping: finishing the articles in flight" in stderr
    done = _processed(stderr)
    records = sorted((folder / "processed").glob("*.json"))
    assert 1 <= done < total and len(records) == done, stderr[-3000:]
    assert f"{total - done} left for the next run" in stderr
    assert len([line for line in stdout.splitlines() if line.startswith(tuple(f"{i}-" for i in range(COPIES)))]) == done
    assert not list(folder.rglob(".tmp-*"))

    rest = _start(folder, delay=0)
    stdout, stderr = rest.communicate(timeout=300)
    assert rest.returncode == 0, stderr[-3000:]
    assert f"{total - done} processed, 0 quarantined, {done} skipped" in stderr


def test_second_signal_quits_at_once_and_the_next_run_cleans_up(tmp_path):
    folder = examples_desk(tmp_path, COPIES)
    proc = _start(folder, delay=30.0)  # the article in flight would take 30 s to finish
    # No record comes first here (the first article sleeps 30 s): wait until its pause has begun
    # (the test-only hook leaves a file then), so both signals land while it is in flight.
    # (Thread names were no help: Python 3.11 does not give them to the OS, so a wait on
    # /proc/PID/task/*/comm ran out its 120 s every time.)
    in_flight = folder.parent / "in-flight"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(in_flight.iterdir()):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    assert any(in_flight.iterdir()), "no article went in flight"
    stale = folder / "processed" / ".tmp-left-by-a-kill"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    stdout, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - started < 20  # not the 30 s the article in flight needed
    assert proc.returncode == 130, stderr[-3000:]
    assert stderr.rstrip().endswith("copydesk: interrupted")

    again = _start(folder, delay=0)
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr[-3000:]
    assert not list(folder.rglob(".tmp-*"))
