"""What `copydesk run` shows: a progress display, one line per article, the result table.

rich draws them. The progress display (counts, rate, ETA) appears only when stderr is a
terminal; the table fits the terminal it is printed on (titles are shortened, never the file
names or result); when stdout is not a terminal, lines are not cut.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .processing import PROCESSED, QUARANTINED, Outcome

#: Width used for a table printed to a pipe or file: wide enough never to cut a line.
PIPE_WIDTH = 400


def _console(stream) -> Console:
    terminal = hasattr(stream, "isatty") and stream.isatty()
    return Console(file=stream, width=None if terminal else PIPE_WIDTH, highlight=False, soft_wrap=False)


def result_text(outcome: Outcome) -> str:
    if outcome.status == QUARANTINED:
        return f"quarantined ({outcome.reason})"
    if outcome.status == PROCESSED:
        return outcome.output_key or "processed"
    return f"skipped ({outcome.reason})" if outcome.reason else "skipped"


def _row(outcome: Outcome, input_prefix: str) -> tuple[str, ...]:
    s = outcome.summary
    title = s.get("title") or (s.get("message", "") if outcome.reason else "")
    return (
        outcome.key[len(input_prefix):] if outcome.key.startswith(input_prefix) else outcome.key,
        " ".join(str(title).split()),
        s.get("language") or "-",
        s.get("topic") or ("-" if outcome.status != PROCESSED else "uncertain"),
        str(s.get("words", "-")),
        str(s.get("removed_lines", "-")),
        result_text(outcome),
    )


HEADER = ("file", "title", "lang", "topic", "words", "removed", "result")


def print_table(outcomes: Iterable[Outcome], input_prefix: str, stream=None) -> None:
    """The outcomes as a table on `stream` (stdout), fitted to the terminal when it is one."""
    stream = stream or sys.stdout
    console = _console(stream)
    ordered = sorted(outcomes, key=lambda o: o.key)
    rows = [_row(outcome, input_prefix) for outcome in ordered]
    title_width = _title_width(rows, console.width)
    if title_width < MIN_TITLE:  # a narrow terminal: the result column says only what happened
        rows = [(*row[:-1], outcome.status) for row, outcome in zip(rows, ordered, strict=True)]
        title_width = max(MIN_TITLE, _title_width(rows, console.width))
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for i, name in enumerate(HEADER):
        if name == "title":  # the one column that gives way
            table.add_column(name, overflow="ellipsis", no_wrap=True, width=title_width)
        else:
            width = max(len(name), *(len(row[i]) for row in rows))
            table.add_column(name, no_wrap=True, width=width, justify="right" if name in ("words", "removed") else "left")
    for row in rows:
        table.add_row(*row)
    console.print(table)


#: Below this many columns for the title, the result column shrinks to the status word.
MIN_TITLE = 16
#: Between two columns: one space of padding on each side and the (blank) rule.
_GAP = 3


def _title_width(rows: list[tuple[str, ...]], total: int) -> int:
    natural = max([len("title"), *(len(row[1]) for row in rows)])
    others = sum(max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(HEADER) if name != "title")
    return min(natural, total - others - _GAP * (len(HEADER) - 1))


def article_line(outcome: Outcome, input_prefix: str) -> str:
    """One line per article for watch mode: result, file, language, topic, words, title."""
    file, title, lang, topic, words, removed, result = _row(outcome, input_prefix)
    if outcome.status == PROCESSED:
        return f"{time.strftime('%H:%M:%S')} processed   {file}  {lang} {topic} {words} words, {removed} removed  {title}"
    return f"{time.strftime('%H:%M:%S')} {result:<11} {file}  {title}"


class RunProgress:
    """A live progress display on stderr (only when it is a terminal): done/total, rate, ETA,
    and the processed / quarantined / skipped counts so far."""

    def __init__(self, enabled: bool | None = None) -> None:
        stream = sys.stderr
        self.enabled = (hasattr(stream, "isatty") and stream.isatty()) if enabled is None else enabled
        self._lock = threading.Lock()
        self.counts = {PROCESSED: 0, QUARANTINED: 0, "skipped": 0}
        self._progress: Progress | None = None
        self._task = None
        if self.enabled:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=stream),
                transient=True,
                refresh_per_second=4,
            )
            self._task = self._progress.add_task(self._description(), total=0, rate="")

    def _description(self) -> str:
        c = self.counts
        return f"{c[PROCESSED]} processed, {c[QUARANTINED]} quarantined, {c['skipped']} skipped"

    def __enter__(self) -> RunProgress:
        if self._progress is not None:
            self._progress.start()
            self._started = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, *, total: int, done: int) -> None:
        if self._progress is None or self._task is None:
            return
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = f"{done / elapsed:.1f}/s" if done else ""
        self._progress.update(self._task, total=max(total, done), completed=done, description=self._description(), rate=rate)

    def note(self, message: str) -> None:
        """A line above the live display (or on stderr when there is none)."""
        if self._progress is not None:
            self._progress.console.print(message, highlight=False, markup=False)
        else:
            print(message, file=sys.stderr, flush=True)


def footer(folder: Path, input_prefix: str, processed_prefix: str, quarantine_prefix: str) -> str:
    return (
        f"inputs {folder / input_prefix}/ · records {folder / processed_prefix}/ · "
        f"quarantine {folder / quarantine_prefix}/"
    )
