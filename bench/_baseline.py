"""copydesk's code as it was at a git ref, importable beside today's, for the benches that run
both in one process (bench/clean.py --baseline, bench/clean_check.py, bench/topics_speed.py)."""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
#: The package name the archived `tasks/` is imported as (not `tasks`, which is today's).
PACKAGE = "copydesk_baseline"


def modules_at(ref: str, paths: list[str], modules: list[str]) -> list[ModuleType]:
    """`git archive` of `paths` (tasks/__init__.py and the files or folders under tasks/ the modules
    need) at `ref` into a temporary folder, its tasks/ renamed PACKAGE and put on sys.path; returns
    the `modules` (dotted names under tasks/, e.g. "cleaning") imported from it."""
    archive = subprocess.run(
        ["git", "archive", ref, "tasks/__init__.py", *paths], cwd=ROOT, check=True, capture_output=True
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="copydesk-baseline-"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    (folder / "tasks").rename(folder / PACKAGE)
    sys.path.insert(0, str(folder))
    return [importlib.import_module(f"{PACKAGE}.{name}") for name in modules]
