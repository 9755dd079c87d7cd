"""`copydesk run DIR` without --once: what is there, then what lands, then what is removed."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from support import ROOT, SAMPLE
from worker.embedded import EmbeddedRunner
from worker.search.searcher import Searcher
from worker.settings import Settings


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_watch_processes_existing_then_new_files_and_unindexes_removed_ones(tmp_path: Path):
    folder = tmp_path / "desk"
    (folder / "incoming").mkdir(parents=True)
    (folder / "incoming" / "sample.txt").write_bytes(SAMPLE.read_bytes())
    settings = Settings.from_env({}, cache_dir=str(tmp_path / "cache"))
    runner = EmbeddedRunner(folder, settings, threads=2)
    stop = threading.Event()
    watcher = threading.Thread(target=runner.watch, args=(stop, 0.2), daemon=True)
    watcher.start()
    try:
        wait_for(lambda: (folder / "processed" / "sample.txt.json").exists(), 30, "the existing file's record")

        # A file written in place (closed after writing) and one moved into place.
        (folder / "incoming" / "derby.txt").write_bytes((ROOT / "examples" / "late-winner-derby.txt").read_bytes())
        staging = tmp_path / "staging.html"
        staging.write_bytes((ROOT / "examples" / "battery-plant-jobs.html").read_bytes())
        staging.rename(folder / "incoming" / "battery.html")
        for name in ("derby.txt", "battery.html"):
            record = wait_for(lambda n=name: _json(folder / "processed" / f"{n}.json"), 30, f"the record of {name}")
            assert record["source"]["key"] == f"incoming/{name}"

        searcher = Searcher(runner.store, runner.settings)
        wait_for(lambda: [h for h in searcher.search("Voltaris battery") if h.source_key == "incoming/battery.html"], 30, "battery.html in the index")

        (folder / "incoming" / "battery.html").unlink()
        wait_for(lambda: not [h for h in Searcher(runner.store, runner.settings).search("Voltaris battery")], 30, "battery.html gone from the index")
        assert (folder / "processed" / "battery.html.json").exists()  # outputs stay
    finally:
        stop.set()
        watcher.join(timeout=30)
    assert not watcher.is_alive()


def _json(path: Path):
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
