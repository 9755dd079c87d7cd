"""Union block scorer, step 1 (not shipped: union_scorer.py has the figures): every page of the six extraction sets as the page's own DOM text
blocks (the union of what trafilatura and readability-lxml could keep), each with features that
include whether trafilatura keeps it, whether readability-lxml keeps it and readability's
candidate score of its enclosing element (read from FastDocument's first pass on the same tree),
plus copydesk v11's output and readability-lxml's lines for comparison. Written to
.bench-cache/union-blocks.pkl for union_scorer.py.

    nice -n 10 .venv/bin/python bench/experiments/union_dump.py   # ~3 min quiet
"""

from __future__ import annotations

import logging
import math
import pickle
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".bench-cache" / "union-blocks.pkl"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
logging.disable(logging.WARNING)
import numpy as np  # noqa: E402
import trafilatura  # noqa: E402
from _extraction_data import SETS, load_set, shingles, tokens  # noqa: E402

import tasks.cleaning.html as H  # noqa: E402
from tasks.article import BadInput  # noqa: E402
from tasks.cleaning.agreement import words  # noqa: E402
from tasks.cleaning.markup import parse_html  # noqa: E402
from tasks.cleaning.metadata import metadata_from_html  # noqa: E402
from tasks.cleaning.normalize import normalize_inline  # noqa: E402
from tasks.cleaning.second_opinion import FastDocument, matches, summary_lines  # noqa: E402

TAG_GROUPS = {
    "p": "p",
    "div": "div",
    "li": "li",
    "td": "cell",
    "th": "cell",
    "dd": "li",
    "dt": "li",
    "h1": "h",
    "h2": "h",
    "h3": "h",
    "h4": "h",
    "h5": "h",
    "h6": "h",
    "blockquote": "quote",
    "pre": "pre",
    "br": "br",
    "body": "div",
    "section": "div",
    "article": "div",
    "figcaption": "cap",
    "caption": "cap",
    "span": "other",
}
GROUPS = ("p", "div", "li", "cell", "h", "quote", "pre", "br", "cap", "other")
BOILER_ANCESTORS = frozenset({"nav", "header", "footer", "aside", "form", "menu", "select", "button"})
ARTICLE_ANCESTORS = frozenset({"article", "main"})
PUNCT = frozenset(".,;:!?")
ENDS = frozenset('.!?"”’')

FEATURES = (
    "log_words",
    "log_chars",
    "link_share",
    *(f"tag_{g}" for g in GROUPS),
    "in_boiler",
    "in_article",
    "in_li",
    "in_table",
    "log_depth",
    "class_weight_sum",
    "unlikely_class",
    "rel_index",
    "rel_word_pos",
    "first_block",
    "last_block",
    "punct_share",
    "commas_per_word",
    "ends_sentence",
    "digit_share",
    "upper_share",
    "title_overlap",
    "is_title",
    "tra_keep",
    "cd_keep",
    "rd_keep",
    "both_keep",
    "either_keep",
    "rd_removed",
    "log_cand_score",
    "cand_ratio",
    "in_best",
    "best_sibling",
    "prev_tra",
    "next_tra",
    "prev_rd",
    "next_rd",
    "win_tra",
    "win_rd",
    "prev_log_words",
    "next_log_words",
    "log_blocks",
    "log_page_words",
    "page_tra_share",
    "page_rd_share",
    "page_cd_share",
    "tra_rd_agree",
)
WINDOW = 3


class Capturing(FastDocument):
    """FastDocument that keeps its first pass's candidate scores and best candidate."""

    snapshot: dict[str, Any] | None = None

    def get_article(self, candidates: Any, best_candidate: Any, html_partial: bool = False) -> Any:
        if self.snapshot is None:
            self.snapshot = {
                "scores": {c["elem"]: c["content_score"] for c in candidates.values()},
                "best": best_candidate["elem"],
                "root": self.html,
            }
        return super().get_article(candidates, best_candidate, html_partial=html_partial)


def dom_blocks(tree: Any) -> list[tuple[str, Any, float]]:
    """The page's visible text blocks (html.page_blocks' walk), each with the element it is the
    own text of and the share of its characters inside links."""
    body = tree.find("body")
    out: list[tuple[str, Any, float]] = []

    def walk(element: Any, in_link: bool) -> list[tuple[str, bool]]:
        own: list[tuple[str, bool]] = [(element.text or "", in_link)]
        for child in element:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag in H.INVISIBLE_TAGS:
                pass
            elif tag in H.PAGE_BLOCK_TAGS:
                flush(walk(child, in_link or tag == "a"), child)
            else:
                own.extend(walk(child, in_link or tag == "a"))
            own.append((child.tail or "", in_link))
        return own

    def flush(pieces: list[tuple[str, bool]], element: Any) -> None:
        text = normalize_inline("".join(t for t, _ in pieces))
        if text:
            linked = sum(len(t.strip()) for t, a in pieces if a)
            total = sum(len(t.strip()) for t, _ in pieces) or 1
            out.append((text, element, min(1.0, linked / total)))

    if body is not None:
        flush(walk(body, False), body)
    return out


