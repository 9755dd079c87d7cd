"""`copydesk run`: counts that are right, a stop that finishes what is in flight, the table, the
folder watcher's settle time. In-process (CliRunner, EmbeddedRunner) where no signal is needed."""

from __future__ import annotations

import io
import json
import os
import re
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from watchdog.events import FileCreatedEvent, FileModifiedEvent

from support import EXAMPLES, examples_desk
from worker.cli import cli
from worker.embedded import EmbeddedRunner
from worker.events.folder import _Handler
from worker.logging import configure_logging
from worker.processing import PROCESSED, Outcome
from worker.runview import HEADER, print_table
from worker.settings import Settings

def _run(folder: Path, *args: str, env: dict | None = None):
    return CliRunner().invoke(cli, ["run", str(folder), "--once", *args], env={"COPYDESK_CACHE_DIR": str(folder.parent / "cache"), **(env or {})})


def test_a_rerun_counts_what_it_skipped_and_says_there_was_nothing_to_do(tmp_path):
    folder = examples_desk(tmp_path)
    first = _run(folder)
    assert first.exit_code == 0, first.output
    assert f"{len(EXAMPLES)} processed, 0 quarantined, 0 skipped; {len(EXAMPLES)} indexed" in first.stderr
    header = first.stdout.splitlines()[0].split()
    assert tuple(header) == HEADER
    again = _run(folder)
    assert again.exit_code == 0, again.output
    assert f"0 processed, 0 quarantined, {len(EXAMPLES)} skipped; 0 indexed" in again.stderr
    assert f"nothing to do: {len(EXAMPLES)} input(s) already processed" in again.stderr
    assert again.stdout == ""  # no empty table


def test_logs_are_json_on_stderr_and_stdout_has_only_the_result(tmp_path):
    folder = examples_desk(tmp_path)
    # One process: a pool's children log to the real stderr, which CliRunner does not capture.
    result = _run(folder, "--json", "--processes", "1", env={"COPYDESK_LOG_LEVEL": "INFO"})
    assert result.exit_code == 0, result.output
    outcomes = [json.loads(line) for line in result.stdout.splitlines()]
    assert {o["status"] for o in outcomes} == {PROCESSED} and len(outcomes) == len(EXAMPLES)
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    processed = [e for e in events if e["event"] == "article_processed"]
    assert len(processed) == len(EXAMPLES)
    # Durations are named for what they measure: the article's total is not a stage's.
    assert all("total_ms" in e and "stage" not in e and "duration_ms" not in e for e in processed)
    # At INFO the stage times ride on the summary; the per-stage events are DEBUG (issue 15).
    assert all({"fetch", "clean"} <= set(e["timings_ms"]) for e in processed)
    assert not [e for e in events if e["event"] == "stage_finished"]
    debug = _run(examples_desk(tmp_path / "debug"), "--json", "--processes", "1", env={"COPYDESK_LOG_LEVEL": "DEBUG"})
    stages = {e["stage"] for line in debug.stderr.splitlines() if line.startswith("{")
              for e in [json.loads(line)] if e["event"] == "stage_finished"}
    assert stages >= {"fetch", "clean", "write"}


def test_console_logs_only_when_asked(tmp_path):
    folder = examples_desk(tmp_path)
    result = _run(folder, "--processes", "1", env={"COPYDESK_LOG_FORMAT": "console", "COPYDESK_LOG_LEVEL": "INFO"})
    assert result.exit_code == 0, result.output
    assert "article_processed" in result.stderr
    assert not [line for line in result.stderr.splitlines() if line.startswith("{")]


