"""Test-only: slows every article down between fetch and the stages, so that a test can act
(kill a worker, send a signal) while an article is reliably in flight.

Not part of copydesk. A test puts this folder on PYTHONPATH of the process it starts, with
COPYDESK_TEST_STAGE_DELAY=SECONDS; Python imports `sitecustomize` at start-up, and this wraps
ArticleJob._run_pipeline (inherited by Celery's forked pool children).
"""

from __future__ import annotations

import os
import time

DELAY = float(os.environ.get("COPYDESK_TEST_STAGE_DELAY") or 0)

if DELAY > 0:
    from worker.processing import ArticleJob

    _run_pipeline = ArticleJob._run_pipeline

    def _slow_run_pipeline(self, raw, source):
        time.sleep(DELAY)
        return _run_pipeline(self, raw, source)

    ArticleJob._run_pipeline = _slow_run_pipeline  # type: ignore[method-assign]
