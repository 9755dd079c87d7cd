"""Helpers of the integration tests: subprocesses with their output in files, polling with a
deadline, and `Stack`, one bucket with its queue and the copydesk processes serving it.

The fixtures that build them are in conftest.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable

import pytest

from support import ROOT, SAMPLE, SHARED, free_port  # noqa: F401  (re-exported for the tests)

BIN = Path(sys.executable).parent
REDIS_TEST_URL = os.environ.get("COPYDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REGION = "us-east-1"
#: moto accepts any credentials; a distinctive secret lets a test look for it in the logs.
AWS_KEY_ID, AWS_SECRET = "moto-test-key", "moto-secret-3b7f0e2a91"
ARTICLES_QUEUE = "copydesk.articles"

#: Every subprocess still running, for the failure report.
RUNNING: list[Service] = []


# -- processes ------------------------------------------------------------------------------
class Service:
    """A subprocess in its own process group, its stdout+stderr in a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        #: Seconds a SIGTERM gets before SIGKILL.
        self.stop_timeout = 15.0
        #: Stopped or killed on purpose: its death is not a failure.
        self.stopped = False

    def start(self) -> Service:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        RUNNING.append(self)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """kill -9 of the process and everything in its group (a worker and its pool)."""
        self.stopped = True
        _signal_group(self.pid, signal.SIGKILL)

    def stop(self) -> None:
        self.stopped = True
        if self.proc is None:
            return
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=self.stop_timeout)
        _signal_group(self.proc.pid, signal.SIGKILL)  # the group: pool children too
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._log.close()
        if self in RUNNING:
            RUNNING.remove(self)

    def text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def events(self) -> list[dict]:
        """The JSON log lines this process printed (other lines are skipped)."""
        return list(json_lines(self.text()))

    def tail(self, lines: int = 40) -> str:
        state = "running" if self.alive() else f"exited {self.proc.returncode if self.proc else '-'}"
        body = "\n".join(self.text().splitlines()[-lines:])
        return f"--- {self.name} ({state}; {self.log_path}) ---\n{body}"


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def json_lines(text: str) -> Iterable[dict]:
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except ValueError:
                continue


