"""The embedded default, no servers: `copydesk run DIR --once` on a folder, and `make demo`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from integration_support import BIN, ROOT, sample_paragraphs

pytestmark = pytest.mark.integration

EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.suffix in (".html", ".txt", ".xml"))
TABLE_HEADER = ("file", "title", "lang", "topic", "words", "removed", "result")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COPYDESK_", "AWS_"))}
    env.update(extra)
    return env


def run_once(folder, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "copydesk"), "run", str(folder), "--once", *args],
        env=clean_env(), cwd=ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )


def search(folder, cache, query: str, *options: str) -> list[dict]:
    result = subprocess.run(
        [str(BIN / "copydesk"), "search", "--json", *options, query],
        env=clean_env(COPYDESK_STORE=f"file://{folder}", COPYDESK_CACHE_DIR=str(cache)),
        cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]  # 1: no hits
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_run_once_processes_a_folder(tmp_path, sample):
    store = tmp_path / "store"
    incoming = store / "incoming"
    (incoming / "wire").mkdir(parents=True)
    for example in EXAMPLES:
        shutil.copy(example, incoming / example.name)
    (incoming / "wire" / "sample.txt").write_bytes(sample)
    (incoming / "empty.txt").write_bytes(b"")
    sources = {p: p.read_bytes() for p in incoming.rglob("*") if p.is_file()}

    first = run_once(store)
    assert first.returncode == 3, f"one input is bad: exit code 3 expected\n{first.stdout}\n{first.stderr[-3000:]}"
    lines = first.stdout.splitlines()
    assert tuple(lines[0].split()) == TABLE_HEADER, first.stdout
    for example in EXAMPLES:
        assert any(line.startswith(example.name) for line in lines), f"{example.name} missing from the table"

    for example in EXAMPLES:
        record = json.loads((store / "processed" / f"{example.name}.json").read_text())
        assert record["text"].strip(), example.name
        assert len(record["language"]["code"]) == 2, record["language"]
        assert (store / "logs" / f"{example.name}.jsonl").is_file()
    # The index documents travelled in pending markers, which the run's batches consumed; no
    # document object of their own (the index below finds every article).
    assert not (store / "index" / "docs").exists()
    assert not [p for p in (store / "index" / "pending").rglob("*") if p.is_file()]
    record = json.loads((store / "processed" / "wire" / "sample.txt.json").read_text())
    assert record["text"] == "\n\n".join(sample_paragraphs(sample))
    assert record["topics"][0]["label"] == "world" and record["language"]["code"] == "en"
    quarantine = json.loads((store / "quarantine" / "empty.txt.json").read_text())
    assert quarantine["reason"] == "empty"

    # Once `run --once` returns, the index in the folder finds every article it processed.
    for query, options in (("Kim Jong Un summit", ()), ("Hanoi", ("--topic", "world"))):
        hits = search(store, tmp_path / "cache", query, *options)
        assert hits and hits[0]["source_key"] == "incoming/wire/sample.txt", (query, hits)
    for example in EXAMPLES:
        record = json.loads((store / "processed" / f"{example.name}.json").read_text())
        first_words = " ".join(record["text"].split()[:6])
        found = search(store, tmp_path / "cache", f'"{first_words}"', "--limit", "3")
        assert any(h["source_key"] == f"incoming/{example.name}" for h in found), (example.name, first_words, found)

    records_mtime = {p: p.stat().st_mtime_ns for p in (store / "processed").rglob("*.json")}
    assert len(records_mtime) == len(EXAMPLES) + 1

    # Inputs are untouched, and nothing was written under incoming/.
    assert {p: p.read_bytes() for p in incoming.rglob("*") if p.is_file()} == sources

    # Everything is current now: a second run processes nothing and finds nothing bad.
    again = run_once(store, "--json")
    assert again.returncode == 0, again.stderr[-3000:]
    outcomes = [json.loads(line) for line in again.stdout.splitlines() if line.startswith("{")]
    assert not [o for o in outcomes if o["status"] != "skipped"], outcomes
    assert "0 processed, 0 quarantined" in again.stderr, again.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in (store / "processed").rglob("*.json")} == records_mtime


def test_make_demo(tmp_path):
    """`make demo` as the README gives it, with its bucket in a temporary folder: the test must not
    replace a user's build/demo/."""
    make = shutil.which("make")
    assert make, "`make` is not installed"
    demo = tmp_path / "demo"
    user_build = ROOT / "build"
    before = sorted((str(p), p.stat().st_mtime_ns) for p in user_build.rglob("*")) if user_build.exists() else []
    result = subprocess.run(
        [make, "demo", f"DEMO_DIR={demo}"], env=clean_env(), cwd=ROOT, capture_output=True, text=True, timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"make demo failed\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    lines = result.stdout.splitlines()
    header = next((i for i, line in enumerate(lines) if tuple(line.split()) == TABLE_HEADER), None)
    assert header is not None, f"no result table in:\n{result.stdout}"
    rows = lines[header + 2 : header + 2 + len(EXAMPLES)]
    after = sorted((str(p), p.stat().st_mtime_ns) for p in user_build.rglob("*")) if user_build.exists() else []
    assert after == before, "make demo with DEMO_DIR set touched the user's build/ folder"
    assert sorted(row.split()[0] for row in rows) == [p.name for p in EXAMPLES]
    for example in EXAMPLES:
        record = json.loads((demo / "processed" / f"{example.name}.json").read_text())
        assert record["source"]["key"] == f"incoming/{example.name}"
        assert any(example.name in row and f"processed/{example.name}.json" in row for row in rows), rows
