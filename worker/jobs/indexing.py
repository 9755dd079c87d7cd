"""Index tasks: `copydesk.index_batch`, `copydesk.index_merge`, `copydesk.index_remove`.

Thin entry points over worker/search/indexer.py. Any number of workers may run them at once:
publishing is compare-and-swap on the manifest, so nothing needs a lock.
"""

from __future__ import annotations

from ..app import INDEX_BATCH, INDEX_MERGE, INDEX_REMOVE, app
from .base import CopydeskTask

#: Documents folded into one segment by one batch run.
BATCH_DOCS = 1000


@app.task(bind=True, base=CopydeskTask, name=INDEX_BATCH)
def index_batch(self):
    from ..search.catalog import Catalog
    from ..search.indexer import merge_candidates, index_pending

    runtime = self.runtime
    store, settings = runtime.store, runtime.settings
    try:
        indexed = index_pending(store, settings, max_docs=BATCH_DOCS)
        if indexed >= BATCH_DOCS:
            app.send_task(INDEX_BATCH)  # a backlog: keep going, possibly on another worker
        if merge_candidates(Catalog(store, settings).read(), force=False):
            app.send_task(INDEX_MERGE)
    except Exception as exc:
        # Markers stay until their batch is published: a failed run loses nothing.
        failure = {"error": type(exc).__name__}
        return self.retry_transient(exc, lambda: failure)
    return {"indexed": indexed}


@app.task(bind=True, base=CopydeskTask, name=INDEX_MERGE)
def index_merge(self, force: bool = False):
    from ..search.indexer import merge_segments

    runtime = self.runtime
    try:
        merged = merge_segments(runtime.store, runtime.settings, force=force)
    except Exception as exc:
        failure = {"error": type(exc).__name__}
        return self.retry_transient(exc, lambda: failure)
    return {"merged": merged}


@app.task(bind=True, base=CopydeskTask, name=INDEX_REMOVE)
def index_remove(self, bucket: str, key: str):
    from ..search.indexer import remove_document

    runtime = self.runtime
    try:
        remove_document(runtime.store_for(bucket), runtime.settings, key)
    except Exception as exc:
        failure = {"error": type(exc).__name__}
        return self.retry_transient(exc, lambda: failure)
    return {"removed": key}
