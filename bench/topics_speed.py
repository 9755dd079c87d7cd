"""The topic model's run-time speed beside the same code at a git ref, and a check that both give
the same predictions.

Run:  .venv/bin/python bench/topics_speed.py [--baseline GIT_REF] [--rounds N] [--check]

Speed: TopicModel.predict(text, "en") over the articles of bench/classify.py's speed section
(the BBC test set and the first 600 training articles, one per call), articles per CPU-second of
this process, ours and the baseline's taking turns every 25 articles (the machine's noise hits
both alike); median and best of the rounds, the ratio of the medians and each round's ratio. The baseline is tasks/classification
and the shipped model folder as they were at GIT_REF (git archive into a temporary package,
copydesk_baseline), loaded from that folder.

--check: every prediction (labels, probabilities to the last bit, uncertain flag, explanation
terms) of both, over the test sets of tasks/classification/labels.py and the extraction
benchmark's article bodies, with the language "en", "de" and none, and the model versions; then
3,000 of them again with a cache of 500 unknown words (restarted many times on the way).
"""

from __future__ import annotations

import os

# One core: the figures are per core.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _baseline import modules_at  # noqa: E402

from tasks.classification import labels as data  # noqa: E402
from tasks.classification.topics import TopicModel  # noqa: E402


def baseline_model(ref: str) -> Any:
    """The topic model as the code at git `ref` loads it (its own shipped model folder)."""
    (topics,) = modules_at(ref, ["tasks/classification", "tasks/models/topics"], ["classification.topics"])
    return topics.TopicModel.load()


def speed_articles() -> list[str]:
    return [t for t, _ in data.bbc_news("test")] + [t for t, _ in data.bbc_news("train")][:600]


def rate(model: Any, articles: list[str]) -> float:
    started = time.process_time()
    for text in articles:
        model.predict(text, "en")
    return len(articles) / (time.process_time() - started)


def interleaved(models: dict[str, Any], articles: list[str], chunk: int = 25) -> dict[str, float]:
    """One round: articles per CPU-second of each model, the models taking turns every `chunk`
    articles (the first of each turn alternating), so that the machine's noise, which comes and
    goes over seconds, hits them alike."""
    names = list(models)
    seconds = dict.fromkeys(names, 0.0)
    for turn, start in enumerate(range(0, len(articles), chunk)):
        part = articles[start : start + chunk]
        for name in names if turn % 2 == 0 else names[::-1]:
            model = models[name]
            started = time.process_time()
            for text in part:
                model.predict(text, "en")
            seconds[name] += time.process_time() - started
    return {name: len(articles) / seconds[name] for name in names}


def check_texts() -> list[str]:
    texts = [t for examples in data.test_sets().values() for t, _ in examples]
    texts += [t for t, _ in data.bbc_news("train")]
    truth = data.shared_dir() / "data" / "article-extraction-benchmark" / "ground-truth.json"
    if truth.is_file():
        texts += [page["articleBody"] for page in json.loads(truth.read_text(encoding="utf-8")).values()]
    texts += ["", "   ", "1990", "Ünïcode words, rare-wordsthatnobodyknows and 1990s numbers – “quoted” don’t", "a " * 2000]
    return texts


def check(ours: Any, theirs: Any) -> bool:
    same = ours.version == theirs.version
    print(f"model versions: ours {ours.version}, baseline {theirs.version}")
    texts = check_texts()
    compared = differ = 0
    for language in ("en", "de", None):
        for text in texts:
            a, b = ours.predict(text, language), theirs.predict(text, language)
            compared += 1
            if (a.scores, a.uncertain, a.terms) != (b.scores, b.uncertain, b.terms):
                differ += 1
                if differ <= 5:
                    print(f"  differs ({language}): {text[:80]!r}\n    ours {a}\n    base {b}")
    print(f"predictions compared: {compared} ({len(texts)} texts x en/de/none), {differ} differ")
    # Again with a small cache of unknown words (restarted many times on the way).
    from tasks.classification import topics

    cached, topics.UNKNOWN_WORDS_CACHED = topics.UNKNOWN_WORDS_CACHED, 500
    try:
        small = TopicModel.load()
        restarted = sum((small.predict(t, "en").scores, small.predict(t, "en").terms)
                        != (theirs.predict(t, "en").scores, theirs.predict(t, "en").terms) for t in texts[:3000])
    finally:
        topics.UNKNOWN_WORDS_CACHED = cached
    print(f"with a cache of 500 unknown words: 3000 texts, {restarted} differ")
    return same and not differ and not restarted


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--baseline", default="main", help="git ref of the code to compare with (default: main)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--check", action="store_true", help="compare every prediction instead of timing")
    args = parser.parse_args()
    ours, theirs = TopicModel.load(), baseline_model(args.baseline)
    if args.check:
        sys.exit(0 if check(ours, theirs) else 1)
    articles = speed_articles()
    rate(ours, articles)  # warm-up: the unknown-word caches, numpy's first calls
    rate(theirs, articles)
    measured: dict[str, list[float]] = {"ours": [], "baseline": []}
    for _ in range(args.rounds):
        for name, value in interleaved({"ours": ours, "baseline": theirs}, articles).items():
            measured[name].append(value)
    o, b = statistics.median(measured["ours"]), statistics.median(measured["baseline"])
    print(f"{len(articles)} full BBC articles, predict(text, 'en') one per call, per CPU-second, median (best) of {args.rounds}:")
    print(f"  ours              : {o:,.0f} ({max(measured['ours']):,.0f})")
    print(f"  baseline {args.baseline:9}: {b:,.0f} ({max(measured['baseline']):,.0f})")
    print(f"  ratio ours / baseline: {o / b:.3f}  (per round: "
          + " ".join(f"{x / y:.2f}" for x, y in zip(measured["ours"], measured["baseline"], strict=True)) + ")")


if __name__ == "__main__":
    main()
