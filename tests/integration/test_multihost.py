"""Horizontal scaling across hosts: three network namespaces (tests/netns.py), one prefork
worker in each, one Redis and one moto S3 server bound to the bridge's address only (so the
workers reach them over their veth links, and nothing reaches them on loopback), one versioned
bucket. Every article is processed exactly once (one version of each record), none is lost,
and every host did some of the work. The namespaces go whatever happens (fixture finalizer)."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid

import boto3
import pytest
import redis

from integration_support import AWS_KEY_ID, AWS_SECRET, BIN, REGION, Service, base_env, wait_until
from netns import HostNet, requirements

pytestmark = pytest.mark.integration

HOSTS = 3
ARTICLES = 24


def free_port_on(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def net():
    missing = requirements()
    if missing:
        pytest.fail(f"the multi-host test cannot run: {missing}")
    hosts = HostNet(HOSTS).up()
    try:
        yield hosts
    finally:
        hosts.down()
        assert not hosts.leftovers(), hosts.leftovers()


@pytest.fixture(scope="module")
def services(net, tmp_path_factory):
    """Redis and moto on the bridge address only; stopped at the end."""
    logs = tmp_path_factory.mktemp("multihost")
    started: list[Service] = []
    try:
        redis_port, s3_port = free_port_on(net.gateway), free_port_on(net.gateway)
        env = base_env("", "", "")
        started.append(Service("redis", ["redis-server", "--bind", net.gateway, "--port", str(redis_port),
                                          "--save", "", "--appendonly", "no", "--protected-mode", "no"], env, logs).start())
        started.append(Service("moto", [str(BIN / "moto_server"), "-H", net.gateway, "-p", str(s3_port)], env, logs).start())
        broker = f"redis://{net.gateway}:{redis_port}/0"
        client = redis.Redis.from_url(broker, socket_connect_timeout=1)
        wait_until(lambda: _answers(client), 30, "the bridge's Redis", started)
        s3_url = f"http://{net.gateway}:{s3_port}"
        s3 = boto3.client("s3", endpoint_url=s3_url, region_name=REGION,
                          aws_access_key_id=AWS_KEY_ID, aws_secret_access_key=AWS_SECRET)
        wait_until(lambda: _answers_s3(s3), 30, "the bridge's moto server", started)
        yield {"broker": broker, "s3_url": s3_url, "s3": s3, "redis": client, "logs": logs,
               "redis_port": redis_port, "s3_port": s3_port, "started": started}
    finally:
        for service in reversed(started):
            service.stop()


def _answers(client) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def _answers_s3(s3) -> bool:
    try:
        s3.list_buckets()
        return True
    except Exception:
        return False


def _reachable_from(net: HostNet, host: int | None, address: str, port: int) -> bool:
    code = f"import socket; socket.create_connection(({address!r}, {port}), timeout=2)"
    argv = [sys.executable, "-c", code]
    result = subprocess.run(net.argv(host, argv) if host is not None else argv, capture_output=True, timeout=30)
    return result.returncode == 0


def test_servers_are_reachable_only_over_the_links(net, services):
    for host in range(HOSTS):
        assert _reachable_from(net, host, net.gateway, services["redis_port"])
        assert _reachable_from(net, host, net.gateway, services["s3_port"])
        assert not _reachable_from(net, host, "127.0.0.1", services["redis_port"])
    assert not _reachable_from(net, None, "127.0.0.1", services["redis_port"])
    assert not _reachable_from(net, None, "127.0.0.1", services["s3_port"])


def test_every_article_processed_exactly_once_across_hosts(net, services, sample):
    s3 = services["s3"]
    bucket = f"cd-multihost-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    keys = [f"incoming/mh/{i:03d}.txt" for i in range(ARTICLES)]
    for i, key in enumerate(keys):
        s3.put_object(Bucket=bucket, Key=key, Body=sample + f"\n\nDispatch {i}.\n".encode())
    env = base_env(services["s3_url"], services["broker"], bucket)
    workers = []
    try:
        for host in range(HOSTS):
            node = f"h{host + 1}@{net.namespaces[host]}"
            argv = net.argv(host, [
                str(BIN / "celery"), "-A", "worker.app", "worker", "--pool", "prefork", "-c", "1", "-n", node,
                "-Q", "copydesk.articles,copydesk.index,copydesk.maintenance", "--without-gossip", "--without-mingle",
            ])
            worker = Service(f"worker-h{host + 1}", argv, env, services["logs"]).start()
            worker.node = node
            workers.append(worker)
        from celery import Celery

        control = Celery("multihost-test", broker=services["broker"])
        try:
            for worker in workers:
                wait_until(lambda w=worker: control.control.ping(destination=[w.node], timeout=0.5), 90,
                           f"{worker.node} to answer a ping", [worker])
        finally:
            control.close()
        # Submitted from one of the hosts, as an operator's shell there would; four articles a
        # message (six messages: with the default 16, two, and one host would have nothing).
        submit = subprocess.run(net.argv(0, [str(BIN / "copydesk"), "submit", "--prefix", "incoming/mh/"]),
                                env={**env, "COPYDESK_DISPATCH_BATCH": "4"}, capture_output=True, text=True, timeout=120)
        assert submit.returncode == 0, submit.stderr[-2000:]

        def records():
            listed = s3.list_objects_v2(Bucket=bucket, Prefix="processed/mh/").get("KeyCount", 0)
            return listed == ARTICLES

        wait_until(records, 180, f"{ARTICLES} records", workers)
        done = {}

        def finished():
            done.clear()
            for worker in workers:
                done[worker.node] = sum(1 for e in worker.events() if e.get("event") == "article_processed")
            return sum(done.values()) == ARTICLES

        wait_until(finished, 30, "every worker's log to show its articles", workers)
    finally:
        for worker in workers:
            worker.stop()
    for key in keys:
        record_key = "processed/" + key[len("incoming/"):] + ".json"
        versions = [v for v in s3.list_object_versions(Bucket=bucket, Prefix=record_key).get("Versions", [])
                    if v["Key"] == record_key]
        assert len(versions) == 1, f"{record_key} written {len(versions)} times"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="quarantine/").get("KeyCount", 0) == 0
    assert sum(done.values()) == ARTICLES, done
    assert all(count >= 1 for count in done.values()), f"a host did nothing: {done}"


def test_cleanup_removes_the_namespaces():
    net = HostNet(1).up()
    assert net.leftovers()
    net.down()
    assert net.leftovers() == []
