"""worker/metrics.py outside a worker: single-process metrics even when the environment names a
multiprocess folder (k8s sets PROMETHEUS_MULTIPROC_DIR for every role from one ConfigMap; only
a worker's main process switches to multiprocess mode, before its pool forks)."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = """
import worker.app  # connects the hooks as every copydesk process does
from worker import metrics
metrics.listener_event("http", "enqueued")
metrics.listener_event("http", "already_queued")
body, content_type = metrics.render()
print(body.decode())
"""


def test_a_listener_counts_in_process_whatever_the_environment_says(tmp_path, redis_url):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "COPYDESK_BROKER_URL": redis_url}
    result = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert 'copydesk_listener_events_total{result="enqueued",source="http"} 1.0' in lines
    assert 'copydesk_listener_events_total{result="duplicate",source="http"} 1.0' in lines
    assert 'copydesk_listener_events_received_total{source="http"} 2.0' in lines
    assert 'copydesk_queue_messages{queue="copydesk.articles"} 0.0' in lines
    assert list(tmp_path.iterdir()) == [], "a listener wrote multiprocess files"
