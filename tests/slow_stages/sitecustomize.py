"""Test-only: slows every article down between fetch and the stages, so that a test can act
(kill a worker, send a signal) while an article is reliably in flight.

Not part of copydesk. A test puts this folder on PYTHONPATH of the process it starts, with
COPYDESK_TEST_STAGE_DELAY=SECONDS; Python imports `sitecustomize` at start-up, and this wraps
the job's call of tasks.pipeline.process_document (inherited by Celery's forked pool children).
"""

from __future__ import annotations

import os
import time

DELAY = float(os.environ.get("COPYDESK_TEST_STAGE_DELAY") or 0)
#: Optional: a folder where each slowed article leaves a file as its pause begins, so a test
#: knows an article is in flight (rather than guessing from elapsed time or thread names).
STARTED_DIR = os.environ.get("COPYDESK_TEST_STAGE_STARTED_DIR")

if DELAY > 0:
    from worker import processing

    _process_document = processing.process_document

    def _slow_process_document(*args, **kwargs):
        if STARTED_DIR:
            import tempfile

            tempfile.NamedTemporaryFile(dir=STARTED_DIR, prefix="in-flight-", delete=False).close()
        time.sleep(DELAY)
        return _process_document(*args, **kwargs)

    processing.process_document = _slow_process_document
