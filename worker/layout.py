"""Where everything lives in the bucket, derived from an input key.

For an input `incoming/R`: the record `processed/R.json`, the lineage log `logs/R.jsonl`, the
quarantine record `quarantine/R.json`, and the index document, named `index/docs/R.json` but
stored only in its pending markers `index/pending/~SS/R.json~T-N` (worker/search/indexer.py).
Outputs never land under the input prefix, so writing them cannot trigger another event.

Some legal S3 keys cannot be stored under that scheme: a `.` or `..` segment (the local store
and most tools would resolve it), a trailing `/` on an object with content, or a key so long
that a derived output key (prefix + R + suffix, the index's pending marker being the longest)
would pass S3's 1,024-byte limit. For such an input every output key uses
`_bad-keys/<sha256 of the key>` in place of R; the job quarantines it without reading it
(reason `bad_key`), and the quarantine record names the original key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property, lru_cache

from .settings import Settings
from .storage import InvalidKey, validate_key

#: S3's limit on a key, in UTF-8 bytes.
MAX_KEY_BYTES = 1024
#: Bytes the longest derived key adds besides its prefix and R: the index's pending marker
#: (`pending/` + shard folder + `.json` + separator + 29 characters of time and randomness)
#: with room to spare.
DERIVED_KEY_RESERVE = 64
#: Where outputs of inputs whose key cannot be stored as given go (under each output prefix).
BAD_KEYS_DIR = "_bad-keys/"


@dataclass(frozen=True)
class Layout:
    input_prefix: str
    processed_prefix: str
    logs_prefix: str
    quarantine_prefix: str
    index_prefix: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Layout:
        return cls(
            settings.input_prefix,
            settings.processed_prefix,
            settings.logs_prefix,
            settings.quarantine_prefix,
            settings.index_prefix,
        )

    def is_input(self, key: str) -> bool:
        """Under the input prefix (a key ending in `/` counts: with content it is quarantined;
        an empty one is a folder marker, which the dispatcher ignores)."""
        return isinstance(key, str) and key.startswith(self.input_prefix) and len(key) > len(self.input_prefix)

    def key_problem(self, key: str) -> str | None:
        """Why the input `key` cannot be stored as given (None when it can)."""
        if key.endswith("/"):
            return "key ends with '/' (an object with content where a folder would be)"
        try:
            validate_key(key)
        except InvalidKey as exc:
            return str(exc)
        relative = key[len(self.input_prefix):]
        room = self._room
        if len(relative.encode("utf-8", "surrogatepass")) > room:
            return f"key too long for its output keys: the part after the input prefix may have at most {room} bytes"
        return None

    @cached_property
    def _room(self) -> int:
        """Bytes left for R in the longest derived key (computed once per layout)."""
        longest = max(len(p.encode()) for p in (self.processed_prefix, self.logs_prefix, self.quarantine_prefix))
        longest = max(longest, len(self.index_prefix.encode()) + len("pending/"))
        return MAX_KEY_BYTES - longest - DERIVED_KEY_RESERVE

    def relative(self, key: str) -> str:
        """R for an input key `incoming/R`, or `_bad-keys/<sha256>` when the key cannot be
        stored as given (see key_problem)."""
        if not isinstance(key, str):
            raise InvalidKey(f"{key!r} is not under the input prefix {self.input_prefix!r}")
        return _relative(self, key)

    def input_key(self, relative: str) -> str:
        return validate_key(self.input_prefix + relative)

    def record_key(self, key: str) -> str:
        return f"{self.processed_prefix}{self.relative(key)}.json"

    def log_key(self, key: str) -> str:
        return f"{self.logs_prefix}{self.relative(key)}.jsonl"

    def quarantine_key(self, key: str) -> str:
        return f"{self.quarantine_prefix}{self.relative(key)}.json"

    def index_document_key(self, key: str) -> str:
        """The index document's name: what its pending markers are derived from (an object of
        that key exists only in buckets written before issue 15)."""
        return f"{self.index_prefix}docs/{self.relative(key)}.json"

    def input_key_for_record(self, record_key: str) -> str:
        if not (record_key.startswith(self.processed_prefix) and record_key.endswith(".json")):
            raise InvalidKey(f"{record_key!r} is not a record key")
        return self.input_prefix + record_key[len(self.processed_prefix): -len(".json")]


@lru_cache(maxsize=4096)
def _relative(layout: Layout, key: str) -> str:
    """Layout.relative, remembered: a job derives four or five output keys from one input key
    (each a key_problem check, issue 15)."""
    if not layout.is_input(key):
        raise InvalidKey(f"{key!r} is not under the input prefix {layout.input_prefix!r}")
    if layout.key_problem(key) is not None:
        return BAD_KEYS_DIR + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key[len(layout.input_prefix):]
