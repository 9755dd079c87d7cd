"""Text-level fusion of copydesk's output with readability-lxml's (not shipped: each lost macro F1).

Reads the outputs that `bench/clean.py --save FILE` wrote (same run, same pages) and scores, per
set: copydesk; readability-lxml; "union" (copydesk plus readability's lines of >= 10 words it
lacks); "inter" (copydesk's lines that readability also has); "tailtrim" (copydesk's lines after
the last one readability also has dropped, ungated: the shipped tail agreement is this, gated
leave-one-set-out, see tail_agreement.py); "headtrim" (the same before the first shared line);
"gapfill" (readability's lines missing from copydesk that sit between two shared lines added).
A line is shared when its words, lowercased, occur in a row in the other output.

    .venv/bin/python bench/clean.py --save /tmp/clean.json
    .venv/bin/python bench/experiments/text_fusion.py /tmp/clean.json
"""

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from _extraction_data import SETS, load_set, score, tokens  # noqa: E402


def norm(line):
    return " ".join(tokens(line)).lower()


def lines(text):
    return [line for line in text.splitlines() if norm(line)]


def shared(own, other_text):
    other = f" {norm(other_text)} "
    return [f" {norm(line)} " in other for line in own]


def union(a, r, min_words=10):
    have = f" {norm(a)} "
    extra = [line for line in lines(r) if f" {norm(line)} " not in have and len(tokens(line)) >= min_words]
    return "\n".join([a, *extra])


def inter(a, r):
    keep = [line for line, s in zip(lines(a), shared(lines(a), r), strict=True) if s]
    return "\n".join(keep) if len(" ".join(keep).split()) >= 5 else a


def tailtrim(a, r):
    own = lines(a)
    flags = shared(own, r) if norm(r) else []
    return "\n".join(own[: max(i for i, s in enumerate(flags) if s) + 1]) if any(flags) else a


def headtrim(a, r):
    own = lines(a)
    flags = shared(own, r) if norm(r) else []
    return "\n".join(own[min(i for i, s in enumerate(flags) if s) :]) if any(flags) else a


def gapfill(a, r, min_words=10):
    theirs = lines(r)
    flags = shared(theirs, a)
    if not any(flags):
        return a
    first = min(i for i, s in enumerate(flags) if s)
    last = max(i for i, s in enumerate(flags) if s)
    extra = [x for i, x in enumerate(theirs) if first < i < last and not flags[i] and len(tokens(x)) >= min_words]
    return "\n".join([a, *extra])


def main():
    saved = json.loads(Path(sys.argv[1]).read_text())
    pages, outputs = saved["pages"], saved["outputs"]
    truth = {(s, p.id): p.body for s in SETS for p in load_set(s)}
    ours, theirs = outputs["copydesk"], outputs["readability-lxml"]
    variants = {"copydesk": ours, "readability-lxml": theirs}
    for name, func in (("union", union), ("inter", inter), ("tailtrim", tailtrim), ("headtrim", headtrim),
                       ("gapfill", gapfill)):
        variants[name] = [func(a, r) for a, r in zip(ours, theirs, strict=True)]
    print(f"{'':<18}", " ".join(f"{s[:10]:>10}" for s in SETS), "     macro")
    for name, preds in variants.items():
        f1 = []
        for set_name in SETS:
            idx = [i for i, (s, _) in enumerate(pages) if s == set_name]
            f1.append(score([preds[i] for i in idx], [truth[tuple(pages[i])] for i in idx]).f1)
        print(f"{name:<18}", " ".join(f"{x:>10.4f}" for x in f1), f"{statistics.mean(f1):>10.4f}")


if __name__ == "__main__":
    main()
