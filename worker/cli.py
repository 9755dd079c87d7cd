"""The `copydesk` command.

Exit codes: 0 success; 1 a service or the store failed; 2 usage or configuration error;
3 some inputs were bad and quarantined (their records say why). Every error is one line on
stderr: `copydesk: error: WHAT`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import click

from .commands import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ConfigError,
    CopydeskGroup,
    configure_app,
    fail,
    load_settings,
    open_checked_store,
    setup_logging,
    startup_checks,
)
from .logging import redact_text
from .settings import Settings, documentation


@click.group(cls=CopydeskGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="copydesk")
def cli() -> None:
    """Clean, classify and index news articles dropped into an object-store bucket."""


# -- embedded and local ---------------------------------------------------------------------
@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--once", is_flag=True, help="Process what is in FOLDER/incoming/ and exit.")
@click.option("--force", is_flag=True, help="Reprocess inputs whose records are current.")
@click.option("--processes", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: COPYDESK_CONCURRENCY, or one per CPU when that is 0); 1: all in this process.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Run in this one process with this many worker threads (instead of a pool of processes).")
@click.option("--json", "as_json", is_flag=True, help="Print one outcome per line as JSON instead of the table.")
@click.option("--create", is_flag=True, help="Create FOLDER when it does not exist (otherwise an error).")
def run(folder: Path, once: bool, force: bool, processes: int | None, threads: int | None, as_json: bool, create: bool) -> None:
    """Embedded mode: FOLDER is the store; process FOLDER/incoming/ with no servers.

    Without --once, keeps watching FOLDER/incoming/ for new files (one line per article) until
    Ctrl-C or SIGTERM. The first Ctrl-C or SIGTERM lets the articles in flight finish, leaves
    the rest for the next run and prints the summary; a second one quits at once.
    """
    from .embedded import EmbeddedRunner
    from .runview import RunProgress, article_line, footer, print_table
    from .storage import StoreError
    from .storage.local import LocalStore

    settings = load_settings()
    setup_logging(settings)
    if threads is not None and processes not in (None, 1):
        raise click.UsageError("--threads runs in one process: it cannot be combined with --processes above 1")
    if processes is None:
        processes = 1 if threads is not None else settings.concurrency or os.cpu_count() or 1
    try:
        LocalStore(folder).ensure_exists(create=create)
    except StoreError as exc:
        fail(str(exc))
    _hint_misplaced_inputs(folder, settings)
    prefix = settings.input_prefix
    progress = RunProgress(enabled=None if once else False)

    def on_outcome(outcome) -> None:
        if not once:
            line = json.dumps(outcome.as_dict(), ensure_ascii=False) if as_json else article_line(outcome, prefix)
            click.echo(line)

    runner = EmbeddedRunner(
        folder, settings, threads=threads, processes=processes, force=force, on_outcome=on_outcome,
        watch_settle_seconds=settings.watch_settle_seconds,
    )
    stop = threading.Event()
    signals = {"count": 0}

    def on_signal(_signum, _frame) -> None:
        signals["count"] += 1
        if signals["count"] == 1:
            runner.stop()
            stop.set()
            progress.note("copydesk: stopping: finishing the articles in flight, leaving the rest for the next run "
                          "(Ctrl-C again to quit now)")
            return
        sys.stdout.flush()
        os.write(2, b"copydesk: interrupted\n")
        os._exit(EXIT_INTERRUPTED)  # at once: threads mid-write leave .tmp-* files, removed next run

    runner.queue.start()  # a pool forks now, before the progress display's and ticker's threads
    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
    ticker = threading.Thread(target=_tick, args=(runner, progress, stop), daemon=True)
    try:
        with progress:
            ticker.start()
            if once:
                report = runner.run_once()
            else:
                click.echo(f"watching {folder / prefix} (Ctrl-C to stop)", err=True)
                report = runner.watch(stop)
            stop.set()
            ticker.join(timeout=2)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        runner.close()
    if once:
        if as_json:
            for outcome in sorted(report.outcomes, key=lambda o: o.key):
                click.echo(json.dumps(outcome.as_dict(), ensure_ascii=False))
        elif report.outcomes:
            print_table(report.outcomes, prefix)
            click.echo(footer(runner.folder, prefix, settings.processed_prefix, settings.quarantine_prefix), err=True)
        elif report.skipped:
            click.echo(f"nothing to do: {report.skipped} input(s) already processed by this pipeline version "
                       "(--force reprocesses them)", err=True)
    click.echo(report.summary(), err=True)
    if once and report.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_BAD_INPUT if report.quarantined else EXIT_OK)


def _tick(runner, progress, stop: threading.Event) -> None:
    """Refresh the progress display from the runner's counters until the run ends."""
    while not stop.wait(0.25):
        report = runner.report()
        progress.counts.update(processed=len(report.processed), quarantined=len(report.quarantined), skipped=report.skipped)
        progress.update(total=runner.enqueued + report.current, done=runner.done + report.current)


