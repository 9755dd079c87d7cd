"""Benchmark of the clean stage against trafilatura and readability-lxml, side by side.

Run:  uv run --group bench python bench/clean.py [--rounds N] [--limit N]

Prints, for the HTML article-extraction benchmark (../shared/data/article-extraction-benchmark,
its README's metric): extractor, precision, recall, F1, pages/s, boilerplate lines kept; the same
on two halves of the pages and on the non-English pages; the plain-text benchmark built from
it; and title/URL accuracy. Every extractor runs on every page in turn (rotating order), so
the machine's noise hits all of them alike; pages/s is pages / summed time, median over rounds.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import statistics
import sys
import time
from pathlib import Path
from collections.abc import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _boilerplate_kinds import surviving_boilerplate  # noqa: E402
from _extraction_data import Page, load_pages, score, tokens  # noqa: E402
from _text_bench import build_text_cases, keyword_filter_v0  # noqa: E402

from tasks.article import BadInput  # noqa: E402
from tasks.cleaning import clean_document  # noqa: E402
from tasks.cleaning.markup import parse_html  # noqa: E402
from tasks.cleaning.metadata import metadata_from_html  # noqa: E402

Extractor = Callable[[str], str]


def copydesk(html: str) -> str:
    try:
        return clean_document(html, "html").text
    except BadInput:
        return ""


def extractors() -> dict[str, Extractor]:
    import trafilatura

    found: dict[str, Extractor] = {
        "copydesk": copydesk,
        "trafilatura": lambda html: trafilatura.extract(html, include_comments=False) or "",
        "trafilatura-fast": lambda html: trafilatura.extract(html, include_comments=False, fast=True) or "",
    }
    try:
        from readability import Document
        from lxml import html as lxml_html

        def readability_lxml(html: str) -> str:
            summary = Document(html).summary(html_partial=True)
            root = lxml_html.fromstring(summary)
            blocks = root.xpath("//p | //li | //h2 | //h3 | //h4 | //pre | //blockquote[not(.//p)] | //td")
            texts = [" ".join(b.text_content().split()) for b in blocks] or [root.text_content()]
            return "\n".join(t for t in texts if t)

        found["readability-lxml"] = readability_lxml
    except ImportError:
        print("readability-lxml not installed: run with `uv run --group bench`", file=sys.stderr)
    return found


def run_all(pages: list[Page], funcs: dict[str, Extractor], rounds: int) -> tuple[dict, dict]:
    names = list(funcs)
    outputs: dict[str, list[str]] = {n: [""] * len(pages) for n in names}
    speeds: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(rounds):
        elapsed = dict.fromkeys(names, 0.0)
        for i, page in enumerate(pages):
            order = names[i % len(names) :] + names[: i % len(names)]
            for name in order:
                started = time.perf_counter()
                outputs[name][i] = funcs[name](page.html)
                elapsed[name] += time.perf_counter() - started
        for name in names:
            speeds[name].append(len(pages) / elapsed[name])
    return outputs, {n: statistics.median(v) for n, v in speeds.items()}


def boilerplate_count(predictions: list[str], pages: list[Page]) -> tuple[int, list[tuple[str, str]]]:
    found = []
    for predicted, page in zip(predictions, pages, strict=True):
        found.extend(surviving_boilerplate(predicted, page.body))
    return len(found), found


def table(title: str, rows: list[tuple]) -> None:
    print(f"\n## {title}")
    print(f"{'extractor':<20} {'precision':>9} {'recall':>7} {'F1':>7} {'pages/s':>8} {'boilerplate':>11}")
    for name, s, speed, kept in rows:
        speed_text = f"{speed:8.1f}" if speed is not None else f"{'-':>8}"
        print(f"{name:<20} {s.precision:9.4f} {s.recall:7.4f} {s.f1:7.4f} {speed_text} {kept:>11}")


def half_of(page_id: str) -> int:
    return hashlib.sha1(page_id.encode()).digest()[0] % 2


NON_LATIN_OR_ACCENTED_RE = re.compile(r"[^\x00-\x7f]")


def is_non_english(page: Page) -> bool:
    import py3langid

    return py3langid.classify(page.body[:3000])[0] != "en"


def metadata_accuracy(pages: list[Page]) -> None:
    """URL against ground-truth url; title against the page's single <h1> where it has one."""
    url_ok = url_given = title_ok = title_checked = 0
    url_misses = []
    for page in pages:
        tree = parse_html(page.html)
        meta, hints = metadata_from_html(tree)
        if meta.url:
            url_given += 1
            if normalise_url(meta.url) == normalise_url(page.url):
                url_ok += 1
            else:
                url_misses.append((meta.url, page.url))
        if hints["h1"]:
            title_checked += 1
            title_ok += tokens(meta.title or "") == tokens(hints["h1"])
    n = len(pages)
    print("\n## Metadata")
    print(f"url: {url_ok}/{n} pages equal the ground-truth url ({url_ok / n:.1%}); "
          f"{url_given} pages give a url, {url_ok / max(url_given, 1):.1%} of those are right")
    for got, want in url_misses[:5]:
        print(f"   url differs: {got}  (truth {want})")
    print(f"title: {title_ok}/{title_checked} equal the page's single <h1> ({title_ok / max(title_checked, 1):.1%})")


