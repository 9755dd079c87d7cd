"""The HTML cleaner's whole output on every page of the six extraction sets, ours beside the
cleaner at a git ref: paragraphs, metadata, the removed blocks, or the BadInput reason.

Run:  .venv/bin/python bench/clean_check.py [--baseline GIT_REF] [--sets a,b] [--limit N]

bench/clean.py --save compares the text only; this compares everything clean_document returns
(the clean stage's record is made from it), for changes meant to leave the output as it was.
The baseline is loaded as bench/clean.py --baseline loads it (git archive into
copydesk_baseline). Exits 1 when any page differs.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _extraction_data import SETS, load_set  # noqa: E402
from clean import baseline_package  # noqa: E402

from tasks.article import BadInput  # noqa: E402
from tasks.cleaning import clean_document  # noqa: E402


def outcome(clean: Any, bad_input: type[Exception], html: str) -> Any:
    try:
        result = clean(html, "html")
    except bad_input as exc:
        return ("BadInput", getattr(exc, "reason", None), str(exc))
    return (result.paragraphs, asdict(result.metadata), result.removed)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--baseline", default="main", help="git ref of the cleaner to compare with (default: main)")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages of each set")
    args = parser.parse_args()
    package = baseline_package(args.baseline)
    theirs, their_bad_input = package["cleaning"].clean_document, package["article"].BadInput
    pages = differ = 0
    for set_name in args.sets.split(","):
        loaded = load_set(set_name)
        for page in loaded[: args.limit] if args.limit else loaded:
            pages += 1
            ours = outcome(clean_document, BadInput, page.html)
            base = outcome(theirs, their_bad_input, page.html)
            if ours != base:
                differ += 1
                print(f"differs: {set_name}/{page.id}")
    print(f"{pages} pages: {differ} differ from the cleaner at {args.baseline} (paragraphs, metadata, removed blocks, BadInput reasons)")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
