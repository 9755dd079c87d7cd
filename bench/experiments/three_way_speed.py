"""What reading the second encoder's table (USE multilingual, 128d) for English articles too would cost
(HISTORY: "Both tables for English, measured and not kept"; issue 14): the shipped predict(text, "en") on BBC's
test articles, and apart from it the extra work a three-way blend adds per article (the second table's int16
gather and integer sum, the 7 x 128 product, a softmax; the words' slot rows are the ones predict already looks
up). CPU time of this process, one article per call, median of 7 rounds.

    nice -n 10 .venv/bin/python bench/experiments/three_way_speed.py
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tasks.classification import labels as data  # noqa: E402
from tasks.classification.features import word_bytes  # noqa: E402
from tasks.classification.topics import load_model  # noqa: E402


def main() -> None:
    model = load_model()
    texts = [text for text, _ in data.bbc_news("test")]
    second = model.second_encoder
    assert second is not None
    column = model._encoder_column[id(second)]
    found = [model._rows_of(word_bytes(text))[:, column] for text in texts]
    shipped, extra = [], []
    for _ in range(7):
        started = time.process_time()
        for text in texts:
            model.predict(text, "en")
        shipped.append(time.process_time() - started)
        started = time.process_time()
        for rows in found:
            second.probabilities_of(rows)
        extra.append(time.process_time() - started)
    n, a, b = len(texts), statistics.median(shipped), statistics.median(extra)
    print(
        f"{n} BBC test articles: shipped predict(text, 'en') {n / a:,.0f} per CPU-second; the second table's part "
        f"{b / n * 1e6:.1f} us per article; both: {n / (a + b):,.0f} per CPU-second ({a / (a + b):.2f}x)"
    )


if __name__ == "__main__":
    main()
