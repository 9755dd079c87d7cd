"""An independent checker for the bench: does a kept line belong to a known boilerplate kind?

Written apart from tasks/cleaning/boilerplate.py on purpose (the bench must not grade the
cleaner with its own rules): subscription, newsletter, paywall, share, app promotion, cookie,
copyright footer and layout-table rows. Only lines the ground truth lacks are counted.
"""

from __future__ import annotations

import re

KINDS = {
    "newsletter": r"newsletter|in your inbox|signing up",
    "subscription": r"subscri(be|ption)|\d+ issues for|per month|/month|renews automatically|cancel anytime",
    "paywall": r"free articles|unlimited access|already (a )?subscriber|log ?in to (read|continue)|\{\{",
    "share": r"^share\b|share (this|it with)|follow (us|me|him|her|@)|on twitter|on facebook",
    "app": r"\bapp\b.*(download|get)|(download|get).*\bapp\b|clicking here|click here",
    "cookie": r"cookie",
    "copyright": r"©|all rights reserved|^copyright\b",
    "table_nav": r"^\|.*\|.*\|$",
}
KIND_RES = {kind: re.compile(pattern, re.IGNORECASE) for kind, pattern in KINDS.items()}
TOKEN_RE = re.compile(r"\w+")


def kinds_of(line: str) -> list[str]:
    return [kind for kind, regex in KIND_RES.items() if regex.search(line)]


def surviving_boilerplate(predicted: str, truth: str) -> list[tuple[str, str]]:
    """(kind, line) for each predicted line of a boilerplate kind whose words the truth lacks."""
    truth_words = " " + " ".join(TOKEN_RE.findall(truth)) + " "
    found = []
    for line in predicted.splitlines():
        words = " ".join(TOKEN_RE.findall(line))
        if not words or f" {words} " in truth_words:
            continue
        for kind in kinds_of(line)[:1]:
            found.append((kind, line.strip()))
    return found
