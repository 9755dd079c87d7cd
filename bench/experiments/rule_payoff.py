"""Each hand rule's payoff per set in trafilatura's full mode: F1 with the rule alone minus F1
with no rule (boilerplate_run, which only widens calls to action: with call_to_action minus
call_to_action alone). A rule stays only if it pays off on two sets other than the one that
suggested it (issue 10). Reads loso_candidates.py's cache.

    .venv/bin/python bench/experiments/rule_payoff.py
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from _extraction_data import SETS, load_set, score

rows = json.loads((ROOT / ".bench-cache" / "loso-candidates.json").read_text())
truth = {(s, p.id): p.body for s in SETS for p in load_set(s)}
REASONS = ("headline", "standfirst", "link", "call_to_action", "dateline", "boilerplate_run")


def f1(set_name, active):
    rs = [r for r in rows if r["set"] == set_name]
    preds = ["\n".join(t for t, reason in r["full_blocks"] if not reason or reason not in active) for r in rs]
    return score(preds, [truth[(set_name, r["id"])] for r in rs]).f1


print(f"{'rule':<16} " + " ".join(f"{s[:12]:>12}" for s in SETS) + "   pays off on (> +0.0005)")
for rule in REASONS:
    base = {"call_to_action"} if rule == "boilerplate_run" else set()
    deltas = {s: f1(s, base | {rule}) - f1(s, base) for s in SETS}
    wins = [s for s in SETS if deltas[s] > 0.0005]
    print(f"{rule:<16} " + " ".join(f"{deltas[s]:+12.4f}" for s in SETS) + f"   {len(wins)}: {', '.join(wins)}")
