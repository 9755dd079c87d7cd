"""Text → the list of feature strings the topic model weighs (shared by training and inference).

Features: lower-cased word unigrams and bigrams over the first MAX_WORDS words, plus 5-letter
prefix "stems" of longer words (a cheap stand-in for a stemmer that also helps German compounds
and inflections). Every digit reads "0". Training and inference must call the same function,
so the vocabulary, the idf and the model stay in step.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Sequence

#: The lead of an article carries its topic; capping keeps inference fast on very long texts.
MAX_CHARS = 4000
MAX_WORDS = 600
STEM_LENGTH = 5
STEM_MARK = "~"

# Words are what is left between punctuation, symbols and spaces; every digit reads "0" (so a
# year is "0000" and a score "0"). The work is done in C: a few str.replace calls for non-ASCII
# separators, then bytes.translate and bytes.split on the UTF-8 text (several times faster than
# a regex tokeniser; the stage must do thousands of articles a second). Only ASCII bytes are
# mapped or split on, so multi-byte characters always stay whole.
NON_ASCII_SEPARATORS = (
    "’ʼ“”‘«»‹›„‚–—―…·•¡¿£€¥¢§©®°±×÷¬¦¶†‡‰′″№™→←"
    "\u00a0\u0085\u200b\u2028\u2029\u3000、。，：；！？（）「」『』【】"
)
ASCII_TABLE = bytes.maketrans(
    (string.punctuation + string.digits).encode(), (" " * len(string.punctuation) + "0" * 10).encode()
)
#: ASCII_TABLE that also lower-cases: for an ASCII text, the same bytes as str.lower() then
#: ASCII_TABLE, without the str.lower() pass.
ASCII_LOWER_TABLE = bytes.maketrans(
    (string.punctuation + string.digits + string.ascii_uppercase).encode(),
    (" " * len(string.punctuation) + "0" * 10 + string.ascii_lowercase).encode(),
)

# AG News keeps escapes of its source feeds: "#39;" (apostrophe), " quot;", "&lt;b&gt;", and a
# literal backslash for a line break. Real cleaned articles have none of these; removing them
# keeps the artefacts from becoming "words".
FEED_QUIRKS_RE = re.compile(r"&lt;.*?&gt;|#39;|&#\d+;|\bquot;|&\w+;|\\+")


def normalise(text: str) -> str:
    if "&" in text or "#39;" in text or "quot;" in text or "\\" in text:
        text = FEED_QUIRKS_RE.sub(lambda m: "'" if m.group(0) in ("#39;", "&#39;") else " ", text)
        text = html.unescape(text)
    return text


def word_bytes(text: str) -> list[bytes]:
    """Lower-cased words (UTF-8) of the first MAX_CHARS characters, at most MAX_WORDS of them."""
    text = normalise(text[:MAX_CHARS])
    if text.isascii():
        return text.encode().translate(ASCII_LOWER_TABLE).split()[:MAX_WORDS]
    text = text.lower()
    if not text.isascii():
        for separator in NON_ASCII_SEPARATORS:
            if separator in text:
                text = text.replace(separator, " ")
    return text.encode("utf-8", "replace").translate(ASCII_TABLE).split()[:MAX_WORDS]


def words(text: str) -> list[str]:
    return [word.decode() for word in word_bytes(text)]


def features(text: str) -> list[str]:
    return features_of_words(words(text))


def features_of_words(tokens: list[str]) -> list[str]:
    out = list(tokens)
    out.extend([first + " " + second for first, second in zip(tokens, tokens[1:], strict=False)])
    out.extend([STEM_MARK + token[:STEM_LENGTH] for token in tokens if len(token) > STEM_LENGTH])
    return out


def lead(text: str, n_words: int) -> str:
    """The first n_words whitespace-separated words of a text: the headline and lead a feed gives."""
    return " ".join(text.split()[:n_words])


def document(title: str | None, text: str) -> str:
    """The text the model reads: the title (when the body does not already start with it), then the body."""
    title = (title or "").strip()
    if title and not text.lstrip().startswith(title):
        return title + "\n\n" + text
    return text


def display_term(feature: str, tokens: Sequence[bytes] = (), joined: bytes | None = None) -> str:
    """How a feature reads in an explanation: a stem as the article's first word that has it.

    joined is b" " + b" ".join(tokens) + b" " when the caller has it: one bytes.find in C instead
    of a startswith call per word.
    """
    if not feature.startswith(STEM_MARK):
        return feature
    stem = feature[len(STEM_MARK):]
    if joined is None:
        joined = b" " + b" ".join(tokens) + b" "
    needle = b" " + stem.encode()
    position = joined.find(needle)
    while position >= 0:
        end = joined.index(b" ", position + 1)
        if end > position + len(needle):  # a longer word than the stem itself
            return joined[position + 1:end].decode()
        position = joined.find(needle, end)
    return stem + "*"
