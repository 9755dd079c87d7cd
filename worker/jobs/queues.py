"""The Celery side of the dispatcher's TaskQueue."""

from __future__ import annotations

from ..app import ARTICLES_QUEUE, INDEX_QUEUE, INDEX_REMOVE, PROCESS_ARTICLE
from ..events.model import ObjectEvent


class CeleryQueue:
    def __init__(self, celery_app) -> None:
        self.app = celery_app

    def enqueue(self, event: ObjectEvent, *, force: bool = False, prior: str | None = None) -> None:
        self.app.send_task(
            PROCESS_ARTICLE,
            kwargs={
                "bucket": event.bucket,
                "key": event.key,
                "etag": event.etag,
                "version_id": event.version_id,
                "force": force,
                "prior": prior,
            },
            queue=ARTICLES_QUEUE,
        )

    def enqueue_removal(self, event: ObjectEvent) -> None:
        self.app.send_task(INDEX_REMOVE, kwargs={"bucket": event.bucket, "key": event.key}, queue=INDEX_QUEUE)
