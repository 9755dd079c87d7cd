"""Leave-one-set-out over trafilatura's options (full mode, copydesk's block conversion, no rule):
each variant's F1 per set, and for each set left out the variant best on the other five.

    .venv/bin/python bench/experiments/loso_options.py
"""

import logging
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
logging.disable(logging.WARNING)
import trafilatura
from trafilatura.settings import use_config
from _extraction_data import SETS, load_set, score

import tasks.cleaning.html as H
from tasks.article import BadInput
from tasks.cleaning.markup import parse_html

BASE = dict(H.EXTRACT_OPTIONS, fast=False)
VARIANTS = {
    "recall+tables (copydesk)": BASE,
    "plain": dict(BASE, favor_recall=False),
    "precision": dict(BASE, favor_recall=False, favor_precision=True),
    "recall, no tables": dict(BASE, include_tables=False),
    "recall, fast": dict(BASE, fast=True),
}
#: trafilatura's MIN_EXTRACTED_SIZE (250 by default): its short-result fallbacks, and in recall
#: mode the size (x10) above which its own extraction is kept without comparing readability's.
for size in (100, 500, 1000):
    config = use_config()
    config["DEFAULT"]["MIN_EXTRACTED_SIZE"] = str(size)
    VARIANTS[f"recall, min size {size}"] = dict(BASE, config=config)
ONLY = sys.argv[1:] if __name__ == "__main__" else []  # variant names to run (default: all)


def run(html, options):
    try:
        tree = parse_html(html)
    except BadInput:
        return ""
    if tree is None:
        return ""
    document = trafilatura.bare_extraction(tree, **options)
    if document is None or document.body is None:
        return ""
    return "\n".join(b.text for b in H.body_blocks(document.body))


def main():
    pages = {s: load_set(s) for s in SETS}
    res = {}
    for name, options in VARIANTS.items():
        if ONLY and name not in ONLY and name != "recall+tables (copydesk)":
            continue
        res[name] = {s: score([run(p.html, options) for p in ps], [p.body for p in ps]).f1 for s, ps in pages.items()}
        f = res[name]
        print(f"{name:<26} " + " ".join(f"{f[s]:.4f}" for s in SETS) + f"  macro {statistics.mean(f.values()):.4f}", flush=True)
    print("--- LOSO")
    for held in SETS:
        best = max(res, key=lambda n: statistics.mean(res[n][s] for s in SETS if s != held))
        print(f"{held:<20} chosen {best!r}  F1 {res[best][held]:.4f}")


if __name__ == "__main__":
    main()
