"""Chaos benchmark (issue 11.10): the whole path under faults, one command.

    .venv/bin/python bench/chaos.py                      # 600 articles, every fault
    .venv/bin/python bench/chaos.py --count 60 --faults worker-kill9,s3-refused

What runs, all on loopback and all started here: moto's S3+SQS server (bucket notifications
to an SQS queue), a small TCP proxy in front of it through which every copydesk process
reaches S3 and SQS (closing it is "S3 refused"), this bench's own `redis-server` on a free
port (never the shared 6379: the bench restarts it), two `celery worker`s (prefork), `celery
beat` (the sweep every --sweep-interval seconds) and `copydesk listen --sqs`. Articles are
uploaded straight to moto; S3 notifies SQS; the listener enqueues.

For each fault, a fresh bucket and queue; the fault is injected once a third of the articles
are done, and the bench waits until every input has a record or a quarantine record (or
--timeout). It prints, per fault: lost (inputs without output and with no task for them in
the broker), inputs without output at the end, articles started more than once (and, of those,
how many ran the same attempt twice: a redelivery), records written more than once (the bucket
is versioned), wrongly quarantined (every input is a good article), and the time from the
fault to the last article done; for the whole-worker kill also the time from the kill to the
in-flight articles starting again elsewhere.

Faults: worker-kill9 (kill -9 of a whole worker and its pool; a supervisor restarts it 2 s
later), child-kill9 (kill -9 of one pool child), redis-restart (the broker restarted without
persistence: queues and claims are gone; the sweep re-enqueues), s3-refused (the proxy refuses
connections for --refuse seconds), listener-killed (kill -9 of the SQS listener, restarted 3 s
later), store-outage (the proxy refuses connections for --outage seconds, 150 by default).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from _ports import free_port, wait_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REGION = "us-east-1"
FAULTS = ["worker-kill9", "child-kill9", "redis-restart", "s3-refused", "listener-killed", "store-outage"]
QUEUES = "copydesk.articles,copydesk.index,copydesk.maintenance"


# -- the proxy: S3 refused ----------------------------------------------------------------------
class Proxy:
    """TCP proxy 127.0.0.1:port -> 127.0.0.1:target. close() refuses new connections and
    resets the open ones; open() listens again on the same port."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self.open()

    def open(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(256)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            try:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()
            except OSError:
                pass

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 60)
                if not readable:
                    continue
                for src in readable:
                    data = src.recv(65536)
                    if not data:
                        raise OSError("closed")
                    (b if src is a else a).sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._conns.discard(a)
                self._conns.discard(b)


