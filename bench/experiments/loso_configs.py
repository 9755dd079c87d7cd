"""Leave-one-set-out, step 2: scores 128 configurations (trafilatura fast/full mode x every
subset of copydesk's rules) and the two libraries on every set from loso_candidates.py's cache;
for each set in turn, picks the best configuration on the other five and scores it on the one
left out.

    .venv/bin/python bench/experiments/loso_configs.py
"""

import itertools
import json
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".bench-cache" / "loso-candidates.json"
sys.path.insert(0, str(ROOT / "bench"))
from _extraction_data import SETS, load_set, set_f1, shingle_counts

TOK = re.compile(r"\w+")


def sh(text):
    t = TOK.findall(text or "")
    if len(t) < 4:
        return Counter([tuple(t)]) if t else Counter()
    return Counter(tuple(t[i : i + 4]) for i in range(len(t) - 3))


rows = json.loads(CACHE.read_text())
truth = {}
for s in SETS:
    for p in load_set(s):
        truth[(s, p.id)] = sh(p.body)
sets = SETS


def score(preds, golds):
    return set_f1(shingle_counts(pr, g) for pr, g in zip(preds, golds, strict=True))


REASONS = ("headline", "standfirst", "link", "call_to_action", "dateline", "boilerplate_run")


def text_of(blocks, active):
    return "\n".join(t for t, r in blocks if not r or r not in active)


bysets = {s: [r for r in rows if r["set"] == s] for s in sets}


def f1_by_set(pred):
    return {s: score([sh(pred(r)) for r in rs], [truth[(s, r["id"])] for r in rs]) for s, rs in bysets.items()}


configs = {}
for base in ("fast_blocks", "full_blocks"):
    for k in range(len(REASONS) + 1):
        for sub in itertools.combinations(REASONS, k):
            configs[(base, sub)] = (lambda b, a: lambda r: text_of(r[b], set(a)))(base, sub)
configs[("traf_nocomments",)] = lambda r: r["traf_nocomments"]
configs[("readability",)] = lambda r: r["readability"]
res = {}
for name, fn in configs.items():
    res[name] = f1_by_set(fn)


def show(name):
    f = res[name]
    print(
        f"{str(name)[:80]:<80} " + " ".join(f"{f[s]:.4f}" for s in sets) + f"  macro {statistics.mean(f.values()):.4f}",
        flush=True,
    )


print(" " * 81 + " ".join(s[:6] for s in sets))
for name in [
    ("fast_blocks", REASONS),
    ("fast_blocks", ()),
    ("full_blocks", REASONS),
    ("full_blocks", ()),
    ("traf_nocomments",),
    ("readability",),
]:
    show(name)
print("--- top 12 by macro")
for name in sorted(res, key=lambda n: -statistics.mean(res[n].values()))[:12]:
    show(name)
print("--- LOSO")
for h in sets:
    best = max(res, key=lambda n: statistics.mean(res[n][s] for s in sets if s != h))
    print(f"{h:<20} chosen {best}  F1 {res[best][h]:.4f}")
t = {k: sum(r[k] for r in rows) for k in ("t_fast", "t_full", "t_traf", "t_read")}
print("cpu totals", t)