def tails(services: Iterable[Service] | None = None, lines: int = 40) -> str:
    return "\n".join(s.tail(lines) for s in (RUNNING if services is None else services))


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, services: Iterable[Service] = ()) -> Any:
    """Poll `predicate` until it returns something truthy; fail with the processes' output."""
    services = list(services)
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        value = predicate()
        if value:
            return value
        dead = [s for s in services if not s.alive()]
        if dead:
            # The processes' output is attached to the report (conftest.py).
            pytest.fail(f"{', '.join(s.name for s in dead)} exited while waiting for {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


# -- services -------------------------------------------------------------------------------
def redis_client_or_fail(url: str = REDIS_TEST_URL):
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        pytest.fail(
            f"Redis at {url} does not answer ({type(exc).__name__}: {exc}). The integration tests "
            "need a real Redis: start `redis-server` on 127.0.0.1:6379 (.ci/run does)."
        )
    return client


def base_env(moto_url: str, broker_url: str, bucket: str, **extra: str) -> dict[str, str]:
    """The environment of every copydesk subprocess: ours, minus any COPYDESK_/AWS_ leftovers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COPYDESK_", "AWS_"))}
    env.update(
        AWS_ENDPOINT_URL=moto_url,
        AWS_ACCESS_KEY_ID=AWS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=AWS_SECRET,
        AWS_DEFAULT_REGION=REGION,
        COPYDESK_STORE=f"s3://{bucket}",
        COPYDESK_BROKER_URL=broker_url,
        COPYDESK_LOG_LEVEL="INFO",
        COPYDESK_SWEEP_INTERVAL="0",
        PYTHONUNBUFFERED="1",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    if "COPYDESK_SHARED_DIR" in os.environ:
        env["COPYDESK_SHARED_DIR"] = os.environ["COPYDESK_SHARED_DIR"]
    env.update(extra)
    return env


class Stack:
    """One bucket (versioned, so "written once" can be counted), optionally wired to an SQS
    queue by a real bucket notification, and the copydesk processes that serve it."""

    def __init__(self, name: str, moto_url: str, redis_client, log_dir: Path, broker_url: str = REDIS_TEST_URL) -> None:
        import boto3

        self.name = name
        self.moto_url = moto_url
        self.redis = redis_client
        self.log_dir = log_dir
        self.bucket = f"cd-{name}-{uuid.uuid4().hex[:8]}"
        self.s3 = boto3.client("s3", endpoint_url=moto_url, region_name=REGION,
                               aws_access_key_id=AWS_KEY_ID, aws_secret_access_key=AWS_SECRET)
        self.sqs = boto3.client("sqs", endpoint_url=moto_url, region_name=REGION,
                                aws_access_key_id=AWS_KEY_ID, aws_secret_access_key=AWS_SECRET)
        self.queue_url: str | None = None
        self.services: list[Service] = []
        self.env = base_env(moto_url, broker_url, self.bucket)
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})

    # -- wiring ----------------------------------------------------------------------------
    def notify_sqs(self, prefix: str = "incoming/") -> str:
        """S3 → SQS: the standard AWS wiring, with moto delivering the events itself."""
        self.queue_url = self.sqs.create_queue(QueueName=f"{self.bucket}-events")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "Id": "copydesk-incoming",
                        "QueueArn": arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
                    }
                ]
            },
        )
        return self.queue_url

    # -- processes -------------------------------------------------------------------------
    def service(self, name: str, argv: list[str], **env: str) -> Service:
        service = Service(f"{self.name}-{name}", argv, {**self.env, **env}, self.log_dir).start()
        self.services.append(service)
        return service

    def start_worker(self, name: str = "w1", concurrency: int = 2, **env: str) -> Service:
        node = f"{self.name}-{name}-{uuid.uuid4().hex[:6]}@copydesk-test"
        argv = [
            str(BIN / "celery"), "-A", "worker.app", "worker",
            "--pool", "prefork", "-c", str(concurrency), "-n", node,
            "-Q", "copydesk.articles,copydesk.index,copydesk.maintenance",
            "--without-gossip", "--without-mingle", "--loglevel", "INFO",
        ]
        worker = self.service(name, argv, **env)
        worker.node = node
        return worker

    def wait_worker_ready(self, worker: Service, timeout: float = 60) -> None:
        app = self.control_app()
        wait_until(lambda: app.control.ping(destination=[worker.node], timeout=0.5),
                   timeout, f"worker {worker.node} to answer a ping", [worker])

    def control_app(self):
        """A bare Celery client on the same broker, for ping/inspect (not the app under test)."""
        if not hasattr(self, "_control"):
            from celery import Celery

            self._control = Celery("copydesk-tests", broker=REDIS_TEST_URL)
        return self._control

    def start_sqs_listener(self) -> Service:
        assert self.queue_url, "notify_sqs() first"
        listener = self.service("listen-sqs", [str(BIN / "copydesk"), "listen", "--sqs", self.queue_url])
        # It finishes its 20 s long poll before it stops; killing it loses nothing (an
        # undeleted message comes back after its visibility timeout).
        listener.stop_timeout = 3.0
        return listener

    def copydesk(self, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
        """Run one `copydesk` command to completion."""
        return subprocess.run(
            [str(BIN / "copydesk"), *args],
            env={**self.env, **env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        if hasattr(self, "_control"):
            self._control.close()

    # -- bucket ----------------------------------------------------------------------------
    def put(self, key: str, data: bytes) -> dict:
        resp = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return {"etag": resp["ETag"].strip('"'), "version_id": resp.get("VersionId")}

    def get(self, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None

    def get_json(self, key: str) -> dict | None:
        data = self.get(key)
        return None if data is None else json.loads(data)

    def log_events(self, key: str) -> list[dict]:
        data = self.get(key)
        return [] if data is None else [json.loads(line) for line in data.decode().splitlines() if line.strip()]

    def versions(self, key: str) -> list[dict]:
        """Every stored version of exactly `key` (the bucket is versioned)."""
        resp = self.s3.list_object_versions(Bucket=self.bucket, Prefix=key)
        return [v for v in resp.get("Versions", []) if v["Key"] == key]

    def keys(self, prefix: str) -> list[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        return [o["Key"] for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix) for o in page.get("Contents", [])]

    def wait_json(self, key: str, timeout: float = 90, until: Callable[[dict], bool] = lambda doc: True,
                  what: str | None = None) -> dict:
        def ready():
            doc = self.get_json(key)
            return doc if doc is not None and until(doc) else None

        return wait_until(ready, timeout, what or f"s3://{self.bucket}/{key}", self.live_services())

    def live_services(self) -> list[Service]:
        return [s for s in self.services if not s.stopped]

    def queue_depth(self, queue: str = ARTICLES_QUEUE) -> int:
        return int(self.redis.llen(queue))

    def sqs_drained(self) -> bool:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def with_password(url: str, password: str) -> str:
    """The Redis URL with credentials in it (Redis' default user without a password accepts any),
    to check that no log line ever shows them."""
    scheme, rest = url.split("://", 1)
    return url if "@" in rest else f"{scheme}://default:{password}@{rest}"


def sample_paragraphs(data: bytes) -> list[str]:
    """The article's paragraphs in the sample, found from its README's first and last words."""
    lines = [line.strip() for line in data.decode("utf-8").splitlines()]
    first = next(i for i, line in enumerate(lines) if line.startswith("North Korean and US officials are holding"))
    last = next(i for i, line in enumerate(lines) if line.endswith('resume dialogue at an early stage."'))
    return [line for line in lines[first : last + 1] if line]