# -- processes ------------------------------------------------------------------------------------
class Proc:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.argv, self.env, self.log_dir = name, argv, env, log_dir
        self.starts = 0
        self.proc: subprocess.Popen | None = None
        self.logs: list[Path] = []

    def start(self) -> Proc:
        self.starts += 1
        path = self.log_dir / f"{self.name}.{self.starts}.log"
        self.logs.append(path)
        with open(path, "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill9(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        self.kill9()

    def events(self) -> list[dict]:
        out = []
        for path in self.logs:
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    with contextlib.suppress(ValueError):
                        out.append(json.loads(line))
        return out


class Redis:
    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_dir / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.log_dir)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(self.port)

    def restart(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


# -- the articles ---------------------------------------------------------------------------------
def articles(count: int) -> list[tuple[str, bytes]]:
    examples = sorted(p for p in (ROOT / "examples").iterdir() if p.suffix in (".html", ".xml", ".txt"))
    out = []
    for i in range(count):
        path = examples[i % len(examples)]
        data = path.read_bytes()
        marker = f"Chaos bench article {i}."
        if path.suffix == ".txt":
            data = data + f"\n\n{marker}\n".encode()
        else:
            data = data.replace(b"</p>", f" {marker}</p>".encode(), 1)
        out.append((f"incoming/chaos/{i:05d}-{path.name}", data))
    return out


def ts(event: dict) -> float:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


# -- one scenario ---------------------------------------------------------------------------------
class Scenario:
    def __init__(self, fault: str, args, moto_url: str, proxy: Proxy, redis: Redis, run_dir: Path) -> None:
        import boto3

        self.fault, self.args, self.proxy, self.redis = fault, args, proxy, redis
        self.dir = run_dir / fault
        self.dir.mkdir(parents=True)
        self.s3 = boto3.client("s3", endpoint_url=moto_url, region_name=REGION)
        self.sqs = boto3.client("sqs", endpoint_url=moto_url, region_name=REGION)
        self.bucket = f"chaos-{fault}-{uuid.uuid4().hex[:6]}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        self.queue_url = self.sqs.create_queue(QueueName=f"{self.bucket}-events")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.s3.put_bucket_notification_configuration(Bucket=self.bucket, NotificationConfiguration={"QueueConfigurations": [
            {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"], "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}}}]})
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COPYDESK_", "AWS_"))}
        env.update(
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{proxy.port}", AWS_ACCESS_KEY_ID="chaos", AWS_SECRET_ACCESS_KEY="chaos",
            AWS_DEFAULT_REGION=REGION, COPYDESK_STORE=f"s3://{self.bucket}", COPYDESK_BROKER_URL=redis.url,
            COPYDESK_SWEEP_INTERVAL=str(args.sweep_interval), COPYDESK_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1",
            PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        self.env = env
        self.workers = [
            Proc(f"worker{i}", [str(BIN / "celery"), "-A", "worker.app", "worker", "--pool", "prefork", "-c", str(args.concurrency),
                                "-n", f"chaos{i}-{uuid.uuid4().hex[:6]}@bench", "-Q", QUEUES, "--without-gossip", "--without-mingle",
                                "--loglevel", "INFO"], env, self.dir)
            for i in range(1, args.workers + 1)
        ]
        self.beat = Proc("beat", [str(BIN / "celery"), "-A", "worker.app", "beat", "-s", str(self.dir / "beat-schedule"),
                                  "--loglevel", "INFO"], env, self.dir)
        self.listener = Proc("listener", [str(BIN / "copydesk"), "listen", "--sqs", self.queue_url], env, self.dir)
        self.procs = [*self.workers, self.beat, self.listener]

    def outputs(self) -> dict[str, str]:
        """input key -> "processed" | "quarantined", from listings straight to moto."""
        found = {}
        paginator = self.s3.get_paginator("list_objects_v2")
        for prefix, status in (("quarantine/chaos/", "quarantined"), ("processed/chaos/", "processed")):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", ()):
                    found["incoming/" + obj["Key"][len(prefix.split("/")[0]) + 1: -len(".json")]] = status
        return found

    def run(self) -> dict:
        import redis as redis_lib

        args = self.args
        redis_lib.Redis.from_url(self.redis.url).flushall()
        for proc in self.procs:
            proc.start()
        time.sleep(args.startup)
        items = articles(args.count)
        keys = {key for key, _ in items}
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda kv: self.s3.put_object(Bucket=self.bucket, Key=kv[0], Body=kv[1]), items))
        uploaded = time.time()
        while len(self.outputs()) < args.count // 3:
            if time.time() - uploaded > args.timeout:
                break
            time.sleep(0.5)
        t_fault = time.time()
        in_flight = self.inject()
        t_fault_end = time.time()
        last_done = None
        seen = 0
        while time.time() - t_fault_end < args.timeout:
            outputs = self.outputs()
            if len(outputs) > seen:
                seen, last_done = len(outputs), time.time()
            if keys <= set(outputs):
                break
            time.sleep(1)
        result = self.measure(keys, t_fault, last_done, in_flight)
        for proc in self.procs:
            proc.stop()
        return result

    def inject(self) -> dict:
        """Inject the fault; returns {key: kill time} of articles in flight on a killed worker."""
        fault = self.fault
        if fault == "worker-kill9":
            victim = self.workers[0]

            def in_flight() -> set[str]:
                events = victim.events()
                done = {e.get("key") for e in events if e.get("event") in ("article_processed", "article_quarantined")}
                return {e.get("key") for e in events if e.get("event") == "article_started"} - done

            deadline = time.time() + 30
            while not in_flight() and time.time() < deadline:
                time.sleep(0.05)  # kill it while an article is in flight on it
            started = in_flight()
            victim.kill9()
            killed_at = time.time()
            started -= in_flight() ^ started  # finished between the look and the kill: not in flight
            time.sleep(2)
            victim.start()
            return {key: killed_at for key in started if key}
        if fault == "child-kill9":
            parent = self.workers[0].proc.pid
            children = [int(p) for p in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
            os.kill(children[0], signal.SIGKILL)
        elif fault == "redis-restart":
            self.redis.restart()
        elif fault == "s3-refused":
            self.proxy.close()
            time.sleep(self.args.refuse)
            self.proxy.open()
        elif fault == "store-outage":
            self.proxy.close()
            time.sleep(self.args.outage)
            self.proxy.open()
        elif fault == "listener-killed":
            self.listener.kill9()
            time.sleep(3)
            self.listener.start()
        return {}

    def pending_keys(self) -> set[str]:
        """Keys of article tasks still in the broker (queued or unacknowledged)."""
        import base64

        import redis as redis_lib

        client = redis_lib.Redis.from_url(self.redis.url)
        raw = list(client.lrange("copydesk.articles", 0, -1)) + list(client.hvals("unacked"))
        keys = set()
        for item in raw:
            try:
                message = json.loads(item)
                if isinstance(message, list):
                    message = message[0]
                body = json.loads(base64.b64decode(message["body"]))
                keys.add(body[1].get("key"))
            except (ValueError, KeyError, TypeError, IndexError):
                continue
        return keys

    def measure(self, keys: set[str], t_fault: float, last_done: float | None, in_flight: dict) -> dict:
        outputs = self.outputs()
        missing = keys - set(outputs)
        pending = self.pending_keys() if missing else set()
        events = [e for worker in self.workers for e in worker.events()]
        starts: Counter[str] = Counter(e.get("key") for e in events if e.get("event") == "article_started")
        attempts: Counter[tuple] = Counter((e.get("key"), e.get("attempt")) for e in events if e.get("event") == "article_started")
        same_attempt_twice = {key for (key, _attempt), n in attempts.items() if n > 1}
        versions: Counter[str] = Counter()
        paginator = self.s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix="processed/chaos/"):
            for version in page.get("Versions", ()):
                versions[version["Key"]] += 1
        redelivery = []
        for key, killed_at in in_flight.items():
            later = [ts(e) for e in events if e.get("event") == "article_started" and e.get("key") == key and ts(e) > killed_at]
            if later:
                redelivery.append(min(later) - killed_at)
        return {
            "fault": self.fault,
            "lost": len(missing - pending),
            "without_output": len(missing),
            "started_more_than_once": sum(1 for key in keys if starts[key] > 1),
            "same_attempt_twice": len(same_attempt_twice & keys),
            "records_written_more_than_once": sum(1 for n in versions.values() if n > 1),
            "wrongly_quarantined": sum(1 for status in outputs.values() if status == "quarantined"),
            "fault_to_last_done_s": round(last_done - t_fault, 1) if last_done and not missing else None,
            "in_flight_at_kill": len(in_flight),
            "redelivered_after_s": round(max(redelivery), 1) if redelivery else None,
            "in_flight_not_restarted": len(in_flight) - len(redelivery),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=600, help="articles per fault (default 600)")
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated, from {', '.join(FAULTS)}")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes per worker")
    parser.add_argument("--refuse", type=float, default=30, help="seconds of 's3-refused'")
    parser.add_argument("--outage", type=float, default=150, help="seconds of 'store-outage'")
    parser.add_argument("--sweep-interval", type=int, default=20)
    parser.add_argument("--startup", type=float, default=8, help="seconds given to the processes to start")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for every article after a fault")
    parser.add_argument("--keep", action="store_true", help="keep the logs folder")
    args = parser.parse_args()
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = set(faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults: {sorted(unknown)}")
    if shutil.which("redis-server") is None:
        sys.exit("bench/chaos.py needs redis-server on the PATH")
    run_dir = Path(tempfile.mkdtemp(prefix="copydesk-chaos-"))
    moto_port = free_port()
    with open(run_dir / "moto.log", "wb") as moto_log:
        moto = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
                                stdout=moto_log, stderr=subprocess.STDOUT, start_new_session=True)
    redis = Redis(run_dir)
    results = []
    current: list[Scenario] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the cleanup below
    try:
        wait_port(moto_port)
        redis.start()
        proxy = Proxy(moto_port)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "chaos")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "chaos")
        for fault in faults:
            print(f"chaos: {fault} on {args.count} articles ...", file=sys.stderr, flush=True)
            started = time.time()
            current[:] = [Scenario(fault, args, f"http://127.0.0.1:{moto_port}", proxy, redis, run_dir)]
            result = current[0].run()
            result["scenario_s"] = round(time.time() - started)
            results.append(result)
            print(json.dumps(result), file=sys.stderr, flush=True)
    finally:
        for scenario in current:
            for proc in scenario.procs:
                proc.stop()
        redis.stop()
        moto.terminate()
        try:
            moto.wait(timeout=10)
        except subprocess.TimeoutExpired:
            moto.kill()
            moto.wait()
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"chaos: logs in {run_dir}", file=sys.stderr)
    columns = [
        ("fault", "fault"), ("lost", "lost"), ("without_output", "without output at end"),
        ("started_more_than_once", "started > once"), ("same_attempt_twice", "same attempt twice"),
        ("records_written_more_than_once", "records written > once"), ("wrongly_quarantined", "wrongly quarantined"),
        ("fault_to_last_done_s", "fault → last done (s)"), ("redelivered_after_s", "kill → in-flight restarted (s, max)"),
    ]
    print(f"\n{args.count} articles per fault, {args.workers} workers x {args.concurrency} processes, sweep every {args.sweep_interval} s\n")
    print("| " + " | ".join(title for _, title in columns) + " |")
    print("|" + "---|" * len(columns))
    for result in results:
        cells = []
        for name, _ in columns:
            value = result.get(name)
            if name == "redelivered_after_s" and result.get("in_flight_at_kill"):
                value = f"{value} ({result['in_flight_at_kill']} in flight, {result['in_flight_not_restarted']} not restarted)"
            cells.append("-" if value is None else str(value))
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
