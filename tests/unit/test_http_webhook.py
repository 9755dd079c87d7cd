"""The webhook (issue 11.3): token required, scheme case-insensitive, other buckets refused, a
cap on records, slow clients cut off, malformed bodies 400, and 500 concurrent POSTs all
answered. A real uvicorn server on a loopback port."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from worker.dispatch import Dispatcher, MemoryClaims
from worker.events.http import make_app, make_server
from worker.layout import Layout
from worker.storage.memory import MemoryStore

TOKEN = "s3cret-token"


def s3_record(key: str, bucket: str = "news", etag: str = "abc") -> dict:
    return {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 12, "eTag": etag}}}


class RecordingQueue:
    def __init__(self, fail: bool = False):
        self.events = []
        self.fail = fail

    def enqueue(self, event, *, force=False, prior=None):
        if self.fail:
            raise ConnectionError("broker down")
        self.events.append(event)

    def enqueue_removal(self, event):
        self.events.append(event)


def dispatcher_for(queue) -> Dispatcher:
    layout = Layout("incoming/", "processed/", "logs/", "quarantine/", "index/")
    return Dispatcher(MemoryStore("news"), layout, queue, MemoryClaims(), "pv1", 60)


@pytest.fixture
def served():
    started = []

    def serve(queue=None, **options):
        queue = queue or RecordingQueue()
        options.setdefault("token", TOKEN)
        server = make_server("127.0.0.1", 0, dispatcher_for(queue), **options)
        thread = server.start_in_thread()
        started.append((server, thread))
        return server.port, queue

    yield serve
    for server, thread in started:
        server.stop(thread)


def request(port: int, body: bytes, headers: dict[str, str] | None = None, method: str = "POST", path: str = "/") -> tuple[int, dict]:
    """One HTTP/1.1 request on a fresh connection; (status, JSON body)."""
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    payload = data.split(b"\r\n\r\n", 1)[1]
    return status, json.loads(payload) if payload.strip() else {}


def notification(*records) -> bytes:
    return json.dumps({"Records": list(records)}).encode()


def test_a_token_is_required_unless_explicitly_disabled():
    with pytest.raises(ValueError, match="token"):
        make_app(dispatcher_for(RecordingQueue()))
    make_app(dispatcher_for(RecordingQueue()), allow_anonymous=True)  # explicitly disabled: allowed


def test_token_and_scheme(served):
    port, queue = served()
    body = notification(s3_record("incoming/a.txt"))
    assert request(port, body)[0] == 401
    assert request(port, body, {"Authorization": "Bearer wrong"})[0] == 401
    assert request(port, body, {"Authorization": f"Basic {TOKEN}"})[0] == 401
    assert request(port, body, {"Authorization": TOKEN})[0] == 401
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        status, answer = request(port, notification(s3_record(f"incoming/{scheme}.txt")), {"Authorization": f"{scheme} {TOKEN}"})
        assert status == 200 and answer["results"] == ["enqueued"], (scheme, status, answer)
    assert [e.key for e in queue.events] == ["incoming/Bearer.txt", "incoming/bearer.txt", "incoming/BEARER.txt", "incoming/bEaReR.txt"]


def test_anonymous_when_allowed(served):
    port, queue = served(token="", allow_anonymous=True)
    status, answer = request(port, notification(s3_record("incoming/a.txt")))
    assert status == 200 and answer["results"] == ["enqueued"]


def test_other_buckets_are_refused_and_nothing_of_the_request_is_enqueued(served):
    port, queue = served()
    body = notification(s3_record("incoming/ok.txt"), s3_record("incoming/theirs.txt", bucket="someone-elses"))
    status, answer = request(port, body, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 403 and "someone-elses" in answer["error"], answer
    assert queue.events == []


def test_records_per_request_are_capped(served):
    port, queue = served(max_records=10)
    body = notification(*[s3_record(f"incoming/{i}.txt") for i in range(11)])
    status, answer = request(port, body, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 413 and "at most 10" in answer["error"], answer
    assert queue.events == []
    assert request(port, notification(*[s3_record(f"incoming/{i}.txt") for i in range(10)]), {"Authorization": f"Bearer {TOKEN}"})[0] == 200


@pytest.mark.parametrize(
    "body",
    [
        b"nope",
        b"",
        b"[" * 100_000,
        json.dumps({"Records": [{**s3_record("incoming/a.txt"), "s3": {"bucket": {"name": ["news"]}, "object": {"key": "incoming/a"}}}]}).encode(),
        b'{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "news"}, "object": {"key": "incoming/a", "size": "abc"}}}]}',
        b'{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "news"}, "object": {"key": "incoming/a", "size": NaN}}}]}',
        b"\xff\xfe\x00",
    ],
)
def test_malformed_bodies_get_400(served, body):
    port, queue = served()
    status, answer = request(port, body, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 400 and answer["error"], answer
    assert queue.events == []


def test_too_large_body_gets_413(served):
    port, _ = served()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {2 << 20}\r\n\r\n{{".encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 413")


def test_503_when_enqueue_fails_and_health(served):
    port, _ = served(RecordingQueue(fail=True))
    assert request(port, notification(s3_record("incoming/a.txt")), {"Authorization": f"Bearer {TOKEN}"})[0] == 503
    assert request(port, b"", method="GET", path="/healthz")[0] == 200


def test_slow_client_is_cut_off(served):
    port, _ = served(timeout=1)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 1000\r\n\r\n{{".encode())
        started = time.monotonic()
        data = sock.recv(65536)
        waited = time.monotonic() - started
    assert data.startswith(b"HTTP/1.1 408"), data[:100]
    assert waited < 10


def test_500_concurrent_posts_are_all_answered(served):
    port, queue = served()
    count = 500

    async def one(i: int) -> int:
        body = notification(s3_record(f"incoming/load/{i}.txt", etag=f"e{i}"))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
        )
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 120)
        writer.close()
        return int(data.split(b" ", 2)[1]) if data else 0

    async def all_of_them():
        return await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)

    statuses = asyncio.run(all_of_them())
    assert statuses.count(200) == count, {str(s) for s in statuses if s != 200}
    assert len(queue.events) == count
