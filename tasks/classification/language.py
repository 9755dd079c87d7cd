"""Language of a text: ISO 639-1 code and a confidence in 0..1, from py3langid's shipped model.

py3langid (langid.py's model, 140 languages, shipped inside the wheel: nothing is downloaded)
with `norm_probs=True`, which turns its naive-Bayes log-scores into a softmax whose temperature
grows with the text's length, so the score reads as a probability. Restricted to the languages
that have an ISO 639-1 code: the record promises one, and codes like `pcm` (Nigerian Pidgin) were
what short English texts were most often mistaken for (see bench/classify.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

#: Enough text for a sure answer (200, 300, 400 and 600 characters scored alike on every set of
#: bench/classify.py); the detector walks its automaton in Python, about a microsecond a byte.
DETECT_CHARS = 400
UNDETERMINED = "und"
#: Minimum evidence: a text of fewer than SHORT_TEXT_LETTERS letters is given a language only
#: when the detector is at least MIN_SHORT_SCORE sure. One or two words are too little for an
#: n-gram model: "Hello." came out Breton at 0.06, "Ok" Ganda at 0.06, "Merci" Polish at 0.02,
#: while short sentences it knows score high ("Thank you very much." en 0.97, "Bonjour à tous."
#: fr 0.95). Longer texts keep the detector's answer whatever its score.
SHORT_TEXT_LETTERS = 40
MIN_SHORT_SCORE = 0.5

_identifier = None
_lock = threading.Lock()


@dataclass(frozen=True)
class Language:
    code: str
    score: float

    def as_dict(self) -> dict:
        return {"code": self.code, "score": round(self.score, 4)}


def _get_identifier():
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages([code for code in identifier.labels if len(code) == 2])
            # set_languages keeps a column subset in Fortran order; scoring gathers rows of it
            # (one per n-gram of the text), which is ~15x faster from a C-ordered copy. The model
            # ships float16, and numpy converts the gathered rows to float32 in software for
            # every text (~80 us of ~300); one float32 copy (46 MB instead of 23, loaded before
            # the worker forks, so its children share it) takes that off every article.
            identifier.nb_ptc = np.ascontiguousarray(identifier.nb_ptc, dtype=np.float32)
            identifier.nb_pc = np.asarray(identifier.nb_pc, dtype=np.float32)
            _identifier = identifier
        return _identifier


def detect(text: str, limit: int = DETECT_CHARS) -> Language:
    sample = text[:limit].strip()
    letters = sum(ch.isalpha() for ch in sample)
    if not letters:
        return Language(UNDETERMINED, 0.0)
    code, score = _get_identifier().classify(sample)
    if letters < SHORT_TEXT_LETTERS and score < MIN_SHORT_SCORE:
        return Language(UNDETERMINED, float(score))
    return Language(code, float(score))