def runs_of(ws: list[str]) -> set[tuple[str, ...]]:
    return {tuple(ws[i : i + 4]) for i in range(len(ws) - 3)}


def keep_share(ws: list[str], runs: set, joined: str) -> float:
    """Share of the block's runs of 4 words in the other text (its words in a row when fewer)."""
    if not ws:
        return 0.0
    if len(ws) < 4:
        return float(f" {' '.join(ws)} " in joined)
    mine = [tuple(ws[i : i + 4]) for i in range(len(ws) - 3)]
    return sum(m in runs for m in mine) / len(mine)


def label(text: str, gold: Any, gold_joined: str) -> float:
    toks = tokens(text)
    if len(toks) < 4:
        return float(f" {' '.join(toks)} " in gold_joined) if toks else 0.0
    mine = [tuple(toks[i : i + 4]) for i in range(len(toks) - 3)]
    return sum(m in gold for m in mine) / len(mine)


def ancestry(element: Any, root: Any) -> tuple[list[Any], bool]:
    chain = []
    node = element
    attached = False
    while node is not None:
        chain.append(node)
        if node is root:
            attached = True
        node = node.getparent()
    return chain, attached


def page_row(html: str, truth: str) -> dict[str, Any] | None:
    t0 = time.process_time()
    try:
        tree = parse_html(html)
    except BadInput:
        return None
    if tree is None:
        return None
    try:
        copydesk = H.clean_html(html).paragraphs
    except BadInput:
        copydesk = []
    t_cd = time.process_time() - t0
    metadata, hints = metadata_from_html(tree)
    elements = int(H.ELEMENTS_XPATH(tree))
    thick = H.is_dense(elements, len(html), H.THICK_ELEMENTS_PER_KB)
    if elements > H.REFERENCE_MAX_ELEMENTS or thick or H.is_dense(elements, len(html), units=2 * elements):
        return {"copydesk": copydesk, "readability": [], "fallback": True, "t_cd": t_cd}
    t1 = time.process_time()
    blocks = dom_blocks(tree)
    document: Any = trafilatura.bare_extraction(tree, output_format="xml", **H.EXTRACT_OPTIONS)
    tra = H.body_blocks(document.body) if document is not None and document.body is not None else []
    doc = Capturing(tree, lambda: parse_html(html))
    try:
        doc.summary(html_partial=True)
        lines = summary_lines(doc.summary_root)
    except Exception:
        lines = []
    snap = doc.snapshot
    if not lines or snap is None or not blocks:
        return {"copydesk": copydesk, "readability": lines, "fallback": True, "t_cd": t_cd}
    t_extra = time.process_time() - t1
    # Membership, by runs of 4 words.
    tra_words = [w for b in tra for w in words(b.text)]
    rd_words = [w for line in lines for w in words(line)]
    cd_words = [w for p in copydesk for w in words(p)]
    tra_runs, rd_runs, cd_runs = runs_of(tra_words), runs_of(rd_words), runs_of(cd_words)
    tra_j, rd_j, cd_j = (" " + " ".join(x) + " " for x in (tra_words, rd_words, cd_words))
    title = metadata.title or ""
    title_words = set(words(title))
    scores = snap["scores"]
    best_score = max(scores.values()) if scores else 0.0
    best = snap["best"]
    best_parent = best.getparent()
    root = snap["root"]
    bws = [words(text) for text, _, _ in blocks]
    counts = [len(w) for w in bws]
    page_words = sum(counts) or 1
    tra_k = [keep_share(w, tra_runs, tra_j) for w in bws]
    rd_k = [keep_share(w, rd_runs, rd_j) for w in bws]
    cd_k = [keep_share(w, cd_runs, cd_j) for w in bws]
    page_tra = sum(c * k for c, k in zip(counts, tra_k, strict=True)) / page_words
    page_rd = sum(c * k for c, k in zip(counts, rd_k, strict=True)) / page_words
    page_cd = sum(c * k for c, k in zip(counts, cd_k, strict=True)) / page_words
    both = sum(c * min(a, b) for c, a, b in zip(counts, tra_k, rd_k, strict=True))
    either = sum(c * max(a, b) for c, a, b in zip(counts, tra_k, rd_k, strict=True)) or 1
    agree = both / either
    weights: dict[str, int] = {}
    n = len(blocks)
    cum = 0
    rows = []
    for i, (text, element, link_share) in enumerate(blocks):
        chain, attached = ancestry(element, root)
        tags = [c.tag if isinstance(c.tag, str) else "" for c in chain]
        tag = tags[0]
        group = TAG_GROUPS.get(tag, "other")
        cw = 0
        unlikely = 0.0
        for c in chain[:8]:
            for feature in (c.get("class"), c.get("id")):
                if feature:
                    known = weights.get(feature)
                    if known is None:
                        known = weights[feature] = -25 * matches("negativeRe", feature) + 25 * matches(
                            "positiveRe", feature
                        )
                    cw += known
            s = "{} {}".format(c.get("class", ""), c.get("id", ""))
            if len(s) >= 2 and matches("unlikelyCandidatesRe", s) and not matches("okMaybeItsACandidateRe", s):
                unlikely = 1.0
        cand = 0.0
        for c in chain[:4]:
            if c in scores:
                cand = max(cand, scores[c])
        in_best = float(any(c is best for c in chain))
        sib = float(best_parent is not None and any(c.getparent() is best_parent for c in chain))
        chars = len(text) or 1
        letters = [c for c in text if c.isalpha()]
        mine = set(bws[i])
        overlap = len(mine & title_words) / len(mine | title_words) if mine and title_words else 0.0
        lo, hi = max(0, i - WINDOW), min(n, i + WINDOW + 1)
        rows.append(
            [
                math.log1p(counts[i]),
                math.log1p(len(text)),
                link_share,
                *(float(group == g) for g in GROUPS),
                float(any(t in BOILER_ANCESTORS for t in tags)),
                float(any(t in ARTICLE_ANCESTORS for t in tags)),
                float("li" in tags),
                float("table" in tags),
                math.log1p(len(chain)),
                cw / 25.0,
                unlikely,
                i / max(1, n - 1),
                cum / page_words,
                float(i == 0),
                float(i == n - 1),
                sum(c in PUNCT for c in text) / chars,
                text.count(",") / max(1, counts[i]),
                float(text.rstrip()[-1:] in ENDS),
                sum(c.isdigit() for c in text) / chars,
                sum(c.isupper() for c in letters) / (len(letters) or 1),
                overlap,
                float(bool(title) and text == title),
                tra_k[i],
                cd_k[i],
                rd_k[i],
                min(tra_k[i], rd_k[i]),
                max(tra_k[i], rd_k[i]),
                float(not attached),
                math.log1p(max(0.0, cand)),
                cand / best_score if best_score > 0 else 0.0,
                in_best,
                sib,
                tra_k[i - 1] if i else 0.0,
                tra_k[i + 1] if i + 1 < n else 0.0,
                rd_k[i - 1] if i else 0.0,
                rd_k[i + 1] if i + 1 < n else 0.0,
                sum(tra_k[lo:hi]) / (hi - lo),
                sum(rd_k[lo:hi]) / (hi - lo),
                math.log1p(counts[i - 1]) if i else 0.0,
                math.log1p(counts[i + 1]) if i + 1 < n else 0.0,
                math.log1p(n),
                math.log1p(page_words),
                page_tra,
                page_rd,
                page_cd,
                agree,
            ]
        )
        cum += counts[i]
    t_feat = time.process_time() - t1
    gold = shingles(truth)
    gold_joined = " " + " ".join(tokens(truth)) + " "
    return {
        "copydesk": copydesk,
        "readability": lines,
        "fallback": False,
        "t_cd": t_cd,
        "t_extra": t_extra,
        "t_feat": t_feat,
        "texts": [b[0] for b in blocks],
        "X": np.array(rows, dtype=np.float32),
        "y": np.array([label(b[0], gold, gold_joined) for b in blocks], dtype=np.float32),
        "ntok": np.array([max(1, len(tokens(b[0]))) for b in blocks], dtype=np.float32),
    }


def main() -> None:
    out = []
    for s in SETS:
        for p in load_set(s):
            try:
                row = page_row(p.html, p.body)
            except Exception as exc:  # noqa: BLE001
                print("failed", s, p.id, repr(exc), flush=True)
                row = None
            out.append({"set": s, "id": p.id, "truth": p.body, "row": row})
        print(s, len(out), flush=True)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_bytes(pickle.dumps({"features": FEATURES, "pages": out}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        for p in load_set("readability")[:3]:
            r = page_row(p.html, p.body)
            assert r is not None and not r["fallback"]
            print(p.id, r["X"].shape, len(FEATURES), r["y"].mean(), r["t_cd"], r["t_feat"])
    else:
        main()
