"""How far a per-page choice between trafilatura's recall mode (copydesk) and its plain mode
could go: both through copydesk's block conversion (full mode, no rule), F1 per set of each and
of the per-page oracle (the better of the two on each page, which needs the truth: an upper
bound, not a method). Both extractions on every page would halve copydesk's pages/s.

    .venv/bin/python bench/experiments/recall_vs_plain.py
"""

import logging
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "experiments"))
logging.disable(logging.WARNING)
from _extraction_data import SETS, load_set, page_counts, score
from loso_options import BASE, run

res = {"recall (copydesk)": {}, "plain": {}, "oracle": {}}


def page_f1(predicted, gold):
    tp, fp, fn = page_counts(predicted, gold)
    p = tp / (tp + fp) if tp + fp else 0
    r = tp / (tp + fn) if tp + fn else 0
    return 2 * p * r / (p + r) if p + r else 0


for s in SETS:
    pages = load_set(s)
    recall = [run(p.html, BASE) for p in pages]
    plain = [run(p.html, dict(BASE, favor_recall=False)) for p in pages]
    golds = [p.body for p in pages]
    best = [max(a, b, key=lambda o, g=g: page_f1(o, g)) for a, b, g in zip(recall, plain, golds, strict=True)]
    for name, preds in (("recall (copydesk)", recall), ("plain", plain), ("oracle", best)):
        res[name][s] = score(preds, golds).f1
for name, f in res.items():
    print(f"{name:<18} " + " ".join(f"{f[s]:.4f}" for s in SETS) + f"  macro {statistics.mean(f.values()):.4f}")
