"""Whether tasks/cleaning/second_opinion.FastDocument reads every page as stock readability-lxml
does: its lines against the stock Document's (same tree from copydesk's parser, summary parsed
back and read by the same summary_lines), on every page of the six extraction sets, with the
CPU time of each and of trafilatura's readability port (what the tail trim used before).

    nice -n 10 .venv/bin/python bench/experiments/second_opinion_identity.py [--step N]
"""

import argparse
import sys
import time
from copy import deepcopy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "experiments"))

from _extraction_data import SETS, load_set  # noqa: E402
from lxml import html as lxml_html  # noqa: E402
from readability import Document  # noqa: E402

from tail_agreement import reference  # noqa: E402
from tasks.cleaning.markup import parse_html  # noqa: E402
from tasks.cleaning.second_opinion import readability_lines, summary_lines  # noqa: E402


def stock(html):
    try:
        return summary_lines(lxml_html.fromstring(Document(parse_html(html)).summary(html_partial=True)))
    except Exception:
        return []


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--step", type=int, default=1, help="every Nth page of each set")
    args = parser.parse_args()
    same = total = retries = 0
    seconds = {"stock": 0.0, "fast": 0.0, "port (with its copy)": 0.0}
    differ = []
    for set_name in SETS:
        for page in load_set(set_name)[:: args.step]:
            if parse_html(page.html) is None:
                continue
            total += 1
            started = time.process_time()
            expected = stock(page.html)
            seconds["stock"] += time.process_time() - started
            tree = parse_html(page.html)
            calls = []

            def reparse(html=page.html, calls=calls):
                calls.append(1)
                return parse_html(html)

            started = time.process_time()
            got = readability_lines(tree, reparse)
            seconds["fast"] += time.process_time() - started
            retries += bool(calls)
            tree = parse_html(page.html)
            started = time.process_time()
            reference(deepcopy(tree))
            seconds["port (with its copy)"] += time.process_time() - started
            if got == expected:
                same += 1
            else:
                differ.append(f"{set_name}/{page.id}")
    print(f"FastDocument's lines identical to readability-lxml's on {same} of {total} pages; retries on {retries}")
    if differ:
        print("differ:", " ".join(differ[:30]))
    for name, value in seconds.items():
        print(f"{name:<22} {value * 1000 / total:7.2f} ms a page (CPU)")


if __name__ == "__main__":
    main()
