"""User query → a safe SQLite FTS5 MATCH expression, plus any filters written inline.

What users of a news archive type: bare words (all must match), "quoted phrases", OR, AND,
NOT or a leading '-', parentheses, a trailing '*' for a prefix, `title:word` to search titles
only, and `topic:world` / `lang:en` / `since:2019-01-01` / `until:...` as inline filters.
Every word is passed to FTS5 quoted, so punctuation ("U.S.", "don't", "Kim-Jong") can never
become FTS5 syntax: the tokenizer turns a quoted token into the phrase of its parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Inline `name:value` filters and the filter each one sets.
FILTER_FIELDS = {"topic": "topic", "lang": "language", "language": "language", "since": "since", "until": "until"}
#: Inline `name:value` column restrictions and the FTS5 column each one names.
COLUMN_FIELDS = {"title": "title", "text": "text", "body": "text"}
OPERATORS = {"AND", "OR", "NOT"}

_TOKEN = re.compile(
    r"""
    (?P<lparen>\() | (?P<rparen>\)) |
    (?P<field>[A-Za-z]+):(?=\S) |
    (?P<phrase>-?"[^"]*"?) |
    (?P<word>[^\s()"]+)
    """,
    re.VERBOSE,
)
_HAS_WORD_CHAR = re.compile(r"\w")


@dataclass
class ParsedQuery:
    #: FTS5 expression, or "" when the query has no text part (filters only).
    match: str
    filters: dict[str, str] = field(default_factory=dict)
    #: The plain words and phrases, for callers that highlight without FTS5.
    terms: list[str] = field(default_factory=list)
    #: Each FTS5 phrase of `match`, in order, as a query of its own (with its column filter):
    #: what global BM25 statistics are counted for.
    phrases: list[str] = field(default_factory=list)


class _Parser:
    def __init__(self, text: str):
        self.tokens: list[tuple[str, str]] = []
        self.filters: dict[str, str] = {}
        self.terms: list[str] = []
        self.phrases: list[str] = []
        self.column: str | None = None
        self._lex(text)
        self.pos = 0

    def _lex(self, text: str) -> None:
        pending_field: str | None = None
        for m in _TOKEN.finditer(text):
            kind = m.lastgroup or ""
            value = m.group(kind)
            if kind == "field":
                pending_field = value.lower()
                continue
            if pending_field is not None:
                name, pending_field = pending_field, None
                if name in FILTER_FIELDS and kind in ("word", "phrase"):
                    self.filters[FILTER_FIELDS[name]] = value.strip('"').strip()
                    continue
                if name in COLUMN_FIELDS and kind in ("word", "phrase"):
                    self.tokens.append(("column", COLUMN_FIELDS[name]))
                else:
                    # Unknown field: search the words as typed, "a:b" → a b.
                    self.tokens.append(("word", name))
            if kind == "word" and value in OPERATORS:
                self.tokens.append(("op", value))
            else:
                self.tokens.append((kind, value))

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    # or_expr := and_expr (OR and_expr)*
    def or_expr(self) -> str:
        parts = [self.and_expr()]
        while self.peek() == ("op", "OR"):
            self.take()
            parts.append(self.and_expr())
        parts = [p for p in parts if p]
        if len(parts) > 1:
            return "(" + " OR ".join(parts) + ")"
        return parts[0] if parts else ""

    # and_expr := unary ((AND)? unary)*, where unary may be negated by NOT or '-'
    def and_expr(self) -> str:
        positive: list[str] = []
        negative: list[str] = []
        phrases_before = len(self.phrases)
        while True:
            token = self.peek()
            if token is None or token == ("op", "OR") or token[0] == "rparen":
                break
            if token == ("op", "AND"):
                self.take()
                continue
            negate = False
            if token == ("op", "NOT"):
                self.take()
                negate = True
            elif token[0] in ("word", "phrase") and token[1].startswith("-") and len(token[1]) > 1:
                kind, value = self.take()
                self.tokens.insert(self.pos, (kind, value[1:]))
                negate = True
            expr = self.primary()
            if expr:
                (negative if negate else positive).append(expr)
        if not positive:
            del self.phrases[phrases_before:]  # dropped from the expression: not phrases of it
            return ""  # FTS5's NOT is binary: "-word" alone cannot be searched
        expr = positive[0] if len(positive) == 1 else "(" + " AND ".join(positive) + ")"
        for neg in negative:
            expr = f"({expr} NOT {neg})"
        return expr

    def primary(self) -> str:
        if self.peek() is None:
            return ""
        kind, value = self.take()
        if kind == "lparen":
            expr = self.or_expr()
            following = self.peek()
            if following is not None and following[0] == "rparen":
                self.take()
            return f"({expr})" if expr else ""
        if kind == "rparen" or kind == "op":
            return ""
        if kind == "column":
            outer, self.column = self.column, value
            try:
                inner = self.primary()
            finally:
                self.column = outer
            return f"{value} : {inner}" if inner else ""
        if kind == "phrase":
            words = value.strip('"').strip()
            if not _HAS_WORD_CHAR.search(words):
                return ""
            self.terms.append(words)
            return self._phrase(_quote(words))
        # A bare word, perhaps with a trailing '*' for a prefix search.
        prefix = value.endswith("*") and len(value) > 1
        word = value.rstrip("*") if prefix else value
        if not _HAS_WORD_CHAR.search(word):
            return ""
        self.terms.append(word)
        return self._phrase(_quote(word) + ("*" if prefix else ""))

    def _phrase(self, expr: str) -> str:
        self.phrases.append(f"{self.column} : {expr}" if self.column else expr)
        return expr


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def parse_query(text: str) -> ParsedQuery:
    parser = _Parser(text or "")
    parts = []
    while parser.peek() is not None:
        before = parser.pos
        expr = parser.or_expr()
        if expr:
            parts.append(expr)
        if parser.pos == before:  # a stray ')' or operator: skip it
            parser.take()
    match = parts[0] if len(parts) == 1 else " AND ".join(f"({p})" for p in parts)
    return ParsedQuery(match=match, filters=parser.filters, terms=parser.terms, phrases=parser.phrases)
