"""Hostile inputs (issue 11.11): 56 cases (XXE, entity bombs, gzip bombs, encodings, binaries,
bad keys, pathological markup; tests/integration/hostile_cases.py) uploaded beside ordinary
articles to a real bucket on moto's S3 server, announced by `copydesk sweep`, processed by two
real prefork `celery worker`s. Every case ends in a record or a quarantine record with a clear
reason, the good articles beside them are all processed, the workers survive, and a second
sweep finds nothing to do.

The table of outcomes: `pytest -s tests/integration/test_hostile_inputs.py` prints it.
"""

from __future__ import annotations

import json

import pytest

from hostile_cases import MAX_BYTES, cases, good_articles
from worker.layout import Layout

pytestmark = pytest.mark.integration

LAYOUT = Layout("incoming/", "processed/", "logs/", "quarantine/", "index/")
CASES = cases()


@pytest.fixture(scope="module")
def stack(make_stack):
    stack = make_stack("hostile")
    env = {"COPYDESK_MAX_BYTES": str(MAX_BYTES)}
    stack.workers = [stack.start_worker(f"w{i}", concurrency=2, **env) for i in (1, 2)]
    stack.uploads = {}
    for key, data, _expected in CASES.values():
        stack.uploads[key] = stack.put(key, data)
    for key, data in good_articles().items():
        stack.uploads[key] = stack.put(key, data)
    for worker in stack.workers:
        stack.wait_worker_ready(worker)
    result = stack.copydesk("sweep", **env)
    assert result.returncode == 0, f"copydesk sweep failed:\n{result.stdout}\n{result.stderr[-3000:]}"
    stack.sweep_counts = json.loads(result.stdout.strip().splitlines()[-1])
    stack.outcomes = {}
    return stack


def outcome(stack, key: str, timeout: float = 180) -> tuple[str, dict]:
    """("processed", record) or ("quarantined", quarantine record), waiting for either."""
    if key in stack.outcomes:
        return stack.outcomes[key]
    record_key, quarantine_key = LAYOUT.record_key(key), LAYOUT.quarantine_key(key)

    def ready():
        record = stack.get_json(record_key)
        if record is not None:
            return ("processed", record)
        quarantine = stack.get_json(quarantine_key)
        return ("quarantined", quarantine) if quarantine is not None else None

    from integration_support import wait_until

    stack.outcomes[key] = wait_until(ready, timeout, f"an outcome for {key[:120]!r}", stack.live_services())
    return stack.outcomes[key]


@pytest.mark.parametrize("name", list(CASES))
def test_every_hostile_input_ends_in_a_record_or_a_quarantine(stack, name):
    key, data, expected = CASES[name]
    status, doc = outcome(stack, key)
    assert doc["source"]["key"] == key, "the outcome must name the original key"
    if status == "quarantined":
        assert doc["reason"] and doc["message"] and doc["error_class"], doc
        assert doc["source_etag"] == stack.uploads[key]["etag"]
    else:
        assert doc["source"]["etag"] == stack.uploads[key]["etag"]
    if expected == "processed":
        assert status == "processed", doc
    elif expected == "quarantined":
        assert status == "quarantined", doc
    elif expected != "any":
        assert status == "quarantined" and doc["reason"] == expected, doc
    if expected == "bad_key":
        assert LAYOUT.quarantine_key(key).startswith("quarantine/_bad-keys/")


@pytest.mark.parametrize("key", sorted(good_articles()))
def test_good_articles_beside_them_are_processed(stack, key):
    status, doc = outcome(stack, key)
    assert status == "processed" and doc["text"].strip(), doc


def test_workers_survived_and_a_second_sweep_finds_nothing_to_do(stack):
    for key in stack.uploads:
        outcome(stack, key)
    assert all(worker.alive() for worker in stack.workers)
    assert not stack.sweep_counts.get("failed"), stack.sweep_counts
    again = stack.copydesk("sweep", COPYDESK_MAX_BYTES=str(MAX_BYTES))
    assert again.returncode == 0, again.stderr[-3000:]
    counts = json.loads(again.stdout.strip().splitlines()[-1])
    assert not counts.get("enqueued") and not counts.get("failed"), counts
    # No bad key reached a store path outside the layout: every object is under a prefix.
    for prefix_key in stack.keys(""):
        assert prefix_key.startswith(("incoming/", "processed/", "logs/", "quarantine/", "index/")), prefix_key


def test_print_the_table(stack):
    rows = ["| case | expected | outcome | reason / message |", "|---|---|---|---|"]
    for name, (key, _data, expected) in CASES.items():
        status, doc = outcome(stack, key)
        detail = f"`{doc['reason']}`: {doc['message'][:90]}" if status == "quarantined" else f"{doc.get('words')} words, {(doc.get('language') or {}).get('code')}"
        rows.append(f"| {name} | {expected} | {status} | {detail.replace('|', '/')} |")
    for key in sorted(good_articles()):
        status, doc = outcome(stack, key)
        rows.append(f"| good: {key.rsplit('/', 1)[1]} | processed | {status} | {doc.get('words')} words |")
    print("\n" + "\n".join(rows))
    assert len(rows) - 2 >= 50
