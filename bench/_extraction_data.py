"""The shared article-extraction benchmark: loading pages and scoring bodies with its metric.

Data is read from ../shared/data (or $COPYDESK_SHARED_DIR/data) and never copied into the repo.
The metric is exactly the one in the data's README (upstream evaluate.py): `\\w+` tokens,
4-token shingles compared as multisets, per-page tp/fp/fn normalised to sum 1, precision and
recall averaged over pages, F1 the harmonic mean of the two averages.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TOKEN_RE = re.compile(r"\w+", re.UNICODE)
SHINGLE_SIZE = 4


def shared_dir() -> Path:
    override = os.environ.get("COPYDESK_SHARED_DIR")
    return Path(override) if override else PROJECT_ROOT / ".." / "shared"


def benchmark_dir() -> Path:
    return shared_dir() / "data" / "article-extraction-benchmark"


@dataclass(frozen=True)
class Page:
    id: str
    html: str
    body: str
    url: str | None
    #: Text the set marks as not the article (dragnet's user comments), when it marks any.
    marked_boilerplate: str = ""


#: Every set, in report order: scrapinghub's benchmark and the five of web-extraction/.
SETS = ("scrapinghub", "cleaneval", "cleanportaleval", "dragnet", "google-trends-2017", "readability")
#: Sets whose licence allows shipping what is derived from them (web-extraction/README.md).
SHIPPABLE_SETS = ("scrapinghub", "readability")


def web_extraction_dir() -> Path:
    return shared_dir() / "data" / "web-extraction"


def set_ids(name: str) -> list[str]:
    """The ids of a set's pages, sorted."""
    if name == "scrapinghub":
        return sorted(json.loads((benchmark_dir() / "ground-truth.json").read_text(encoding="utf-8")))
    return sorted(path.name[: -len(".html")] for path in (web_extraction_dir() / name / "pages").glob("*.html"))


def load_set(name: str, ids: list[str] | None = None) -> list[Page]:
    """A set's pages with their truth (one block per line), optionally only the given ids."""
    if name == "scrapinghub":
        return load_pages(ids)
    root = web_extraction_dir() / name
    urls: dict[str, str] = {}
    urls_file = root / "urls.tsv"
    if urls_file.exists():
        for line in urls_file.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2:
                urls[parts[0]] = parts[1]
    pages = []
    for page_id in set_ids(name) if ids is None else ids:
        html = (root / "pages" / f"{page_id}.html").read_text(encoding="utf-8", errors="replace")
        body = (root / "truth" / f"{page_id}.txt").read_text(encoding="utf-8", errors="replace")
        comments = root / "comments" / f"{page_id}.txt"
        marked = comments.read_text(encoding="utf-8", errors="replace") if comments.exists() else ""
        pages.append(Page(page_id, html, body, urls.get(page_id), marked))
    return pages


def load_pages(ids: list[str] | None = None) -> list[Page]:
    root = benchmark_dir()
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    wanted = sorted(truth) if ids is None else ids
    pages = []
    for page_id in wanted:
        with gzip.open(root / "html" / f"{page_id}.html.gz", "rt", encoding="utf-8") as fh:
            html = fh.read()
        item = truth[page_id]
        pages.append(Page(page_id, html, item.get("articleBody") or "", item.get("url")))
    return pages


def tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(text or "")


def shingles(text: str) -> Counter:
    toks = tokens(text)
    if len(toks) < SHINGLE_SIZE:
        return Counter([tuple(toks)]) if toks else Counter()
    return Counter(tuple(toks[i : i + SHINGLE_SIZE]) for i in range(len(toks) - SHINGLE_SIZE + 1))


def page_counts(predicted: str, truth: str) -> tuple[float, float, float]:
    """(tp, fp, fn) of one page, normalised so they sum to 1 (all zero when both are empty)."""
    return shingle_counts(shingles(predicted), shingles(truth))


def shingle_counts(pred: Counter, gold: Counter) -> tuple[float, float, float]:
    """page_counts from the two texts' shingles (for callers that keep a truth's shingles)."""
    tp = sum((pred & gold).values())
    fp = sum((pred - gold).values())
    fn = sum((gold - pred).values())
    total = tp + fp + fn
    if total == 0:
        return 0.0, 0.0, 0.0
    return tp / total, fp / total, fn / total


@dataclass
class Score:
    precision: float
    recall: float
    f1: float
    accuracy: float
    pages: int


def precision_recall(counts: Iterable[tuple[float, float, float]]) -> tuple[float, float]:
    """The metric's precision and recall of a set from its pages' (tp, fp, fn): each averaged
    over the pages where it is defined."""
    precisions, recalls = [], []
    for tp, fp, fn in counts:
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    return p, r


def harmonic_mean(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def set_f1(counts: Iterable[tuple[float, float, float]]) -> float:
    """The metric's F1 of a set from its pages' (tp, fp, fn): the harmonic mean of the averages."""
    return harmonic_mean(*precision_recall(counts))


def score(predictions: list[str], truths: list[str]) -> Score:
    pairs = list(zip(predictions, truths, strict=True))
    p, r = precision_recall(page_counts(predicted, truth) for predicted, truth in pairs)
    f1 = harmonic_mean(p, r)
    exact = sum(tokens(predicted) == tokens(truth) for predicted, truth in pairs)
    return Score(p, r, f1, exact / len(truths) if truths else 0.0, len(truths))


def cached_rows(cache: Path, page_row, *, reuse: bool) -> tuple[list, list[str], list[str]]:
    """Every page of every set as `page_row(html)` (None where it raised, as the bench scores a
    crash: an empty extraction), its truth and its set's name. The rows are saved to `cache`
    (JSON); with `reuse`, read from it when it exists instead of computed again."""
    reused = json.loads(cache.read_text()) if reuse and cache.exists() else None
    rows, truths, set_of = [], [], []
    for set_name in SETS:
        for page in load_set(set_name):
            if reused is None:
                try:
                    rows.append(page_row(page.html))
                except Exception:
                    rows.append(None)
            truths.append(page.body)
            set_of.append(set_name)
    if reused is not None:
        return reused, truths, set_of
    cache.parent.mkdir(exist_ok=True)
    cache.write_text(json.dumps(rows))
    return rows, truths, set_of
