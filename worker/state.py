"""Is an input's output current? What the bucket already says about it, read one way.

Shared by the dispatcher (skip events for current inputs before enqueueing) and the article
job (skip a task whose input became current meanwhile), so neither imports the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .layout import Layout
from .storage import NotFound, Store


@dataclass(frozen=True)
class OutputState:
    """What the bucket already says about an input: the etag and pipeline of its outputs."""

    etag: str | None
    pipeline_version: str | None
    status: str  # processed | quarantined | none


def output_state(store: Store, layout: Layout, key: str) -> OutputState:
    for record_key, status in ((layout.record_key(key), "processed"), (layout.quarantine_key(key), "quarantined")):
        try:
            doc = json.loads(store.get(record_key).data)
        except NotFound:
            continue
        except ValueError:
            continue  # a damaged record is treated as missing: reprocess
        source = doc.get("source") or {}
        return OutputState(source.get("etag"), doc.get("pipeline_version"), status)
    return OutputState(None, None, "none")


def is_current(state: OutputState, etag: str | None, pipeline_version: str) -> bool:
    return state.status != "none" and state.etag == etag and state.pipeline_version == pipeline_version
