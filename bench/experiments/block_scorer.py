"""Block scorer, step 2: leave-one-set-out figures of a learned keep/drop judgement of
trafilatura's full-mode blocks (block_features.py), from block_dump.py's cache.

For each set left out: the model is trained on the shippable sets (scrapinghub, readability)
other than the one left out, its threshold chosen on those same training sets, and it is scored
on the set left out; "all-others" trains on the other five sets (measurement only: three of them
may not be shipped). Baseline: every block kept (copydesk's HTML path without a judgement).

    .venv/bin/python bench/experiments/block_scorer.py
"""

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".bench-cache" / "blocks-full.json"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "experiments"))
import numpy as np
from _extraction_data import SETS, SHIPPABLE_SETS, load_set, score, shingles, tokens
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from tasks.cleaning.result import Block
from block_features import block_features

THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6)
rows = json.loads(CACHE.read_text())
truth = {(s, p.id): p.body for s in SETS for p in load_set(s)}


def label(text, gold_shingles, gold_joined):
    toks = tokens(text)
    if len(toks) < 4:
        return float(f" {' '.join(toks)} " in gold_joined) if toks else 0.0
    mine = [tuple(toks[i : i + 4]) for i in range(len(toks) - 3)]
    return sum(m in gold_shingles for m in mine) / len(mine)


pages = []  # (set, id, texts, X, y, w)
for r in rows:
    page = r["page"]
    blocks = [Block(t, k, ls) for t, k, ls in (page["blocks"] if page else [])]
    body = truth[(r["set"], r["id"])]
    gold = shingles(body)
    joined = " " + " ".join(tokens(body)) + " "
    X = np.array(block_features(blocks, page["title"], page["description"], page["h1"]) if blocks else [])
    y = np.array([label(b.text, gold, joined) >= 0.5 for b in blocks], dtype=int)
    n_tok = np.array([max(1, len(tokens(b.text))) for b in blocks], dtype=float)
    w = n_tok / n_tok.sum() if blocks else n_tok
    pages.append((r["set"], r["id"], [b.text for b in blocks], X, y, w))
print("features ready", flush=True)


def f1_of(set_name, keep_fn):
    idx = [i for i, p in enumerate(pages) if p[0] == set_name]
    preds = []
    for i in idx:
        _, _, texts, X, _, _ = pages[i]
        keep = keep_fn(X) if len(texts) else []
        preds.append("\n".join(t for t, k in zip(texts, keep, strict=True) if k))
    return score(preds, [truth[(pages[i][0], pages[i][1])] for i in idx]).f1


def train(model_name, train_sets):
    data = [p for p in pages if p[0] in train_sets and len(p[2])]
    X = np.vstack([p[3] for p in data])
    y = np.concatenate([p[4] for p in data])
    w = np.concatenate([p[5] for p in data])
    if model_name == "logistic":
        scaler = StandardScaler().fit(X)
        clf = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(X), y, sample_weight=w)
        proba = lambda Z: clf.predict_proba(scaler.transform(Z))[:, 1]  # noqa: E731
    else:
        clf = HistGradientBoostingClassifier(max_iter=150, max_depth=4, learning_rate=0.08, random_state=0)
        clf.fit(X, y, sample_weight=w * len(data))
        proba = lambda Z: clf.predict_proba(Z)[:, 1]  # noqa: E731
    best = max(THRESHOLDS, key=lambda t: statistics.mean(f1_of(s, lambda Z: proba(Z) >= t) for s in train_sets))
    return proba, best


baseline = {s: f1_of(s, lambda Z: [True] * len(Z)) for s in SETS}
table = {"keep all (full mode)": baseline}
for model_name in ("logistic", "gbt"):
    for regime in ("shippable", "all-others"):
        name = f"{model_name} / {regime}"
        table[name] = {}
        for held in SETS:
            train_sets = [s for s in (SHIPPABLE_SETS if regime == "shippable" else SETS) if s != held]
            proba, t = train(model_name, train_sets)
            table[name][held] = f1_of(held, lambda Z, proba=proba, t=t: proba(Z) >= t)
            print(f"  {name:<24} held out {held:<20} threshold {t}  F1 {table[name][held]:.4f}", flush=True)
print(f"\n{'left out ->':<26} " + " ".join(f"{s[:12]:>12}" for s in SETS) + "   macro")
for name, f in table.items():
    print(f"{name:<26} " + " ".join(f"{f[s]:12.4f}" for s in SETS) + f"   {statistics.mean(f.values()):.4f}")