def test_the_first_stop_finishes_the_article_in_flight_and_leaves_the_rest(tmp_path):
    folder = examples_desk(tmp_path, copies=2)
    total = 2 * len(EXAMPLES)
    runner = EmbeddedRunner(folder, Settings.from_env({}, cache_dir=str(tmp_path / "cache")), threads=1)
    real_run = runner.job.run
    started = []

    def run_then_stop(*args, **kwargs):
        started.append(args[0])
        if len(started) == 1:
            runner.stop()  # as the first Ctrl-C does, while this article is in flight
        return real_run(*args, **kwargs)

    runner.job.run = run_then_stop
    report = runner.run_once()
    assert len(started) == 1
    assert len(report.processed) == 1 and report.left == total - 1 and report.interrupted
    assert report.indexed == 1
    assert "1 processed, 0 quarantined, 0 skipped; 1 indexed; " in report.summary()
    assert f"{total - 1} left for the next run" in report.summary()
    assert sorted(p.name for p in (folder / "processed").iterdir()) == [f"{Path(started[0]).name}.json"]
    assert not list(folder.rglob(".tmp-*"))

    rest = EmbeddedRunner(folder, Settings.from_env({}, cache_dir=str(tmp_path / "cache")), threads=2).run_once()
    assert len(rest.processed) == total - 1 and rest.skipped == 1 and rest.left == 0


def test_watch_reports_what_it_indexed(tmp_path):
    folder = examples_desk(tmp_path)
    lines: list[str] = []
    runner = EmbeddedRunner(folder, Settings.from_env({}, cache_dir=str(tmp_path / "cache")), threads=2,
                            on_outcome=lambda o: lines.append(o.key))
    stop = threading.Event()
    reports = []
    watcher = threading.Thread(target=lambda: reports.append(runner.watch(stop, 0.2)), daemon=True)
    watcher.start()
    try:
        for _ in range(600):
            if len(lines) == len(EXAMPLES):
                break
            stop.wait(0.1)
    finally:
        stop.set()
        watcher.join(timeout=60)
    (report,) = reports
    assert len(report.processed) == len(EXAMPLES)
    assert report.indexed == len(EXAMPLES)
    assert sorted(lines) == sorted(f"incoming/0-{e.name}" for e in EXAMPLES)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_table_fits_the_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    outcomes = [
        Outcome(PROCESSED, f"incoming/{e.name}", "etag", f"processed/{e.name}.json",
                summary={"title": "A headline that goes on and on " * 3, "language": "en", "topic": "world", "words": 120, "removed_lines": 3})
        for e in EXAMPLES
    ]
    out = _Terminal()
    print_table(outcomes, "incoming/", out)
    lines = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue()).splitlines()  # without the terminal's bold
    assert tuple(lines[0].split()) == HEADER
    assert max(len(line.rstrip()) for line in lines) <= 100
    for example in EXAMPLES:
        assert any(line.startswith(example.name) for line in lines)


def test_a_file_still_being_written_is_not_announced(tmp_path):
    announced: list[str] = []
    handler = _Handler(tmp_path, announced.append, None, settle_seconds=3600)  # timers never fire by themselves
    path = tmp_path / "incoming" / "story.txt"
    path.parent.mkdir()
    path.write_text("The first fifteen words of a story that is still being copied into the folder")
    handler.on_created(FileCreatedEvent(str(path)))

    def settle_now():
        timer, _ = handler._settling[str(path)]
        timer.cancel()
        handler._settled(str(path), timer)

    with path.open("a") as fh:
        fh.write(" and then the rest of it, much longer than the start.\n")
    handler.on_modified(FileModifiedEvent(str(path)))
    with path.open("a") as fh:
        fh.write("More text, written after the last event.\n")
    settle_now()  # changed since the timer started: wait again
    assert announced == []
    settle_now()  # unchanged for a whole settle time: announced once
    assert announced == ["incoming/story.txt"]
    assert str(path) not in handler._settling
    handler.cancel_all()


@pytest.fixture(autouse=True)
def _json_logs_again():
    yield
    configure_logging("INFO")  # a CliRunner command configured logging for itself


