"""A misconfigured worker refuses to start with one clear line (issue 11.5): it used to log
`ready` and acknowledge every task without a record. Both entry points: `copydesk worker` and a
bare `celery -A worker.app worker`."""

from __future__ import annotations

import subprocess

import pytest

from integration_support import BIN, REDIS_TEST_URL, ROOT, base_env

pytestmark = pytest.mark.integration


def run(argv, env, timeout=120):
    return subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("entry", ["copydesk", "celery"])
def test_worker_with_a_model_dir_pointing_nowhere_refuses_to_start(moto_server, s3_bucket, redis_db, entry, tmp_path):
    env = base_env(moto_server, REDIS_TEST_URL, s3_bucket, COPYDESK_MODEL_DIR=str(tmp_path / "nowhere"))
    if entry == "copydesk":
        argv = [str(BIN / "copydesk"), "worker", "--", "--pool", "solo"]
    else:
        argv = [str(BIN / "celery"), "-A", "worker.app", "worker", "--pool", "solo", "--without-gossip", "--without-mingle"]
    result = run(argv, env)
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.startswith("copydesk:")]
    assert len(lines) == 1 and "model" in lines[0] and "nowhere" in lines[0], result.stderr[-2000:]
    assert '"event": "worker_ready"' not in result.stdout and "ready." not in result.stdout


def test_worker_with_a_missing_bucket_refuses_to_start(moto_server, redis_db):
    env = base_env(moto_server, REDIS_TEST_URL, "no-such-bucket-for-copydesk")
    result = run([str(BIN / "celery"), "-A", "worker.app", "worker", "--pool", "solo", "--without-gossip", "--without-mingle"], env)
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.startswith("copydesk:")]
    assert len(lines) == 1 and "no-such-bucket-for-copydesk" in lines[0], result.stderr[-2000:]


def test_the_store_probe_stays_inside_the_configured_prefixes(moto_server, s3_bucket):
    import boto3

    from worker.checks import check_store
    from worker.settings import Settings
    from worker.storage import open_store

    settings = Settings.from_env({}, store=f"s3://{s3_bucket}")
    s3 = boto3.client("s3", endpoint_url=moto_server)
    s3.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    check_store(open_store(settings.store), settings)
    keys = [v["Key"] for v in s3.list_object_versions(Bucket=s3_bucket).get("Versions", [])]
    prefixes = (settings.processed_prefix, settings.logs_prefix, settings.quarantine_prefix, settings.index_prefix)
    assert keys and all(key.startswith(prefixes) for key in keys), keys
