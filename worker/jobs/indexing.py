"""Index tasks: `copydesk.index_batch`, `copydesk.index_merge`, `copydesk.index_remove`.

Thin entry points over worker/search/indexer.py. Any number of workers may run them at once:
publishing is compare-and-swap on the manifest, so nothing needs a lock.
"""

from __future__ import annotations

from ..app import INDEX_BATCH, INDEX_MERGE, INDEX_REMOVE, app
from .base import CopydeskTask

#: Documents folded into one segment by one batch run.
BATCH_DOCS = 1000
#: Index work is not bounded by the article time limits (a merge folds up to 200,000
#: documents). A run longer than Redis' visibility timeout may be handed to a second worker;
#: publishing is compare-and-swap, so the second run finds nothing left or loses the race.
INDEX_LIMITS = {"soft_time_limit": 600, "time_limit": 660}


@app.task(bind=True, base=CopydeskTask, name=INDEX_BATCH, **INDEX_LIMITS)
def index_batch(self):
    from ..search.catalog import Catalog
    from ..search.indexer import merge_candidates, index_pending

    runtime = self.runtime
    store, settings = runtime.store, runtime.settings
    # Outages are retried by Celery (CopydeskTask); markers stay until their batch is
    # published, so a failed run loses nothing.
    indexed = index_pending(store, settings, max_docs=BATCH_DOCS)
    if indexed >= BATCH_DOCS:
        app.send_task(INDEX_BATCH)  # a backlog: keep going, possibly on another worker
    if merge_candidates(Catalog(store, settings).read(), force=False):
        app.send_task(INDEX_MERGE)
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