def test_records_are_group_committed_and_reported_only_once_in_place(tmp_path, monkeypatch):
    """The embedded runner's records go through its threads' group commit: each outcome is
    counted (and shown) only after its record is durable and in place."""
    from worker.storage.local import LocalStore

    folder = examples_desk(tmp_path, copies=2)
    runner = EmbeddedRunner(folder, Settings.from_env({}, cache_dir=str(tmp_path / "cache")), threads=1)
    real_commit = LocalStore.commit_writes
    commits: list[tuple[int, int]] = []

    def commit(self, writes):
        reported = len(runner.queue.outcomes)
        done = real_commit(self, writes)
        if done:
            commits.append((reported, done))
        return done

    monkeypatch.setattr(LocalStore, "commit_writes", commit)
    report = runner.run_once()
    total = 2 * len(EXAMPLES)
    assert len(report.processed) == total
    assert sum(done for _, done in commits) == total
    placed = 0
    for reported, done in commits:
        assert reported == placed  # nothing of this batch was reported before its commit
        placed += done
    assert len(list((folder / "processed").rglob("*.json"))) == total
    assert not list(folder.rglob(".tmp-*"))


def test_a_failed_group_commit_leaves_its_articles_for_the_next_run(tmp_path, monkeypatch):
    import worker.storage.local as local

    folder = examples_desk(tmp_path)

    def failing_flush(paths):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(local, "_flush_files", failing_flush)
    settings = Settings.from_env({}, cache_dir=str(tmp_path / "cache"))
    report = EmbeddedRunner(folder, settings, threads=2).run_once()
    assert not report.processed and report.left == len(EXAMPLES)
    assert not (folder / "processed").exists() or not list((folder / "processed").rglob("*.json"))
    assert not list(folder.rglob(".tmp-*"))
    monkeypatch.undo()
    again = EmbeddedRunner(folder, settings, threads=2).run_once()
    assert len(again.processed) == len(EXAMPLES) and again.left == 0


def test_a_slow_article_is_not_held_back_by_its_batch(tmp_path, monkeypatch):
    """Records are committed once the batch's first article is RECORD_BATCH_SECONDS old: slow
    articles appear one by one, not after 32 of them."""
    import time

    import worker.embedded as embedded
    from worker.storage.local import LocalStore

    monkeypatch.setattr(embedded, "RECORD_BATCH_SECONDS", 0.2)
    folder = examples_desk(tmp_path)
    runner = EmbeddedRunner(folder, Settings.from_env({}, cache_dir=str(tmp_path / "cache")), threads=1)
    real_run = runner.job.run

    def slow_run(*args, **kwargs):
        time.sleep(0.25)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(runner.job, "run", slow_run)
    real_commit = LocalStore.commit_writes
    sizes: list[int] = []

    def commit(self, writes):
        done = real_commit(self, writes)
        if done:
            sizes.append(done)
        return done

    monkeypatch.setattr(LocalStore, "commit_writes", commit)
    report = runner.run_once()
    assert len(report.processed) == len(EXAMPLES)
    assert sizes == [1] * len(EXAMPLES)


def test_the_workers_go_on_while_a_batch_commits(tmp_path, monkeypatch):
    """Group commit runs beside the work: while one batch's flush is in progress the worker
    thread processes the next articles, and the batch's outcomes are reported only after it."""
    import threading

    import worker.embedded as embedded
    from worker.storage.local import LocalStore

    monkeypatch.setattr(embedded, "RECORD_BATCH", 1)
    folder = examples_desk(tmp_path, copies=2)
    runner = EmbeddedRunner(folder, Settings.from_env({}, cache_dir=str(tmp_path / "cache")), threads=1)
    real_run, real_commit = runner.job.run, LocalStore.commit_writes
    ran = {"n": 0}
    two_more = threading.Event()
    first_commit: dict[str, int] = {}

    def counting_run(*args, **kwargs):
        outcome = real_run(*args, **kwargs)
        ran["n"] += 1
        if ran["n"] >= 3:
            two_more.set()
        return outcome

    def commit(self, writes):
        if not first_commit:
            first_commit["reported"] = len(runner.queue.outcomes)
            # The first batch's flush holds until the worker has run two more articles.
            assert two_more.wait(30), "the worker waited for the commit"
        return real_commit(self, writes)

    monkeypatch.setattr(runner.job, "run", counting_run)
    monkeypatch.setattr(LocalStore, "commit_writes", commit)
    report = runner.run_once()
    assert first_commit == {"reported": 0}
    assert len(report.processed) == 2 * len(EXAMPLES)
    assert len(list((folder / "processed").rglob("*.json"))) == 2 * len(EXAMPLES)
    assert not list(folder.rglob(".tmp-*"))


