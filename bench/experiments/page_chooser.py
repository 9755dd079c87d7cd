"""Page chooser (not shipped): per page, a regression of F1(readability-lxml) - F1(copydesk's
full-mode blocks) from features of both outputs (words, lines, words per line, sentence-ended
lines, their shingle overlap); readability's output is taken where it predicts > 0.02. Trained on
the shippable sets ("shippable") or on the other five ("all-others"), scored on the set left out.
The per-page oracle of the two is printed too. Reads loso_candidates.py's cache.

    .venv/bin/python bench/experiments/page_chooser.py
"""

import json
import math
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import numpy as np
from _extraction_data import SETS, SHIPPABLE_SETS, load_set, page_counts, score, shingles
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge

rows = json.loads((ROOT / ".bench-cache" / "loso-candidates.json").read_text())
truth = {(s, p.id): p.body for s in SETS for p in load_set(s)}


def full(row):
    return "\n".join(text for text, _ in row["full_blocks"])


def page_f1(predicted, gold):
    tp, fp, fn = page_counts(predicted, gold)
    p = tp / (tp + fp) if tp + fp else 0
    r = tp / (tp + fn) if tp + fn else 0
    return 2 * p * r / (p + r) if p + r else 0


def stats(text):
    lines = [line for line in text.splitlines() if line.strip()]
    n = len(text.split())
    ended = sum(line.rstrip()[-1] in '.!?"”' for line in lines) / max(1, len(lines))
    return [math.log1p(n), math.log1p(len(lines)), n / max(1, len(lines)), ended]


features, gains, set_of = [], [], []
for row in rows:
    a, b = full(row), row["readability"]
    sa, sb = shingles(a), shingles(b)
    inter = sum((sa & sb).values())
    fa, fb = stats(a), stats(b)
    features.append(
        fa + fb + [fb[0] - fa[0], inter / max(1, sum((sa | sb).values())),
                   inter / max(1, sum(sa.values())), inter / max(1, sum(sb.values()))]
    )
    gold = truth[(row["set"], row["id"])]
    gains.append(page_f1(b, gold) - page_f1(a, gold))
    set_of.append(row["set"])
X, y, S = np.array(features), np.array(gains), np.array(set_of)


def f1_of_set(set_name, pick):
    idx = [i for i in range(len(rows)) if S[i] == set_name]
    preds = [pick(i) for i in idx]
    return score(preds, [truth[(set_name, rows[i]["id"])] for i in idx]).f1


for regime in ("shippable", "all-others"):
    for model_name in ("gbt", "ridge"):
        res = {}
        for held in SETS:
            mask = np.isin(S, [s for s in (SHIPPABLE_SETS if regime == "shippable" else SETS) if s != held])
            model = (
                HistGradientBoostingRegressor(max_iter=100, max_depth=3, learning_rate=0.05, random_state=0)
                if model_name == "gbt"
                else Ridge(alpha=1.0)
            ).fit(X[mask], y[mask])
            chosen = model.predict(X) > 0.02
            res[held] = f1_of_set(held, lambda i, chosen=chosen: rows[i]["readability"] if chosen[i] else full(rows[i]))
        print(f"{regime:<11}{model_name:<6}", " ".join(f"{res[s]:.4f}" for s in SETS),
              f"macro {statistics.mean(res.values()):.4f}", flush=True)
oracle = {
    s: f1_of_set(
        s, lambda i: max((full(rows[i]), rows[i]["readability"]), key=lambda o: page_f1(o, truth[(S[i], rows[i]["id"])]))
    )
    for s in SETS
}
print(f"{'oracle':<17}", " ".join(f"{oracle[s]:.4f}" for s in SETS), f"macro {statistics.mean(oracle.values()):.4f}")
