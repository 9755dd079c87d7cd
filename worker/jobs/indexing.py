"""Index tasks: `copydesk.index_batch`, `copydesk.index_merge`, `copydesk.index_remove`.

Thin entry points over worker/search/indexer.py, routed to the queue `copydesk.index` so they
run on their own worker (`copydesk worker --queues copydesk.index`), never in the article
pool. Any number of workers may run them at once: publishing is compare-and-swap on the
manifest, and a batch run holds a Redis lease for its bucket's index so that it needs no
claim objects in the store (a run that finds the lease taken leaves the work to its holder).
"""

from __future__ import annotations

import contextlib

from redis.exceptions import LockError

from ..app import INDEX_BATCH, INDEX_MERGE, INDEX_QUEUE, INDEX_REMOVE, app
from .base import CopydeskTask

#: Documents folded into one segment by one batch run.
BATCH_DOCS = 1000
#: Index work is not bounded by the article time limits (a merge folds up to 200,000
#: documents). A run longer than Redis' visibility timeout may be handed to a second worker;
#: publishing is compare-and-swap, so the second run finds nothing left or loses the race.
INDEX_LIMITS = {"soft_time_limit": 600, "time_limit": 660}


@app.task(bind=True, base=CopydeskTask, name=INDEX_BATCH, **INDEX_LIMITS)
def index_batch(self, generation: int | None = None):
    from ..search.catalog import Catalog
    from ..search.indexer import (
        BATCH_AGE,
        LEASE_SECONDS,
        BatchRequests,
        RedisDocumentCache,
        index_pending,
        merge_candidates,
    )

    runtime = self.runtime
    store, settings = runtime.store, runtime.settings
    requests = BatchRequests(runtime.redis, store.url)
    if generation is not None and requests.superseded(generation):
        return {"indexed": 0, "superseded": True}  # a run since took what this one was asked for
    lease = runtime.redis.lock(f"copydesk:index:lease:{store.url}", timeout=LEASE_SECONDS, blocking=False)
    if not lease.acquire():
        requests.missed()  # the holder asks again when it is done
        return {"indexed": 0, "busy": True}
    try:
        requests.run_started()  # documents written from now on ask for another run
        catalog = Catalog(store, settings)
        indexed = index_pending(
            store, settings, max_docs=BATCH_DOCS, catalog=catalog, exclusive=True,
            cache=RedisDocumentCache(runtime.redis, store.url),
        )
        if indexed >= BATCH_DOCS:
            app.send_task(INDEX_BATCH, queue=INDEX_QUEUE)  # a backlog: keep going
        elif requests.take_missed():
            # A request found the lease taken while this run held it: ask again, by age.
            app.send_task(INDEX_BATCH, countdown=BATCH_AGE, queue=INDEX_QUEUE)
        # The manifest this run published (no second GET); read only when nothing was indexed.
        if merge_candidates(catalog.last_published or catalog.read(), force=False):
            app.send_task(INDEX_MERGE, queue=INDEX_QUEUE)
        # Outages are retried by Celery (CopydeskTask); markers stay until their batch is
        # published, so a failed run loses nothing.
    finally:
        with contextlib.suppress(LockError):  # the lease ran out under a slow run
            lease.release()
    return {"indexed": indexed}


@app.task(bind=True, base=CopydeskTask, name=INDEX_MERGE, **INDEX_LIMITS)
def index_merge(self, force: bool = False):
    from ..search.indexer import merge_segments

    runtime = self.runtime
    merged = merge_segments(runtime.store, runtime.settings, force=force)
    return {"merged": merged}


@app.task(bind=True, base=CopydeskTask, name=INDEX_REMOVE, **INDEX_LIMITS)
def index_remove(self, bucket: str, key: str):
    from ..search.indexer import remove_document

    runtime = self.runtime
    remove_document(runtime.store_for(bucket), runtime.settings, key)
    return {"removed": key}
