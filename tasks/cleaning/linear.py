"""Patterns on untrusted text run on RE2 (google-re2): time linear in the input, whatever the pattern.

Python's `re` backtracks; a pattern with nested or overlapping quantifiers (the old dateline
pattern `(...\\W*|\\W+)+$`) takes exponential time on a line of punctuation. RE2 has no
backtracking, so every pattern compiled here runs in time linear in the text.

RE2's `\\w`, `\\W` and `\\b` are ASCII-only while Python's are Unicode: `compile_linear` rewrites
`\\w`/`\\W` as Unicode letter/number classes so non-English text matches as before (`\\b` stays
ASCII: a boundary between an ASCII and a non-ASCII letter counts as one, which the phrase
patterns tolerate). Lookarounds and backreferences are not available (RE2 refuses them).

Callers also bound the text before a pattern runs (each judgement has a length limit), so even
a linear pattern never scans more than a few kilobytes of one line.
"""

from __future__ import annotations

from typing import Any

import re2

WORD_CLASS = r"\pL\pN\pM_"


def translate(pattern: str) -> str:
    """Python-flavoured pattern -> RE2 pattern with Unicode `\\w` and `\\W`."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt == "w":
                out.append(WORD_CLASS if in_class else f"[{WORD_CLASS}]")
            elif nxt == "W":
                if in_class:
                    raise ValueError("\\W inside a character class has no RE2 translation")
                out.append(f"[^{WORD_CLASS}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
            out.append(ch)
            # "[]" and "[^]" at the start of a class are literal brackets.
            if pattern[i + 1 : i + 3] == "^]":
                out.append("^]")
                i += 3
                continue
            if pattern[i + 1 : i + 2] == "]":
                out.append("]")
                i += 2
                continue
        elif ch == "]" and in_class:
            in_class = False
            out.append(ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def compile_linear(pattern: str | bytes, ignore_case: bool = False) -> Any:
    """An RE2 regex (search/match/finditer/sub like `re`) for a Python-flavoured pattern; a
    bytes pattern (searched over bytes) is taken as it is, with no `\\w` to rewrite in it."""
    options = re2.Options()
    options.case_sensitive = not ignore_case
    # Large alternations of bounded repeats need more than the 8 MB default to stay on the DFA.
    options.max_mem = 64 << 20
    # When the DFA's budget runs out RE2 falls back to its (still linear) NFA: not worth a log line.
    options.log_errors = False
    return re2.compile(pattern if isinstance(pattern, bytes) else translate(pattern), options)
