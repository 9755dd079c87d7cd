"""Benchmark of the clean stage against trafilatura and readability-lxml, on every extraction set.

Run:  uv run --group bench python bench/clean.py [--limit N] [--sets a,b] [--save FILE] [--rules]
          [--only NAMES] [--baseline GIT_REF]

Sets: ../shared/data/article-extraction-benchmark (scrapinghub) and the five of
../shared/data/web-extraction (cleaneval, cleanportaleval, dragnet, google-trends-2017,
readability), all scored with the scrapinghub README's metric (bench/_extraction_data.py).
Extractors, in one run, each page by each extractor in turn (rotating order, so the machine's
noise hits all alike): copydesk; trafilatura with the options copydesk gives it
(`trafilatura-copydesk-opts`) and with its defaults (`trafilatura`); readability-lxml.

Prints per set: F1 (P, R) of each extractor, boilerplate lines kept (lines of a known
boilerplate kind that the truth lacks, from the independent checker bench/_boilerplate_kinds.py,
plus, on dragnet, which marks its comments, lines of the marked comments kept). Then the macro
average over sets, and the timing over all pages: pages/s (pages / summed CPU time), p50, p99
and max CPU time per page, and the slowest page. Times are CPU seconds (time.process_time) of
each call: the machine is shared, CPU time is what a worker slot pays.

--rules: the leave-one-rule-out table of the hand rules of tasks/cleaning/boilerplate.py over
trafilatura's blocks, per set (what each rule would gain or cost on each set; since issue 10
copydesk's HTML path runs none of them, bench/experiments/rule_payoff.py says why). --save FILE writes every output, for later analysis.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _boilerplate_kinds import surviving_boilerplate  # noqa: E402
from _extraction_data import SETS, Page, load_set, score, tokens  # noqa: E402

from tasks.article import BadInput  # noqa: E402
from tasks.cleaning import clean_document  # noqa: E402

Extractor = Callable[[str], str]
#: Elements that start a line of readability-lxml's text.
READABILITY_BLOCK_TAGS = (
    "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "td", "th", "tr", "table", "h1", "h2", "h3", "h4", "h5",
    "h6", "br", "pre", "blockquote", "section", "article",
)


def copydesk(html: str) -> str:
    try:
        return clean_document(html, "html").text
    except BadInput:
        return ""


def baseline_package(ref: str) -> dict:
    """copydesk's cleaning package and tasks/article.py as they were at git `ref` (_baseline.py):
    {"cleaning": module, "article": module}."""
    from _baseline import modules_at

    cleaning, article = modules_at(ref, ["tasks/article.py", "tasks/cleaning"], ["cleaning", "article"])
    return {"cleaning": cleaning, "article": article}


def baseline_extractor(ref: str) -> Extractor:
    """copydesk's HTML cleaner as it was at git `ref` (baseline_package), to compare in the same run."""
    package = baseline_package(ref)
    cleaning, bad_input = package["cleaning"], package["article"].BadInput

    def run(html: str) -> str:
        try:
            return str(cleaning.clean_document(html, "html").text)
        except bad_input:
            return ""

    return run


def extractors(baseline: str = "") -> dict[str, Extractor]:
    import trafilatura

    from tasks.cleaning.html import EXTRACT_OPTIONS

    copydesk_opts = {k: v for k, v in EXTRACT_OPTIONS.items() if k != "with_metadata"}
    found: dict[str, Extractor] = {"copydesk": copydesk}
    if baseline:
        found[f"copydesk@{baseline}"] = baseline_extractor(baseline)
    found |= {
        "trafilatura-copydesk-opts": lambda html: trafilatura.extract(html, **copydesk_opts) or "",
        "trafilatura": lambda html: trafilatura.extract(html) or "",
    }
    try:
        from lxml import etree, html as lxml_html
        from readability import Document

        def readability_lxml(html: str) -> str:
            """readability's summary as text, each character once, a line per block. (Until
            issue 10's third pass this took the text of //p, //li, //td... separately, so a <p>
            inside a <td> or <li> counted twice and text outside those tags not at all: macro
            0.8865 instead of 0.9200, cleaneval 0.7649 instead of 0.8964.)"""
            root = lxml_html.fromstring(Document(html).summary(html_partial=True))
            pieces: list[str] = []
            for event, element in etree.iterwalk(root, events=("start", "end")):
                tag = element.tag if isinstance(element.tag, str) else None  # None: a comment
                if tag in READABILITY_BLOCK_TAGS:
                    pieces.append("\n")
                if event == "start" and tag is not None:
                    pieces.append(element.text or "")
                elif event == "end" and element is not root:
                    pieces.append(element.tail or "")
            lines = (" ".join(line.split()) for line in "".join(pieces).splitlines())
            return "\n".join(line for line in lines if line)

        found["readability-lxml"] = readability_lxml
    except ImportError:
        print("readability-lxml not installed: run with `uv run --group bench`", file=sys.stderr)
    return found


