"""Text → the list of feature strings the topic model weighs (shared by training and inference).

Features: lower-cased word unigrams and bigrams over the first MAX_WORDS words, plus 5-letter
prefix "stems" of longer words (a cheap stand-in for a stemmer that also helps German compounds
and inflections). Numbers collapse to "0". Training and inference must call the same function,
so the vocabulary, the idf and the model stay in step.
"""

from __future__ import annotations

import html
import re

#: The lead of an article carries its topic; capping keeps inference fast on very long texts.
MAX_WORDS = 600
STEM_LENGTH = 5
STEM_MARK = "~"

WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
DIGITS_RE = re.compile(r"^\d+$")
# AG News keeps escapes of its source feeds: "#39;" (apostrophe), " quot;", "&lt;b&gt;", and a
# literal backslash for a line break. Real cleaned articles have none of these; removing them
# keeps the artefacts from becoming "words".
FEED_QUIRKS_RE = re.compile(r"&lt;.*?&gt;|#39;|&#\d+;|\bquot;|&\w+;|\\+")


def normalise(text: str) -> str:
    if "&" in text or "#39;" in text or "quot;" in text or "\\" in text:
        text = FEED_QUIRKS_RE.sub(lambda m: "'" if m.group(0) in ("#39;", "&#39;") else " ", text)
        text = html.unescape(text)
    return text


def words(text: str) -> list[str]:
    tokens = WORD_RE.findall(normalise(text).lower(), 0)[:MAX_WORDS]
    return ["0" if token.isdigit() else token for token in tokens]


def features(text: str) -> list[str]:
    return features_of_words(words(text))


def features_of_words(tokens: list[str]) -> list[str]:
    out = list(tokens)
    out.extend([first + " " + second for first, second in zip(tokens, tokens[1:])])
    out.extend([STEM_MARK + token[:STEM_LENGTH] for token in tokens if len(token) > STEM_LENGTH])
    return out


def document(title: str | None, text: str) -> str:
    """The text the model reads: the title (when the body does not already start with it), then the body."""
    title = (title or "").strip()
    if title and not text.lstrip().startswith(title):
        return title + "\n\n" + text
    return text


def display_term(feature: str, tokens: list[str] = ()) -> str:
    """How a feature reads in an explanation: a stem as the article's first word that has it."""
    if not feature.startswith(STEM_MARK):
        return feature
    stem = feature[len(STEM_MARK):]
    return next((token for token in tokens if len(token) > STEM_LENGTH and token.startswith(stem)), stem + "*")
