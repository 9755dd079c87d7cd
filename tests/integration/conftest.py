"""Real parts for the integration tests: moto's S3+SQS server (session fixture in tests/conftest.py),
a real Redis (database 15 by default), and copydesk's own processes started as subprocesses —
`celery -A worker.app worker` (prefork), `copydesk listen`, `copydesk sweep/submit/run`.

Each test module builds one `Stack` (bucket, queue, workers) and shares it between its tests;
tests keep apart by using their own keys. Redis is flushed when a stack starts and when it
stops, never while its workers run (that would drop kombu's queue bindings under them).

Every subprocess writes its output to a file; when a test fails, the tail of each running
process' output is attached to the failure report. Waiting is polling with a deadline.
"""

from __future__ import annotations

import pytest

from integration_support import RUNNING, SAMPLE, Stack, redis_client_or_fail, tails


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and RUNNING:
        report.sections.append(("copydesk processes (tails)", tails()))


@pytest.fixture(scope="module")
def redis_db():
    """The test Redis database, flushed before and after the module (not per test: see above)."""
    client = redis_client_or_fail()
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def make_stack(moto_server, redis_db, tmp_path_factory):
    """Stack factory for one module; stops every process it started at the end."""
    stacks: list[Stack] = []

    def make(name: str, **options) -> Stack:
        stack = Stack(name, moto_server, redis_db, tmp_path_factory.mktemp(f"{name}-logs"), **options)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


@pytest.fixture(scope="session")
def sample() -> bytes:
    assert SAMPLE.is_file(), f"the shared sample is missing at {SAMPLE} (COPYDESK_SHARED_DIR overrides)"
    return SAMPLE.read_bytes()


