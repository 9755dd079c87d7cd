"""Where everything lives in the bucket, derived from an input key.

For an input `incoming/R`: the record `processed/R.json`, the lineage log `logs/R.jsonl`, the
quarantine record `quarantine/R.json` and the index document `index/docs/R.json`. Outputs never
land under the input prefix, so writing them cannot trigger another event.
"""

from __future__ import annotations

from dataclasses import dataclass

from .settings import Settings
from .storage import InvalidKey, validate_key


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
        return key.startswith(self.input_prefix) and len(key) > len(self.input_prefix) and not key.endswith("/")

    def relative(self, key: str) -> str:
        """R for an input key `incoming/R`."""
        validate_key(key)
        if not self.is_input(key):
            raise InvalidKey(f"{key!r} is not under the input prefix {self.input_prefix!r}")
        return key[len(self.input_prefix):]

    def input_key(self, relative: str) -> str:
        return validate_key(self.input_prefix + relative)

    def record_key(self, key: str) -> str:
        return f"{self.processed_prefix}{self.relative(key)}.json"

    def log_key(self, key: str) -> str:
        return f"{self.logs_prefix}{self.relative(key)}.jsonl"

    def quarantine_key(self, key: str) -> str:
        return f"{self.quarantine_prefix}{self.relative(key)}.json"

    def index_document_key(self, key: str) -> str:
        return f"{self.index_prefix}docs/{self.relative(key)}.json"

    def input_key_for_record(self, record_key: str) -> str:
        if not (record_key.startswith(self.processed_prefix) and record_key.endswith(".json")):
            raise InvalidKey(f"{record_key!r} is not a record key")
        return self.input_prefix + record_key[len(self.processed_prefix): -len(".json")]