def _hint_misplaced_inputs(folder: Path, settings: Settings) -> None:
    """Files directly in FOLDER are not inputs: say where they belong."""
    inputs = folder / settings.input_prefix
    if inputs.is_dir() and any(inputs.iterdir()):
        return
    stray = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if stray:
        shown = ", ".join(stray[:3]) + (", …" if len(stray) > 3 else "")
        click.echo(
            f"copydesk: hint: {folder}/ has {len(stray)} file(s) ({shown}) but inputs are read from "
            f"{inputs}/: move them there",
            err=True,
        )


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def process(files: tuple[Path, ...]) -> None:
    """Run the stages on local FILES and print each record as JSON (one per line).

    No queue and no store: the quickest way to see what copydesk makes of a file.
    """
    from tasks.article import Source
    from tasks.pipeline import build_pipeline, process_document

    settings = load_settings()
    setup_logging(settings, "WARNING")
    pipeline = build_pipeline(model_dir=settings.model_dir or None, parse_limits=settings.parse_limits)
    bad = 0
    for path in files:
        raw = path.read_bytes()
        source = Source("local", str(path), hashlib.md5(raw).hexdigest(), len(raw))
        result = process_document(raw, source, pipeline, max_bytes=settings.max_bytes)
        doc = result.quarantine or result.record or {}
        if result.quarantine is not None:
            bad += 1
            click.echo(f"copydesk: {path}: {doc['reason']}: {doc['message']}", err=True)
        click.echo(json.dumps(doc, ensure_ascii=False, indent=None if len(files) > 1 else 1))
    sys.exit(EXIT_BAD_INPUT if bad else EXIT_OK)


