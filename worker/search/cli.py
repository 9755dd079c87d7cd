"""`copydesk search | reindex | export`: click commands; settings from the COPYDESK_ environment."""

from __future__ import annotations

import json
import sys

import click

from tasks.search.snippet import ANSI_BOLD, MARKDOWN, render, render_html

from ..commands import fail, load_settings, open_checked_store, setup_logging
from ..storage import StoreError


def _open():
    settings = load_settings()
    setup_logging(settings)
    return open_checked_store(settings), settings


@click.command()
@click.argument("query", nargs=-1)
@click.option("--topic", help="Only articles with this topic (world, politics, business, sports, scitech, entertainment, health).")
@click.option("--lang", "language", help="Only articles in this language (ISO 639-1, e.g. en).")
@click.option("--since", help="Only articles published on or after this day (YYYY-MM-DD).")
@click.option("--until", help="Only articles published on or before this day (YYYY-MM-DD).")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000), help="Hits to show.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per hit (snippet with <mark> highlights).")
def search(query, topic, language, since, until, limit, as_json):
    """Search the index: BM25-ranked articles with a highlighted snippet.

    QUERY: words (all must match), "a phrase", OR, NOT or -word, (groups), prefix*,
    title:word; inline filters topic:T lang:L since:D until:D work too.

    Exit codes: 0 done (with or without hits: "no hits" goes to stderr), 1 the store failed,
    2 bad usage (malformed query or filter, unknown topic, empty query).
    """
    from .searcher import Searcher

    store, settings = _open()
    searcher = Searcher(store, settings)
    try:
        hits = searcher.search(" ".join(query), topic=topic, language=language, since=since, until=until, limit=limit)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except StoreError as exc:
        fail(f"store {settings.store}: {exc}")
    finally:
        searcher.close()
    if as_json:
        for hit in hits:
            row = hit.as_dict()
            row["snippet"] = render_html(hit.snippet)
            click.echo(json.dumps(row, ensure_ascii=False))
    else:
        marks = ANSI_BOLD if sys.stdout.isatty() else MARKDOWN
        for n, hit in enumerate(hits, 1):
            meta = " | ".join(
                part for part in (hit.published or "undated", ",".join(hit.topics) or "-", hit.language or "-", hit.source_key or "-")
            )
            click.echo(f"{n}. {hit.title or '(untitled)'}  [{hit.score:.2f}]")
            click.echo(f"   {meta}")
            click.echo(f"   {render(hit.snippet, *marks)}")
    if not hits:
        click.echo("no hits", err=True)


@click.command()
@click.option("--from-records", is_flag=True, help="Build every index document from its record (a new index document schema, a lost index).")
@click.option("--batch-docs", default=20_000, show_default=True, type=click.IntRange(1), help="Documents per new segment.")
def reindex(from_records, batch_docs):
    """Rebuild the whole index from its live documents and the pending markers (or from the
    records), then swap it in."""
    from .indexer import reindex as rebuild

    store, settings = _open()
    try:
        total = rebuild(store, settings, from_records=from_records, batch_docs=batch_docs)
    except StoreError as exc:
        fail(f"store {settings.store}: {exc}")
    click.echo(f"reindexed {total} documents")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["es-bulk"]), default="es-bulk", show_default=True, help="Output format.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout.")
@click.option("--index-name", default="copydesk", show_default=True, help="The _index of every action line.")
@click.option("--mapping", is_flag=True, help="Print a suggested index mapping (JSON) instead of the documents.")
def export(fmt, out, index_name, mapping):
    """Export the live index documents as Elasticsearch/OpenSearch _bulk NDJSON."""
    from .export import ES_MAPPING, export_es_bulk

    if mapping:
        click.echo(json.dumps(ES_MAPPING, indent=2))
        return
    store, settings = _open()
    try:
        if out:
            with open(out, "w", encoding="utf-8") as fh:
                count = export_es_bulk(store, settings, fh, index_name)
        else:
            count = export_es_bulk(store, settings, sys.stdout, index_name)
    except StoreError as exc:
        fail(f"store {settings.store}: {exc}")
    click.echo(f"exported {count} documents", err=True)
