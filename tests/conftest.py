"""Fixtures shared by every test: the real services copydesk talks to.

- `moto_server`: moto's standalone S3+SQS server, started as a subprocess on a free loopback
  port for the whole session; boto3 reaches it through AWS_ENDPOINT_URL as it would AWS/MinIO.
- `redis_url`: a real Redis at 127.0.0.1:6379 (database 14, flushed per test). When Redis does
  not answer, the test FAILS with a message — it never skips.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from support import REDIS_TEST_URL, SAMPLE, free_port, wait_for_port

# boto3 must never reach a real AWS account from the tests.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """URL of a moto S3+SQS server running in its own process for this session (tests/moto_atomic.py)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - held open for the server's lifetime
    # moto's server with its conditional writes made atomic, as every real store's are.
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("moto_atomic.py")), "127.0.0.1", str(port)],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, proc=proc)
    except Exception as exc:
        proc.kill()
        pytest.fail(f"moto_server did not start: {exc}\n{log_path.read_text(errors='replace')[-2000:]}")
    url = f"http://127.0.0.1:{port}"
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log_file.close()


@pytest.fixture
def s3_bucket(moto_server, monkeypatch):
    """A fresh bucket on the moto server; AWS_ENDPOINT_URL points boto3 at it."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    name = f"copydesk-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server).create_bucket(Bucket=name)
    return name


@pytest.fixture
def redis_url():
    """A real Redis, flushed before the test. Fails (never skips) when Redis is missing."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis at {REDIS_TEST_URL} does not answer ({exc}); start redis-server (see .ci/run)")
    client.flushdb()
    yield REDIS_TEST_URL
    client.flushdb()


@pytest.fixture(scope="session")
def sample_bytes() -> bytes:
    assert SAMPLE.is_file(), f"the shared sample is missing at {SAMPLE}"
    return SAMPLE.read_bytes()


@pytest.fixture(scope="session", autouse=True)
def json_logging():
    """Configure logging as every copydesk entry point does (the lineage log depends on it)."""
    from worker.logging import configure_logging

    configure_logging("INFO")
