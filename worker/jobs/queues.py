"""The Celery side of the dispatcher's TaskQueue."""

from __future__ import annotations

from ..app import ARTICLES_QUEUE, INDEX_QUEUE, INDEX_REMOVE, PROCESS_ARTICLE, PROCESS_ARTICLES
from ..dispatch import Queued
from ..events.model import ObjectEvent


def article_item(event: ObjectEvent, force: bool = False, prior: str | None = None) -> dict:
    """One article of a `copydesk.process_articles` message: ids and the state read, as JSON."""
    return {"key": event.key, "etag": event.etag, "version_id": event.version_id, "force": force, "prior": prior}


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

    def enqueue_many(self, items: list[Queued]) -> None:
        """Several articles in one `copydesk.process_articles` message per bucket (one alone
        goes as `copydesk.process_article`, the message every worker version understands)."""
        buckets: dict[str, list[Queued]] = {}
        for item in items:
            buckets.setdefault(item.event.bucket, []).append(item)
        for bucket, group in buckets.items():
            if len(group) == 1:
                self.enqueue(group[0].event, force=group[0].force, prior=group[0].prior)
                continue
            self.app.send_task(
                PROCESS_ARTICLES,
                kwargs={"bucket": bucket, "items": [article_item(i.event, i.force, i.prior) for i in group]},
                queue=ARTICLES_QUEUE,
            )

    def enqueue_removal(self, event: ObjectEvent) -> None:
        self.app.send_task(INDEX_REMOVE, kwargs={"bucket": event.bucket, "key": event.key}, queue=INDEX_QUEUE)