def safe(func: Extractor, html: str) -> str:
    try:
        return func(html)
    except Exception as exc:  # a library's crash is an empty extraction, not the end of the bench
        print(f"   {type(exc).__name__}: {exc}"[:200], file=sys.stderr)
        return ""


def run_all(pages: list[tuple[str, Page]], funcs: dict[str, Extractor]) -> tuple[dict, dict]:
    """Outputs and CPU seconds per extractor per page, pages in order, extractors rotating."""
    names = list(funcs)
    outputs: dict[str, list[str]] = {n: [""] * len(pages) for n in names}
    seconds: dict[str, list[float]] = {n: [0.0] * len(pages) for n in names}
    base = next((n for n in names if n.startswith("copydesk@")), None)
    for i, (_, page) in enumerate(pages):
        order = names[i % len(names) :] + names[: i % len(names)]
        # copydesk and copydesk@REF sit next to each other in the rotation: the second of the two
        # to read a page finds it warm in the caches. Swapped on every other page, each is second
        # on half of them (before, copydesk@REF was second on four pages in five).
        if base is not None and "copydesk" in order and i % 2:
            a, b = order.index("copydesk"), order.index(base)
            order[a], order[b] = order[b], order[a]
        for name in order:
            started = time.process_time()
            outputs[name][i] = safe(funcs[name], page.html)
            seconds[name][i] = time.process_time() - started
    return outputs, seconds


def boilerplate_kept(predicted: str, page: Page) -> int:
    kept = len(surviving_boilerplate(predicted, page.body))
    if page.marked_boilerplate:
        truth_words = " " + " ".join(tokens(page.body)) + " "
        comment_lines = {
            " ".join(tokens(line)) for line in page.marked_boilerplate.splitlines() if len(tokens(line)) >= 4
        }
        for line in predicted.splitlines():
            words = " ".join(tokens(line))
            if words in comment_lines and f" {words} " not in truth_words:
                kept += 1
    return kept


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def print_quality(pages: list[tuple[str, Page]], outputs: dict[str, list[str]], names: list[str]) -> dict:
    sets = [s for s in SETS if any(name == s for name, _ in pages)]
    width = max(len(n) for n in names)
    print("\n## F1 (P, R) per set, the scrapinghub README's metric; [n] boilerplate lines kept")
    header = f"{'set':<20} {'pages':>5}  " + "  ".join(f"{n:>{max(width, 26)}}" for n in names)
    print(header)
    f1s: dict[str, dict[str, float]] = {n: {} for n in names}
    for set_name in sets:
        idx = [i for i, (s, _) in enumerate(pages) if s == set_name]
        cells = []
        for name in names:
            preds = [outputs[name][i] for i in idx]
            s = score(preds, [pages[i][1].body for i in idx])
            kept = sum(boilerplate_kept(outputs[name][i], pages[i][1]) for i in idx)
            f1s[name][set_name] = s.f1
            cells.append(f"{s.f1:.4f} ({s.precision:.3f}, {s.recall:.3f}) [{kept}]")
        print(f"{set_name:<20} {len(idx):>5}  " + "  ".join(f"{c:>{max(width, 26)}}" for c in cells))
    macro = {name: statistics.mean(f1s[name].values()) for name in names}
    print(f"{'macro average':<20} {'':>5}  " + "  ".join(f"{macro[n]:>{max(width, 26)}.4f}" for n in names))
    others = [n for n in names if not n.startswith("copydesk")]  # the libraries, not copydesk@REF
    if "copydesk" in names and others:
        wins = [s for s in sets if f1s["copydesk"][s] >= max(f1s[o][s] for o in others)]
        best = max(others, key=lambda o: macro[o])
        print(
            f"copydesk >= best other on {len(wins)}/{len(sets)} sets ({', '.join(wins) or 'none'}); "
            f"macro {macro['copydesk']:.4f} vs best other {best} {macro[best]:.4f} "
            f"({macro['copydesk'] - macro[best]:+.4f})"
        )
    return f1s


