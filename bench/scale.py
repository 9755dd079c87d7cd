"""Scaling across hosts: throughput with 1, 2 and 3 worker hosts, side by side.

Each host is a Linux network namespace linked to a bridge by a veth pair (tests/netns.py); one
Redis and one moto S3 server listen on the bridge's address only, so every message and every
object crosses a host's link. For each repeat and each host count: a fresh bucket holding the
same articles (real pages of the shared extraction benchmark), one `celery worker` per host
(`--concurrency` processes each), all answering a ping before the clock starts; the clock runs
from `copydesk submit` to the last record or quarantine record. Medians over the repeats.

    sudo .venv/bin/python bench/scale.py                       # 60 articles, 1/2/3 hosts, 3 repeats
    .venv/bin/python bench/scale.py --articles 90 --repeat 5 --concurrency 1

Also printed: how busy the machine's CPUs were during the runs (all cores, from /proc/stat:
this includes anything else running) and the CPU seconds Redis and moto used, to say where
the ceiling comes from. Needs root and iproute2. Not run by CI.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from integration_support import AWS_KEY_ID, AWS_SECRET, BIN, REGION, Service, base_env  # noqa: E402
from netns import HostNet, requirements  # noqa: E402
from support import SHARED  # noqa: E402

QUEUES = "copydesk.articles,copydesk.index,copydesk.maintenance"


def articles(count: int) -> list[bytes]:
    pages = sorted((SHARED / "data" / "article-extraction-benchmark" / "html").glob("*.html.gz"))
    if len(pages) < count:
        sys.exit(f"only {len(pages)} pages in the extraction benchmark; ask for fewer --articles")
    return [gzip.decompress(p.read_bytes()) for p in pages[:count]]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def free_port_on(address: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def run_once(net: HostNet, hosts: int, docs: list[bytes], s3, broker: str, s3_url: str, concurrency: int,
             logs: Path, watched: dict[str, int]) -> dict:
    from celery import Celery

    bucket = f"cd-scale-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    for i, data in enumerate(docs):
        s3.put_object(Bucket=bucket, Key=f"incoming/scale/{i:04d}.html", Body=data)
    env = base_env(s3_url, broker, bucket, COPYDESK_LOG_LEVEL="WARNING")
    workers = []
    control = Celery("scale-bench", broker=broker)
    try:
        for host in range(hosts):
            node = f"h{host + 1}-{uuid.uuid4().hex[:4]}@{net.namespaces[host]}"
            argv = net.argv(host, [str(BIN / "celery"), "-A", "worker.app", "worker", "--pool", "prefork",
                                   "-c", str(concurrency), "-n", node, "-Q", QUEUES, "--without-gossip",
                                   "--without-mingle", "--loglevel", "WARNING"])
            worker = Service(f"{bucket}-h{host + 1}", argv, env, logs).start()
            worker.node = node
            workers.append(worker)
        for worker in workers:
            wait(lambda w=worker: control.control.ping(destination=[w.node], timeout=0.5), 120, f"{worker.node} ready")

        def outputs() -> int:
            count = 0
            for prefix in ("processed/scale/", "quarantine/scale/"):
                pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                count += sum(page.get("KeyCount", 0) for page in pages)
            return count

        cpu0 = {name: cpu_seconds(pid) for name, pid in watched.items()}
        busy0, total0 = machine_busy()
        started = time.perf_counter()
        submit = subprocess.run(net.argv(0, [str(BIN / "copydesk"), "submit", "--prefix", "incoming/scale/"]),
                                env=env, capture_output=True, text=True, timeout=300)
        if submit.returncode != 0:
            raise RuntimeError(submit.stderr[-2000:])
        wait(lambda: outputs() >= len(docs), 1800, "every article's output")
        seconds = time.perf_counter() - started
        busy1, total1 = machine_busy()
        cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in watched.items()}
    finally:
        for worker in workers:
            worker.stop()
        control.close()
    return {"seconds": seconds, "busy": (busy1 - busy0) / max(1, total1 - total0), **{f"cpu_{k}": v for k, v in cpu.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=60)
    parser.add_argument("--hosts", default="1,2,3", help="host counts to measure (at most 3)")
    parser.add_argument("--concurrency", type=int, default=1, help="worker processes per host")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    missing = requirements()
    if missing:
        sys.exit(f"bench/scale.py: {missing}")
    counts = [int(h) for h in args.hosts.split(",")]
    docs = articles(args.articles)
    import boto3

    logs = Path(tempfile.mkdtemp(prefix="copydesk-scale-"))
    net = HostNet(max(counts)).up()
    services: list[Service] = []
    try:
        redis_port, s3_port = free_port_on(net.gateway), free_port_on(net.gateway)
        env = base_env("", "", "")
        redis = Service("redis", ["redis-server", "--bind", net.gateway, "--port", str(redis_port), "--save", "",
                                  "--appendonly", "no", "--protected-mode", "no"], env, logs).start()
        moto = Service("moto", [str(BIN / "moto_server"), "-H", net.gateway, "-p", str(s3_port)], env, logs).start()
        services += [redis, moto]
        s3_url = f"http://{net.gateway}:{s3_port}"
        s3 = boto3.client("s3", endpoint_url=s3_url, region_name=REGION,
                          aws_access_key_id=AWS_KEY_ID, aws_secret_access_key=AWS_SECRET)

        def s3_up() -> bool:
            try:
                s3.list_buckets()
                return True
            except Exception:
                return False

        wait(s3_up, 60, "moto")
        broker = f"redis://{net.gateway}:{redis_port}/0"
        results: dict[int, list[dict]] = {k: [] for k in counts}
        for r in range(args.repeat):
            for k in counts:  # interleaved, so drift in the machine's load hits every count alike
                result = run_once(net, k, docs, s3, broker, s3_url, args.concurrency, logs,
                                  {"redis": redis.pid, "moto": moto.pid})
                results[k].append(result)
                print(f"repeat {r + 1} hosts {k}: {result['seconds']:.1f} s", file=sys.stderr, flush=True)
    finally:
        for service in services:
            service.stop()
        net.down()
    base = statistics.median(x["seconds"] for x in results[counts[0]])
    print(f"{args.articles} articles (shared extraction benchmark pages), {args.concurrency} worker process(es) per host, "
          f"median of {args.repeat}; machine: {os.cpu_count()} CPUs")
    print(f"{'hosts':>5} {'processes':>9} {'seconds':>8} {'articles/s':>10} {'speedup':>8} {'CPU busy':>9} "
          f"{'moto CPU s':>10} {'redis CPU s':>11}")
    for k in counts:
        med = statistics.median(x["seconds"] for x in results[k])
        busy = statistics.median(x["busy"] for x in results[k])
        moto_cpu = statistics.median(x["cpu_moto"] for x in results[k])
        redis_cpu = statistics.median(x["cpu_redis"] for x in results[k])
        print(f"{k:>5} {k * args.concurrency:>9} {med:>8.1f} {args.articles / med:>10.2f} {base / med:>7.2f}x "
              f"{busy:>8.0%} {moto_cpu:>10.1f} {redis_cpu:>11.2f}")


if __name__ == "__main__":
    main()
