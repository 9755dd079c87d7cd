"""Helpers shared by the test modules (import as `from support import ...`; `conftest` is
ambiguous once several conftest.py files exist)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COPYDESK_SHARED_DIR", ROOT.parent / "shared"))
SAMPLE = SHARED / "samples" / "business-standard-paywalled.txt"
REDIS_TEST_URL = os.environ.get("COPYDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


