"""Bad inputs are quarantined with a clear reason; the worker keeps going, the good inputs next to
them are processed, and no source object is modified. Announced by `copydesk sweep`."""

from __future__ import annotations

import json

import pytest

from integration_support import ROOT, wait_until

pytestmark = pytest.mark.integration

MAX_BYTES = 16 * 1024  # this worker's COPYDESK_MAX_BYTES

BAD_INPUTS = {
    "empty.txt": (b"", "empty"),
    "picture.png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)) * 4, "binary"),
    # A UTF-16 byte-order mark, then a lone surrogate and an odd trailing byte: no charset fits.
    "undecodable.txt": (b"\xff\xfe" + "Breaking news".encode("utf-16-le") + b"\x00\xd8\x41", "undecodable"),
    "huge.txt": ((b"A long paragraph of ordinary news text. " * 600)[: MAX_BYTES + 4000], "too_large"),
    "malformed.xml": (b'<?xml version="1.0"?>\n<article><title>Broken</title><body><p>never closed</body>', "malformed_markup"),
    "laughs.xml": (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]>\n<article><title>Laughs</title><body><p>&lol3;</p></body></article>',
        "entity_declaration",
    ),
}
GOOD_INPUTS = ("harbour-council-budget.html", "clinic-flu-vaccines.xml")


@pytest.fixture(scope="module")
def stack(make_stack, sample):
    stack = make_stack("bad")
    stack.worker = stack.start_worker("w1", concurrency=2, COPYDESK_MAX_BYTES=str(MAX_BYTES))
    uploads = {}
    for name, (data, _reason) in BAD_INPUTS.items():
        uploads[f"incoming/batch/{name}"] = (data, stack.put(f"incoming/batch/{name}", data))
    for name in GOOD_INPUTS:
        data = (ROOT / "examples" / name).read_bytes()
        uploads[f"incoming/batch/{name}"] = (data, stack.put(f"incoming/batch/{name}", data))
    uploads["incoming/batch/sample.txt"] = (sample, stack.put("incoming/batch/sample.txt", sample))
    stack.uploads = uploads
    result = stack.copydesk("sweep", COPYDESK_MAX_BYTES=str(MAX_BYTES))  # while the worker starts
    assert result.returncode == 0, f"copydesk sweep failed:\n{result.stdout}\n{result.stderr[-3000:]}"
    stack.sweep_counts = json.loads(result.stdout.strip().splitlines()[-1])
    stack.wait_worker_ready(stack.worker)
    return stack


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_quarantined_with_its_reason(stack, name):
    data, reason = BAD_INPUTS[name]
    key = f"incoming/batch/{name}"
    quarantine = stack.wait_json(f"quarantine/batch/{name}.json", timeout=90)
    assert quarantine["reason"] == reason, quarantine
    assert quarantine["error_class"] and quarantine["message"], quarantine
    assert quarantine["attempts"] == 1
    assert quarantine["source_etag"] == stack.uploads[key][1]["etag"]
    assert quarantine["time"]
    assert stack.get_json(f"processed/batch/{name}.json") is None
    # The lineage log is completed after the quarantine record (which is written before
    # `article_quarantined` is logged): wait for it.
    events = wait_until(
        lambda: [e for e in stack.log_events(f"logs/batch/{name}.jsonl") if e["event"] == "article_quarantined"]
        and stack.log_events(f"logs/batch/{name}.jsonl"),
        30, f"the lineage log of {name}", stack.live_services(),
    )
    assert [e["event"] for e in events][:1] == ["article_started"]
    assert any(e["event"] == "article_quarantined" and e.get("reason") == reason for e in events), events
    # The source is read, never modified or removed.
    assert stack.get(key) == data
    assert len(stack.versions(key)) == 1


@pytest.mark.parametrize("name", [*GOOD_INPUTS, "sample.txt"])
def test_the_rest_is_processed(stack, name):
    record = stack.wait_json(f"processed/batch/{name}.json", timeout=90)
    assert record["text"].strip() and record["language"]["code"]
    assert stack.get_json(f"quarantine/batch/{name}.json") is None
    assert stack.get(f"incoming/batch/{name}") == stack.uploads[f"incoming/batch/{name}"][0]


def test_sweep_enqueued_every_input_and_the_worker_survived(stack):
    # Every record or quarantine record is there (the parametrized tests waited for them).
    for key in stack.uploads:
        rel = key[len("incoming/"):]
        output = "quarantine" if rel.split("/")[-1] in BAD_INPUTS else "processed"
        stack.wait_json(f"{output}/{rel}.json", timeout=60)
    assert stack.sweep_counts.get("enqueued") == len(stack.uploads), stack.sweep_counts
    assert stack.worker.alive()
    # A second sweep finds everything current: quarantined inputs are not retried forever.
    again = stack.copydesk("sweep", COPYDESK_MAX_BYTES=str(MAX_BYTES))
    assert again.returncode == 0, again.stderr[-3000:]
    counts = json.loads(again.stdout.strip().splitlines()[-1])
    assert not counts.get("enqueued"), counts


def test_status_reports_queues_workers_and_counts(stack):
    for key in stack.uploads:  # wait until every input has its outcome
        rel = key[len("incoming/"):]
        output = "quarantine" if rel.split("/")[-1] in BAD_INPUTS else "processed"
        stack.wait_json(f"{output}/{rel}.json", timeout=60)
    result = stack.copydesk("status", "--json", "--timeout", "3", "--articles")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert set(report["queues"]) == {"copydesk.articles", "copydesk.index", "copydesk.maintenance"}
    assert report["queues"]["copydesk.articles"]["waiting"] == 0
    assert any("-w1-" in name for name in report["workers"]), report["workers"]
    assert report["active"] >= 0 and report["reserved"] >= 0
    articles = report["articles"]
    assert articles["quarantined"] >= len(BAD_INPUTS)
    assert articles["processed"] >= len(GOOD_INPUTS) + 1
    assert articles["inputs"] >= len(stack.uploads)
    assert "***" in report["broker"] or "@" not in report["broker"]  # never a password