def test_a_pool_of_processes_processes_commits_and_indexes_every_input(tmp_path, monkeypatch):
    """`copydesk run`'s default: worker processes forked from the runner. Every input is
    answered once its record is in place, the runner indexes them from the documents the
    children sent back (no GET of any marker), and a second run finds them all current."""
    import worker.embedded as embedded
    from worker.storage.counting import CountingStore
    from worker.storage.local import LocalStore

    folder = examples_desk(tmp_path, copies=3)
    total = 3 * len(EXAMPLES)
    stores: list[CountingStore] = []

    def counting(path):
        store = CountingStore(LocalStore(path))
        stores.append(store)
        return store

    monkeypatch.setattr(embedded, "LocalStore", counting)
    settings = Settings.from_env({}, cache_dir=str(tmp_path / "cache"))
    seen: list[Outcome] = []
    runner = EmbeddedRunner(folder, settings, processes=2, on_outcome=seen.append)
    try:
        report = runner.run_once()
        pids = runner.queue.pids
        assert len(pids) == 2 and os.getpid() not in pids
        assert len(report.processed) == total and report.left == 0
        assert sorted(o.key for o in seen) == sorted(o.key for o in report.outcomes)
        assert report.indexed == total
        assert len(list((folder / "processed").rglob("*.json"))) == total
        assert not list((folder / "index" / "pending").rglob("*.json~*"))
        assert not list(folder.rglob(".tmp-*"))
        # The parent's own requests: the sweep's listing, a HEAD per input, the index batch;
        # no GET (the documents came from the children, the records are the children's).
        assert stores[0].counts.get("GET", 0) <= 1  # the manifest at most
        runner.queue.outcomes.clear()
        again = runner.run_once()
        assert not again.processed and again.skipped == total
    finally:
        runner.close()


