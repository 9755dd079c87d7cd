"""Leave-one-outlet-out under recipe variants (issue 14): the decisions' table, ours only.

    .venv/bin/python bench/experiments/loo_grid.py --outlet bbc_news --set LONG_BLEND=1.0 --weights ag_news=0.5

--set NAME=VALUE overrides a constant of tasks.classification.training; --weights SOURCE=W
overrides the shipped source weights. Prints each fold's full and lead accuracy, per label.
"""

from __future__ import annotations

import argparse
import ast
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tasks.classification import build_shipped, training  # noqa: E402
from tasks.classification.evaluation import format_confusion  # noqa: E402
from tasks.classification.outlets import OUTLETS, fold_model, score_outlet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--outlet", action="append")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--weights", action="append", default=[])
    parser.add_argument("--confusion", action="store_true")
    args = parser.parse_args()
    for item in args.set:
        name, value = item.split("=", 1)
        setattr(training, name, ast.literal_eval(value))
    for item in args.weights:
        name, value = item.split("=", 1)
        build_shipped.SOURCE_WEIGHTS[name] = float(value)
    print(f"variant: set {args.set} weights {build_shipped.SOURCE_WEIGHTS}", flush=True)
    names = args.outlet or list(OUTLETS)
    full = {}
    for name in names:
        started = time.perf_counter()
        model = fold_model(name)
        r = score_outlet(lambda texts, model=model: [model.predict(t).label for t in texts], OUTLETS[name].scored())
        if OUTLETS[name].full_length:
            full[name] = r["full"]["accuracy"]
        print(f"  {name:14} full {r['full']['accuracy']:.4f} lead {r['lead']['accuracy']:.4f} ({time.perf_counter() - started:.0f} s) | "
              + " ".join(f"{k} {v:.3f}" for k, v in r["full"]["by_label"].items()), flush=True)
        if args.confusion:
            print("    " + format_confusion(r["full"]["confusion"]).replace("\n", "\n    "))
    if full:
        print(f"  macro full-length ({', '.join(full)}): {statistics.mean(full.values()):.4f}")


if __name__ == "__main__":
    main()
