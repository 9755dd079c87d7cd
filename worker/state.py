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


def dispatch_state(store: Store, layout: Layout, key: str) -> OutputState:
    """The dispatcher's state read: one HEAD (of the lineage log) for an input never seen.

    Every attempt at an input writes its lineage log `logs/R.jsonl` (before the record; after a
    quarantine record), so an input with no log has no record and no quarantine record either:
    "none" without reading them. When the log exists, the record (then the quarantine record)
    says whether the input is current, as `output_state` does: a log is written before its
    record, so the log alone never makes an input current.

    What this relies on: logs are not deleted (or expired) apart from the records. Where they
    are, an input whose log is gone is taken for new and processed again (safe: its outputs are
    rewritten in place, and the job's log write, conditional on no log existing, finds any
    other attempt's log and appends to it). The one case the job cannot see is a quarantine
    record whose log write failed (the store failed between the two writes): a later good
    version of that input leaves the old quarantine record beside its new record.
    """
    if not store.exists(layout.log_key(key)):  # one HEAD (the folder store: a stat)
        return OutputState(None, None, "none")
    return output_state(store, layout, key)


def is_current(state: OutputState, etag: str | None, pipeline_version: str) -> bool:
    return state.status != "none" and state.etag == etag and state.pipeline_version == pipeline_version