# -- the fleet --------------------------------------------------------------------------------
@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--queues", "-Q", default=None, help="Queues to consume (default: all of copydesk's).")
@click.option("--skip-checks", is_flag=True, help="Skip the checks before Celery starts (the worker still runs them at its start).")
@click.option("--create", is_flag=True, help="Create the store's folder or bucket when it does not exist.")
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(queues: str | None, skip_checks: bool, create: bool, celery_args: tuple[str, ...]) -> None:
    """Start a Celery worker (`celery -A worker.app worker`); extra arguments go to celery."""
    from .app import QUEUES

    settings = load_settings()
    if not skip_checks:
        startup_checks(settings, create=create, models=True)
    argv = [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-Q", queues or ",".join(QUEUES)]
    if settings.concurrency and not any(a.startswith(("-c", "--concurrency")) for a in celery_args):
        argv += ["--concurrency", str(settings.concurrency)]
    argv += ["--loglevel", settings.log_level, *celery_args]
    os.execv(sys.executable, argv)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def beat(celery_args: tuple[str, ...]) -> None:
    """Start Celery beat, which runs the reconciling sweep every COPYDESK_SWEEP_INTERVAL seconds.

    Its schedule state goes to COPYDESK_BEAT_SCHEDULE (default: a state folder of the user),
    never the working directory; `-s PATH` / `--schedule PATH` passed on to celery wins.
    """
    settings = load_settings()
    startup_checks(settings, store=False, needs_store=False)
    argv = [sys.executable, "-m", "celery", "-A", "worker.app", "beat", "--loglevel", settings.log_level]
    if not any(a in ("-s", "--schedule") or a.startswith(("-s=", "--schedule=")) for a in celery_args):
        schedule = Path(settings.beat_schedule_path)
        try:
            schedule.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"cannot create {schedule.parent} for the beat schedule: {exc.strerror} (set COPYDESK_BEAT_SCHEDULE)")
        argv += ["--schedule", str(schedule)]
    os.execv(sys.executable, [*argv, *celery_args])


@cli.command()
@click.option("--sqs", "queue_url", default=None, help="Long-poll this SQS queue URL for S3 notifications.")
@click.option("--http", "http_address", default=None, metavar="HOST:PORT", help="Accept POSTed S3/MinIO notifications here.")
@click.option("--until-empty", is_flag=True, help="With --sqs: stop when a long poll returns nothing.")
def listen(queue_url: str | None, http_address: str | None, until_empty: bool) -> None:
    """Turn bucket notifications into tasks (SQS queue or HTTP webhook)."""
    if bool(queue_url) == bool(http_address):
        raise click.UsageError("give exactly one of --sqs QUEUE_URL or --http HOST:PORT")
    from .jobs.queues import CeleryQueue
    from .runtime import Runtime

    settings = load_settings()
    setup_logging(settings)
    store = startup_checks(settings)
    runtime = Runtime(settings, store=store)
    from . import metrics

    dispatcher = metrics.counting_dispatcher(runtime.dispatcher(CeleryQueue(configure_app(settings))), "sqs" if queue_url else "http")
    if queue_url:
        from .events.sqs import SqsListener

        if settings.metrics_port:
            metrics.serve(settings.metrics_port)

        listener = SqsListener(queue_url, dispatcher, keep_unparseable=settings.sqs_keep_unparseable)
        signal.signal(signal.SIGTERM, lambda *_: listener.stop())
        with contextlib.suppress(KeyboardInterrupt):
            listener.serve(until_empty=until_empty)
        return
    from .checks import health
    from .events.http import make_server

    assert http_address is not None  # exactly one of the two was given
    host, _, port = http_address.rpartition(":")
    if not host or not port.isdigit():
        raise click.UsageError(f"--http wants HOST:PORT, not {http_address!r}")
    if not settings.http_token and not settings.http_allow_anonymous:
        raise ConfigError("the HTTP listener needs COPYDESK_HTTP_TOKEN (or COPYDESK_HTTP_ALLOW_ANONYMOUS=1 to run without one)")
    server = make_server(
        host,
        int(port),
        dispatcher,
        token=settings.http_token,
        allow_anonymous=settings.http_allow_anonymous,
        max_records=settings.http_max_records,
        timeout=settings.http_timeout,
        health=lambda: health(store, settings),
    )
    from .logging import get_logger

    get_logger("copydesk.listen.http").info("http_listening", host=host, port=int(port), anonymous=not settings.http_token)
    server.serve()  # uvicorn: SIGTERM and SIGINT finish the requests in flight, then stop


@cli.command()
@click.option("--force", is_flag=True, help="Enqueue every input, even those whose records are current.")
@click.option("--prefix", default=None, help="Sweep only below this prefix (default: the input prefix).")
def sweep(force: bool, prefix: str | None) -> None:
    """Enqueue every input whose record is missing or stale (other etag or pipeline version)."""
    from .events.sweep import sweep as run_sweep
    from .jobs.queues import CeleryQueue
    from .runtime import Runtime

    settings = load_settings()
    setup_logging(settings)
    store = startup_checks(settings)
    runtime = Runtime(settings, store=store)
    counts = run_sweep(store, runtime.layout, runtime.dispatcher(CeleryQueue(configure_app(settings))), force=force, prefix=prefix)
    click.echo(json.dumps(counts, sort_keys=True))


@cli.command()
@click.argument("keys", nargs=-1)
@click.option("--prefix", default=None, help="Submit every input below this prefix.")
@click.option("--force", is_flag=True, help="Reprocess even when the record is current.")
def submit(keys: tuple[str, ...], prefix: str | None, force: bool) -> None:
    """Enqueue inputs by hand: KEY... or --prefix P (backfill, reprocess)."""
    if bool(keys) == bool(prefix):
        raise click.UsageError("give KEY... or --prefix P")
    from .events.model import ObjectEvent
    from .jobs.queues import CeleryQueue
    from .runtime import Runtime

    settings = load_settings()
    setup_logging(settings)
    store = startup_checks(settings)
    runtime = Runtime(settings, store=store)
    dispatcher = runtime.dispatcher(CeleryQueue(configure_app(settings)))
    if prefix:
        events = (
            ObjectEvent(store.bucket, info.key, info.etag, info.size, info.version_id, origin="submit")
            for info in store.list(prefix)
            if runtime.layout.is_input(info.key)
        )
    else:
        events = (ObjectEvent(store.bucket, key, None, origin="submit") for key in keys)
    counts: dict[str, int] = {}
    with dispatcher.batching():  # several articles to a task message (COPYDESK_DISPATCH_BATCH)
        for event in events:
            result = dispatcher.submit(event, force=force)
            counts[result] = counts.get(result, 0) + 1
    click.echo(json.dumps(counts, sort_keys=True))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (errors too).")
@click.option("--watch", is_flag=True, help="Refresh a live table with rates over the last minutes until interrupted.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between refreshes of --watch.")
@click.option("--timeout", default=0.5, show_default=True, help="Longest wait for workers with a fresh heartbeat to answer, in seconds.")
@click.option("--max-age", type=float, default=None, help="Oldest message age, in seconds, above which the exit code is 1 (default: COPYDESK_QUEUE_MAX_AGE).")
@click.option("--articles", is_flag=True, help="Also count inputs, records and quarantine records (lists the bucket: slow on a big one).")
def status(as_json: bool, watch: bool, interval: float, timeout: float, max_age: float | None, articles: bool) -> None:
    """Queues (waiting, unacked, oldest age), workers alive, active and reserved tasks.

    Exit code 1 when no worker is alive or a queue's oldest message is older than --max-age
    (usable as a probe), or when the broker does not answer.
    """
    import redis

    from .status import Rates, render_table, snapshot

    try:
        settings = load_settings()
    except click.ClickException as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "error": exc.format_message()}))
            sys.exit(exc.exit_code)
        raise
    app = configure_app(settings)
    setup_logging(settings, "WARNING")
    # The store is read only for --articles (listing a big bucket is slow; the rest is Redis).
    store = open_checked_store(settings) if articles else None
    limit = settings.queue_max_age if max_age is None else max_age
    client = redis.Redis.from_url(settings.broker_url, socket_timeout=5, socket_connect_timeout=2)

    def take() -> dict:
        snap = snapshot(app, client, timeout=timeout, max_age=limit)
        snap["broker"] = redact_text(settings.broker_url)
        if store is not None:
            from .layout import Layout
            from .status import article_counts

            snap["articles"] = article_counts(store, Layout.from_settings(settings))
        return snap

    if watch and not as_json:
        from rich.live import Live

        rates = Rates()
        with Live(auto_refresh=False) as live:
            try:
                while True:
                    try:
                        snap = take()
                        rates.add(snap)
                        live.update(render_table(snap, rates), refresh=True)
                    except Exception as exc:
                        live.update(f"copydesk: status failed: {type(exc).__name__}: {redact_text(str(exc))}", refresh=True)
                    time.sleep(interval)
            except KeyboardInterrupt:
                return
    while True:
        try:
            snap = take()
        except Exception as exc:
            if isinstance(exc, redis.RedisError):
                message = f"broker {redact_text(settings.broker_url)} does not answer: {type(exc).__name__}: {redact_text(str(exc))}"
            else:
                message = f"status failed: {type(exc).__name__}: {redact_text(str(exc))}"
            if as_json:
                click.echo(json.dumps({"ok": False, "error": message, "broker": redact_text(settings.broker_url)}))
                if not watch:
                    sys.exit(EXIT_FAILURE)
            else:
                fail(message)
        else:
            if as_json:
                click.echo(json.dumps(snap, sort_keys=True))
            else:
                from rich.console import Console

                Console().print(render_table(snap))
                if "articles" in snap:
                    a = snap["articles"]
                    click.echo(f"articles {a['inputs']} inputs, {a['processed']} processed, {a['quarantined']} quarantined")
            if not watch:
                sys.exit(EXIT_OK if snap["ok"] else EXIT_FAILURE)
        time.sleep(interval)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("flower_args", nargs=-1, type=click.UNPROCESSED)
