"""Leave-one-set-out, step 1: every page of the six extraction sets through each candidate
(trafilatura fast and full mode with copydesk's rule reasons per block, trafilatura without
comments, readability-lxml), written to .bench-cache/loso-candidates.json for loso_configs.py.

    .venv/bin/python bench/experiments/loso_candidates.py     (needs `uv sync --group bench`)
"""

import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".bench-cache" / "loso-candidates.json"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
logging.disable(logging.WARNING)
import trafilatura
from _extraction_data import SETS, load_set
import tasks.cleaning.html as H
from clean import extractors

ex = extractors()


import _rule_ablation as RA

# Both modes set explicitly: copydesk's own options change with what this study picks.
FAST = dict(H.EXTRACT_OPTIONS, fast=True)
FULL = dict(H.EXTRACT_OPTIONS, fast=False)
out = []
for s in SETS:
    for p in load_set(s):
        row = {"set": s, "id": p.id}
        RA.EXTRACT_OPTIONS = FAST
        t = time.process_time()
        row["fast_blocks"] = RA.explained(p.html)
        row["t_fast"] = time.process_time() - t
        RA.EXTRACT_OPTIONS = FULL
        t = time.process_time()
        row["full_blocks"] = RA.explained(p.html)
        row["t_full"] = time.process_time() - t
        t = time.process_time()
        row["traf_nocomments"] = trafilatura.extract(p.html, include_comments=False) or ""
        row["t_traf"] = time.process_time() - t
        t = time.process_time()
        row["readability"] = ex["readability-lxml"](p.html)
        row["t_read"] = time.process_time() - t
        out.append(row)
    print(s, len(out), flush=True)
CACHE.parent.mkdir(parents=True, exist_ok=True)
CACHE.write_text(json.dumps(out))