def first_time(flag: str) -> bool:
    """True once, in whichever process creates `flag` first (the pool's children share the disk)."""
    try:
        os.close(os.open(flag, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


def run_pool_once(folder, settings):
    """One `run --once` with a pool of two processes, closed afterwards."""
    runner = EmbeddedRunner(folder, settings, processes=2)
    try:
        return runner.run_once()
    finally:
        runner.close()


def test_a_pool_child_that_dies_leaves_its_inputs_for_the_next_run(tmp_path, monkeypatch):
    """A child process killed mid-article takes the inputs it had not answered with it: the
    run still ends, counts them as left (no record), and the next run processes them."""
    folder = examples_desk(tmp_path, copies=2)
    total = 2 * len(EXAMPLES)
    settings = Settings.from_env({}, cache_dir=str(tmp_path / "cache"))
    runner = EmbeddedRunner(folder, settings, processes=2)
    real_run = runner.job.run
    flag = str(tmp_path / "died")

    def dying_run(key, *args, **kwargs):
        if key.endswith("1-" + EXAMPLES[0].name) and first_time(flag):
            os._exit(9)  # once, in whichever child gets this input
        return real_run(key, *args, **kwargs)

    monkeypatch.setattr(runner.job, "run", dying_run)
    try:
        report = runner.run_once()
    finally:
        runner.close()
    assert os.path.exists(flag)
    assert report.left >= 1 and len(report.processed) + report.left == total
    second = run_pool_once(folder, settings)
    assert len(second.processed) == report.left and second.skipped == len(report.processed)
    assert len(list((folder / "processed").rglob("*.json"))) == total


def test_threads_and_a_pool_are_one_or_the_other(tmp_path):
    folder = examples_desk(tmp_path)
    result = _run(folder, "--threads", "2", "--processes", "2")
    assert result.exit_code == 2
    assert "--threads runs in one process" in result.stderr
    assert not (folder / "processed").exists()


def test_a_stop_reaches_the_pool_children_and_leaves_the_rest_for_the_next_run(tmp_path, monkeypatch):
    """The stop is set as the first article starts, in a child: that article finishes, the
    inputs the children hold and the ones not yet handed out are left for the next run."""
    folder = examples_desk(tmp_path, copies=5)
    total = 5 * len(EXAMPLES)
    settings = Settings.from_env({}, cache_dir=str(tmp_path / "cache"))
    runner = EmbeddedRunner(folder, settings, processes=2)
    real_run = runner.job.run
    flag = str(tmp_path / "stopped")

    def stopping_run(*args, **kwargs):
        if first_time(flag):
            runner.stop()  # in the child: the Event is shared with the runner and the other child
        return real_run(*args, **kwargs)

    monkeypatch.setattr(runner.job, "run", stopping_run)
    try:
        report = runner.run_once()
    finally:
        runner.close()
    assert report.interrupted
    assert len(report.processed) >= 1 and report.left >= 1
    assert len(report.processed) + report.left == total
    assert len(list((folder / "processed").rglob("*.json"))) == len(report.processed)
    second = run_pool_once(folder, settings)
    assert len(second.processed) == report.left and second.skipped == len(report.processed)


def test_the_runner_indexes_beside_the_work(tmp_path, monkeypatch):
    """While the inputs are processed, the runner's thread folds the documents written so far
    into the index every INDEX_EVERY documents, not only once every input is done."""
    import threading

    import worker.embedded as embedded
    import worker.search.indexer as indexer

    monkeypatch.setattr(embedded, "INDEX_EVERY", 2)
    folder = examples_desk(tmp_path, copies=2)
    total = 2 * len(EXAMPLES)
    runner = EmbeddedRunner(folder, Settings.from_env({}, cache_dir=str(tmp_path / "cache")), threads=1)
    batches: list[int] = []
    first_batch = threading.Event()
    real_index = indexer.index_pending

    def counting_index(*args, **kwargs):
        indexed = real_index(*args, **kwargs)
        if indexed:
            batches.append(indexed)
            first_batch.set()
        return indexed

    monkeypatch.setattr(indexer, "index_pending", counting_index)
    real_run = runner.job.run
    ran = {"n": 0}

    def waiting_run(*args, **kwargs):
        ran["n"] += 1
        if ran["n"] == 3:  # two documents are written: a batch comes before this article
            assert first_batch.wait(30), "no index batch while the inputs were processed"
        return real_run(*args, **kwargs)

    monkeypatch.setattr(runner.job, "run", waiting_run)
    report = runner.run_once()
    assert len(batches) >= 2 and sum(batches) == total == report.indexed
    assert not list((folder / "index" / "pending").rglob("*.json~*"))


def test_a_pool_child_whose_runner_is_gone_finishes_what_it_holds(tmp_path, monkeypatch):
    """The runner died (its end of the pipe is closed): the child still commits the inputs it
    holds, batch after batch, and drains, instead of its committer dying on the first answer
    it cannot send (and the child then waiting forever for the next batch's)."""
    import multiprocessing
    import threading

    import worker.embedded as embedded
    from worker.embedded import _ChildQueue
    from worker.events.model import ObjectEvent

    monkeypatch.setattr(embedded, "RECORD_BATCH", 1)
    folder = examples_desk(tmp_path)
    runner = EmbeddedRunner(folder, Settings.from_env({}, cache_dir=str(tmp_path / "cache")), threads=1)
    runner_end, child_end = multiprocessing.Pipe()
    runner_end.close()
    child = _ChildQueue(child_end, runner.job, runner.settings, threading.Event())
    for example in EXAMPLES[:2]:
        key = f"incoming/0-{example.name}"
        child.put((ObjectEvent(runner.store.bucket, key, None, origin="test"), False, None))
    drained = threading.Thread(target=child.join, daemon=True)
    drained.start()
    drained.join(30)
    assert not drained.is_alive(), "the child hung on an answer nobody reads"
    for example in EXAMPLES[:2]:
        assert (folder / "processed" / f"0-{example.name}.json").exists()