def normalise_url(url: str | None) -> str:
    url = (url or "").strip().lower()
    url = re.sub(r"^https?://(www\.)?", "", url)
    return url.rstrip("/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="timing rounds (median pages/s)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages")
    parser.add_argument("--show-boilerplate", action="store_true", help="print the surviving lines")
    args = parser.parse_args()

    pages = load_pages()
    if args.limit:
        pages = pages[: args.limit]
    funcs = extractors()
    for func in funcs.values():  # warm-up: imports and caches outside the timed loop
        func(pages[0].html)
    outputs, speeds = run_all(pages, funcs, args.rounds)
    truths = [p.body for p in pages]

    rows = []
    for name in funcs:
        kept, found = boilerplate_count(outputs[name], pages)
        rows.append((name, score(outputs[name], truths), speeds[name], kept))
        if args.show_boilerplate and found:
            print(f"[{name}] surviving boilerplate:")
            for kind, line in found:
                print(f"   {kind:<12} {line[:120]}")
    table(f"HTML article-extraction benchmark ({len(pages)} pages)", rows)
    base = speeds.get("trafilatura")
    if base:
        print(f"speed ratio copydesk / trafilatura: {speeds['copydesk'] / base:.2f}x")

    for half in (0, 1):
        idx = [i for i, p in enumerate(pages) if half_of(p.id) == half]
        rows = [
            (name, score([outputs[name][i] for i in idx], [truths[i] for i in idx]), None,
             boilerplate_count([outputs[name][i] for i in idx], [pages[i] for i in idx])[0])
            for name in funcs
        ]
        table(f"half {half} of the pages (split by id hash, {len(idx)} pages)", rows)

    idx = [i for i, p in enumerate(pages) if is_non_english(p)]
    rows = [
        (name, score([outputs[name][i] for i in idx], [truths[i] for i in idx]), None,
         boilerplate_count([outputs[name][i] for i in idx], [pages[i] for i in idx])[0])
        for name in funcs
    ]
    table(f"non-English pages ({len(idx)} pages)", rows)

    cases = build_text_cases(pages)
    text_funcs: dict[str, Callable[[str], str]] = {
        "copydesk-text": lambda text: _clean_text(text),
        "keyword-filter-v0": keyword_filter_v0,
        "no-filter": lambda text: text,
    }
    rows = []
    for name, func in text_funcs.items():
        started = time.perf_counter()
        preds = [func(case.text) for case in cases]
        speed = len(cases) / (time.perf_counter() - started)
        kept = sum(len(surviving_boilerplate(p, c.truth)) for p, c in zip(preds, cases, strict=True))
        rows.append((name, score(preds, [c.truth for c in cases]), speed, kept))
    table(f"plain-text benchmark (ground-truth bodies inside the pages' own boilerplate, {len(cases)} cases)", rows)

    metadata_accuracy(pages)


def _clean_text(text: str) -> str:
    try:
        return clean_document(text, "text").text
    except BadInput:
        return ""


if __name__ == "__main__":
    main()
