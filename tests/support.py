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
#: The project's example inputs (HTML, text, XML), as `make demo` processes them.
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.suffix in (".html", ".txt", ".xml"))


def examples_desk(tmp_path: Path, copies: int = 1) -> Path:
    """A folder store `tmp_path/desk` whose incoming/ holds `copies` of every example, each copy
    made distinct by a trailing comment (so each is an article of its own)."""
    folder = tmp_path / "desk"
    (folder / "incoming").mkdir(parents=True)
    for i in range(copies):
        for example in EXAMPLES:
            (folder / "incoming" / f"{i}-{example.name}").write_bytes(example.read_bytes() + f"\n<!-- {i} -->\n".encode())
    return folder


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