def print_timing(pages: list[tuple[str, Page]], seconds: dict[str, list[float]], names: list[str]) -> None:
    print(f"\n## CPU time per page over all {len(pages)} pages")
    print(f"{'extractor':<26} {'pages/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  slowest page")
    for name in names:
        values = seconds[name]
        slowest = max(range(len(values)), key=values.__getitem__)
        print(
            f"{name:<26} {len(values) / sum(values):8.1f} {percentile(values, 0.5) * 1000:8.1f} "
            f"{percentile(values, 0.99) * 1000:8.1f} {values[slowest] * 1000:8.1f}  "
            f"{pages[slowest][0]}/{pages[slowest][1].id}"
        )
    if "trafilatura" in names:
        for name in (n for n in names if n.startswith("copydesk")):
            ratio = sum(seconds["trafilatura"]) / sum(seconds[name])
            print(f"speed ratio {name} / trafilatura (defaults): {ratio:.2f}x")


def print_rule_ablation(pages: list[tuple[str, Page]]) -> None:
    """F1 change per set when one hand rule is switched off (its blocks kept), all others on."""
    from _rule_ablation import REASONS, explained

    sets = [s for s in SETS if any(name == s for name, _ in pages)]
    per_page = [explained(page.html) for _, page in pages]
    print("\n## Leave-one-rule-out: F1 of copydesk with the rule off, minus F1 with it on (negative: the rule helps)")
    print(f"{'rule':<18} " + " ".join(f"{s[:14]:>14}" for s in sets) + "   helps on")
    for reason in ("all rules", *REASONS):
        cells, helps = [], []
        for set_name in sets:
            idx = [i for i, (s, _) in enumerate(pages) if s == set_name]
            truths = [pages[i][1].body for i in idx]
            with_rule = score(["\n".join(t for t, r in per_page[i] if not r) for i in idx], truths).f1
            without = score(
                ["\n".join(t for t, r in per_page[i] if not r or r == reason or reason == "all rules") for i in idx],
                truths,
            ).f1
            cells.append(f"{without - with_rule:+14.4f}")
            if without < with_rule - 0.0005:
                helps.append(set_name)
        print(f"{reason:<18} " + " ".join(cells) + f"   {len(helps)}: {', '.join(helps)}")


def print_text_bench() -> None:
    """The plain-text cleaner: scrapinghub's bodies set among their pages' own boilerplate."""
    from _text_bench import build_text_cases, keyword_filter_v0

    cases = build_text_cases(load_set("scrapinghub"))

    def clean_text(text: str) -> str:
        try:
            return clean_document(text, "text").text
        except BadInput:
            return ""

    print(f"\n## Plain-text benchmark ({len(cases)} scrapinghub bodies inside their pages' boilerplate)")
    for name, func in (("copydesk-text", clean_text), ("keyword-filter-v0", keyword_filter_v0), ("no-filter", str)):
        preds = [func(case.text) for case in cases]
        s = score(preds, [c.truth for c in cases])
        kept = sum(len(surviving_boilerplate(p, c.truth)) for p, c in zip(preds, cases, strict=True))
        print(f"{name:<20} F1 {s.f1:.4f} (P {s.precision:.4f}, R {s.recall:.4f}), {kept} boilerplate lines kept")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages of each set")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    parser.add_argument("--only", default="", help="comma-separated extractor names (default: all)")
    parser.add_argument("--save", default="", help="write every output and time to this JSON file")
    parser.add_argument("--rules", action="store_true", help="print the leave-one-rule-out table")
    parser.add_argument("--text", action="store_true", help="also the plain-text benchmark")
    parser.add_argument("--baseline", default="", help="a git ref: also copydesk's cleaner as it was there")
    args = parser.parse_args()

    pages: list[tuple[str, Page]] = []
    for set_name in args.sets.split(","):
        loaded = load_set(set_name)
        pages.extend((set_name, p) for p in (loaded[: args.limit] if args.limit else loaded))
    funcs = extractors(args.baseline)
    if args.only:
        funcs = {n: f for n, f in funcs.items() if n in args.only.split(",") or n.startswith("copydesk@")}
    for func in funcs.values():  # warm-up: imports and caches outside the timed loop
        safe(func, pages[0][1].html)
    outputs, seconds = run_all(pages, funcs)
    names = list(funcs)
    print_quality(pages, outputs, names)
    print_timing(pages, seconds, names)
    if args.rules:
        print_rule_ablation(pages)
    if args.text:
        print_text_bench()
    if args.save:
        Path(args.save).write_text(
            json.dumps(
                {
                    "pages": [[s, p.id] for s, p in pages],
                    "outputs": outputs,
                    "seconds": seconds,
                }
            ),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