def flower(flower_args: tuple[str, ...]) -> None:
    """Start Flower, the task queue's web UI (`celery -A worker.app flower`); extra arguments go
    to flower. Its API needs authentication: set FLOWER_BASIC_AUTH=user:password (see README)."""
    import importlib.util

    if importlib.util.find_spec("flower") is None:
        fail("flower is not installed: `uv sync` (the ops group) or `pip install copydesk[flower]`")
    settings = load_settings()
    startup_checks(settings, store=False, needs_store=False)
    argv = [sys.executable, "-m", "celery", "-A", "worker.app", "flower", *flower_args]
    os.execv(sys.executable, argv)


@cli.command("config")
@click.option("--markdown", is_flag=True, help="Print the table the README carries.")
def config_cmd(markdown: bool) -> None:
    """Every COPYDESK_ variable with its default and meaning, and the values in effect."""
    rows = documentation()
    if markdown:
        click.echo("| variable | default | meaning |\n|---|---|---|")
        for name, default, doc in rows:
            click.echo(f"| `{name}` | `{default}` | {doc} |")
        return
    settings = load_settings()
    for name, _default, doc in rows:
        value = getattr(settings, name[len("COPYDESK_"):].lower())
        shown = "***" if "TOKEN" in name and value else redact_text(str(value))
        click.echo(f"{name}={shown}\n    {doc}")


def register_feature_commands() -> None:
    from tasks.classification.cli import train

    from .search.cli import export, reindex, search

    for command in (train, search, reindex, export):
        cli.add_command(command)


def main() -> None:
    register_feature_commands()
    cli(prog_name="copydesk")


if __name__ == "__main__":
    main()
