"""`copydesk status` against a real Redis: what kombu really stores (queues, the unacked hash,
the enqueue-time header copydesk stamps), read in one snapshot; the probe's exit codes; JSON
even for errors. No worker runs here (the integration tests have the ones with workers)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from celery import Celery
from kombu import Connection

from worker.app import ARTICLES_QUEUE, INDEX_QUEUE, PROCESS_ARTICLE, celery_config
from worker.broker import ENQUEUED_AT_HEADER, WORKER_HEARTBEATS
from worker.heartbeat import FORGET_SECONDS, FRESH_SECONDS, alive, beat
from worker.settings import Settings
from worker.status import Rates, queue_snapshot, render_table, snapshot

BIN = Path(sys.executable).parent


@pytest.fixture
def producer(redis_url):
    """A Celery client configured as copydesk's (same routes; importing worker.app connected the
    publish hook that stamps the enqueue time)."""
    app = Celery("status-test")
    app.conf.update(celery_config(Settings.from_env({}, broker_url=redis_url)))
    yield app
    app.close()


def _client(url):
    return redis.Redis.from_url(url)


def test_waiting_unacked_and_oldest_age_come_from_one_snapshot(producer, redis_url):
    before = time.time()
    for i in range(3):
        producer.send_task(PROCESS_ARTICLE, kwargs={"bucket": "b", "key": f"incoming/{i}.txt"}, queue=ARTICLES_QUEUE)
        time.sleep(0.01)
    producer.send_task(PROCESS_ARTICLE, kwargs={"bucket": "b", "key": "incoming/late.txt"}, queue=ARTICLES_QUEUE)
    client = _client(redis_url)
    raw = client.lindex(ARTICLES_QUEUE, -1)
    stamped = json.loads(raw)["headers"][ENQUEUED_AT_HEADER]
    assert before <= stamped <= time.time()

    # A consumer takes one message without acknowledging it: kombu moves it to `unacked`.
    with Connection(redis_url) as conn:
        queue = conn.SimpleQueue(ARTICLES_QUEUE, no_ack=False)
        message = queue.get(timeout=5)
        assert message.headers[ENQUEUED_AT_HEADER] == stamped  # the oldest, taken first
        snap = queue_snapshot(client, now=stamped + 100)
        articles = snap["queues"][ARTICLES_QUEUE]
        assert articles["waiting"] == 3
        assert articles["unacked"] == 1
        # the oldest still waiting is the second one sent, a little after `stamped`
        assert 99 < articles["oldest_age_s"] < 100
        assert snap["queues"][INDEX_QUEUE] == {"waiting": 0, "unacked": 0, "oldest_age_s": None}
        message.ack()
        queue.close()
    assert queue_snapshot(client)["queues"][ARTICLES_QUEUE]["unacked"] == 0


def _status(redis_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": str(BIN), "COPYDESK_BROKER_URL": redis_url, "HOME": "/tmp"}
    return subprocess.run([str(BIN / "copydesk"), "status", *args], env=env, capture_output=True, text=True, timeout=60)


def test_probe_fails_without_a_worker_and_with_an_old_message(producer, redis_url):
    producer.send_task(PROCESS_ARTICLE, kwargs={"bucket": "b", "key": "incoming/x.txt"}, queue=ARTICLES_QUEUE)
    time.sleep(1.1)
    result = _status(redis_url, "--json", "--timeout", "0.3", "--max-age", "1")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["workers_alive"] == 0
    assert "no worker alive" in report["problems"]
    assert any(p.startswith(f"{ARTICLES_QUEUE}: oldest message waited") for p in report["problems"]), report
    assert report["queues"][ARTICLES_QUEUE]["waiting"] == 1
    # The same without --json: a table, the same exit code.
    table = _status(redis_url, "--timeout", "0.3", "--max-age", "1")
    assert table.returncode == 1
    assert "no worker alive" in table.stdout and ARTICLES_QUEUE in table.stdout


def test_json_even_when_the_broker_does_not_answer():
    result = _status("redis://:hunter2-secret@127.0.0.1:1/0", "--json", "--timeout", "0.3")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and "ConnectionError" in report["error"]
    assert "hunter2-secret" not in result.stdout + result.stderr


def test_rates_over_a_window_ignore_a_restarted_worker():
    rates = Rates()

    def snap(t, done, waiting):
        return {"time": t, "workers": {k: {"articles_total": v} for k, v in done.items()},
                "queues": {ARTICLES_QUEUE: {"waiting": waiting}}}

    assert rates.articles_per_s(60) is None
    rates.add(snap(1000.0, {"a": 10, "b": 100}, 50))
    rates.add(snap(1030.0, {"a": 40, "b": 3}, 20))  # b restarted: its counter went down
    rates.add(snap(1060.0, {"a": 70, "b": 33}, 0))
    assert rates.articles_per_s(60) == pytest.approx((60 + 0) / 60)
    assert rates.articles_per_s(30) == pytest.approx((30 + 30) / 30)
    assert rates.queue_growth_per_s(ARTICLES_QUEUE, 60) == pytest.approx(-50 / 60)


def test_rates_count_a_worker_that_appears_mid_window():
    rates = Rates()
    for t, done in ((0.0, {}), (10.0, {"new@h": 0}), (20.0, {"new@h": 150})):
        rates.add({"time": t, "workers": {k: {"articles_total": v} for k, v in done.items()},
                   "queues": {ARTICLES_QUEUE: {"waiting": 0}}})
    assert rates.articles_per_s(60) == pytest.approx(150 / 20)


def test_the_table_shows_every_queue_and_worker():
    from rich.console import Console

    snap = {
        "ok": True, "problems": [], "time": 0.0, "elapsed_s": 0.1, "workers_alive": 1,
        "queues": {ARTICLES_QUEUE: {"waiting": 7, "unacked": 2, "oldest_age_s": 3.5}},
        "workers": {"w1@host": {"concurrency": 2, "active": 2, "reserved": 0, "articles_total": 41, "tasks_total": 44, "uptime_s": 9}},
    }
    console = Console(width=120, record=True)
    console.print(render_table(snap, Rates()))
    text = console.export_text()
    assert ARTICLES_QUEUE in text and "w1@host" in text and "3.5s" in text and "41" in text


def test_a_heartbeat_is_stamped_with_the_servers_clock_and_old_ones_are_forgotten(redis_url):
    client = _client(redis_url)
    server_now = client.time()[0]
    client.zadd(WORKER_HEARTBEATS, {"long-gone@host": server_now - FORGET_SECONDS - 10})
    beat(client, "w1@host")
    stamps = dict(client.zrange(WORKER_HEARTBEATS, 0, -1, withscores=True))
    assert set(stamps) == {b"w1@host"}
    assert server_now <= stamps[b"w1@host"] <= client.time()[0]


def test_only_fresh_heartbeats_count_as_alive():
    now = 10_000.0
    stamps = [(b"fresh@a", now - 1), ("edge@b", now - FRESH_SECONDS), (b"stale@c", now - FRESH_SECONDS - 1)]
    assert alive(stamps, now) == {"fresh@a": 1.0, "edge@b": float(FRESH_SECONDS)}


class _NoBroadcast:
    """A Celery app stand-in whose broadcast fails the test if it is used."""

    @property
    def control(self):
        raise AssertionError("status broadcast with no worker heartbeat")


def test_no_heartbeat_means_no_broadcast_and_no_worker_alive(redis_url):
    client = _client(redis_url)
    # A worker killed with SIGKILL leaves its control-queue binding and a heartbeat that goes
    # stale; neither makes status wait for it.
    client.sadd("_kombu.binding.celery.pidbox", "killed@host.celery.pidbox")
    client.zadd(WORKER_HEARTBEATS, {"killed@host": client.time()[0] - FRESH_SECONDS - 5})
    snap = snapshot(_NoBroadcast(), client, timeout=5.0, max_age=60)
    assert snap["workers_alive"] == 0 and snap["workers"] == {}
    assert snap["problems"] == ["no worker alive"] and snap["ok"] is False


def test_a_beating_worker_that_does_not_answer_is_listed_as_such(producer, redis_url):
    client = _client(redis_url)
    beat(client, "silent@host")
    snap = snapshot(producer, client, timeout=0.3, max_age=60)
    assert snap["workers_alive"] == 1 and snap["ok"] is True
    silent = snap["workers"]["silent@host"]
    assert silent["answered"] is False and silent["concurrency"] is None
    assert 0 <= silent["heartbeat_age_s"] <= FRESH_SECONDS
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(render_table(snap))
    assert "silent@host (no answer)" in console.export_text()


def test_a_heartbeat_outage_is_logged_once_and_its_end_too(monkeypatch):
    from worker import heartbeat

    events: list[str] = []
    monkeypatch.setattr(heartbeat.log, "warning", lambda event, **kw: events.append(event))
    monkeypatch.setattr(heartbeat.log, "info", lambda event, **kw: events.append(event))
    monkeypatch.setattr(heartbeat, "BEAT_SECONDS", 0)
    hb = heartbeat.Heartbeat("redis://127.0.0.1:1/0", "w@h")
    monkeypatch.setattr(hb, "_client", lambda: None)
    outcomes = [ConnectionError("down")] * 3 + [None, None]

    def fake_beat(_client, _name):
        outcome = outcomes.pop(0)
        if not outcomes:
            hb._stop.set()
        if outcome is not None:
            raise outcome

    monkeypatch.setattr(heartbeat, "beat", fake_beat)
    hb._run()
    assert events == ["heartbeat_failed", "heartbeat_restored"]
