"""Store URLs: what `COPYDESK_STORE` may say, checked before anything is opened.

- `s3://BUCKET`: a bucket of S3 or any S3 API. The name must follow S3's naming rules. A path
  after the bucket (`s3://BUCKET/ROOT`) is refused rather than silently ignored.
- `file:///absolute/path`, `file://localhost/absolute/path`: a local folder.
- `file:relative/path`, `file:./path`, `file://./path`: a folder relative to the working
  directory (resolved when the settings are read).
- `memory://NAME`: an in-process store (tests).

A bare word such as `bucket` or `/data` is refused: the scheme says which kind of store is meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: S3's rules for bucket names: 3-63 characters, lowercase letters, digits, dots and hyphens,
#: starting and ending with a letter or digit.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")

HINT = "use s3://BUCKET, file:///absolute/path or file:relative/path"


@dataclass(frozen=True)
class StoreLocation:
    scheme: str  # "s3", "file" or "memory"
    name: str  # the bucket, the folder (absolute) or the memory store's name

    @property
    def url(self) -> str:
        if self.scheme == "file":
            return Path(self.name).as_uri()
        return f"{self.scheme}://{self.name}"


def parse_store_url(url: str, *, cwd: Path | None = None) -> StoreLocation:
    """The store `url` names; ValueError with the reason in words when it names none."""
    text = url.strip()
    if not text:
        raise ValueError(f"no store given: {HINT}")
    match = _SCHEME.match(text)
    if not match or len(match.group(1)) == 1:  # "C:" is a drive, not a scheme
        raise ValueError(f"{text!r} has no scheme: {HINT}")
    scheme = match.group(1).lower()
    rest = text[match.end():]
    if scheme == "s3":
        return StoreLocation("s3", _bucket(text, rest))
    if scheme == "file":
        return StoreLocation("file", str(_folder(rest, cwd or Path.cwd())))
    if scheme == "memory":
        return StoreLocation("memory", rest.removeprefix("//").strip("/") or "memory")
    raise ValueError(f"unsupported scheme {scheme!r} in {text!r}: {HINT}")


def normalise_store_url(url: str, *, cwd: Path | None = None) -> str:
    """`url` in canonical form: a relative folder made absolute, a trailing slash dropped."""
    return parse_store_url(url, cwd=cwd).url


def _bucket(text: str, rest: str) -> str:
    if not rest.startswith("//"):
        raise ValueError(f"{text!r}: write s3://BUCKET")
    parts = urlsplit("s3:" + rest)
    if parts.query or parts.fragment:
        raise ValueError(f"{text!r}: a store URL takes no query or fragment")
    bucket = parts.netloc
    if not bucket:
        raise ValueError(f"{text!r} names no bucket: write s3://BUCKET")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise ValueError(
            f"{bucket!r} is not a valid S3 bucket name (3-63 characters: lowercase letters, digits, dots, hyphens)"
        )
    root = parts.path.strip("/")
    if root:
        raise ValueError(
            f"{text!r}: a root folder inside the bucket ({root!r}) is not supported; "
            "give s3://BUCKET and set the COPYDESK_*_PREFIX variables instead"
        )
    return bucket


def _folder(rest: str, cwd: Path) -> Path:
    if rest.startswith("//"):
        authority_and_path = rest[2:]
        host, _, below = authority_and_path.partition("/")
        # file:///abs and file://localhost/abs are absolute; file://./data and
        # file://relative/dir are read as a relative folder, as written.
        path = "/" + below if host in ("", "localhost") else authority_and_path
    else:
        path = rest  # file:relative/dir, file:./dir, file:/abs
    path = unquote(path)
    if not path.strip("/") and not path.startswith("/"):
        raise ValueError(f"file:{rest} names no folder: {HINT}")
    folder = Path(path).expanduser()
    return (folder if folder.is_absolute() else cwd / folder).resolve()
