"""Decode: bytes → text, with the kind of document (html, xml, text) and its charset.

Charset comes from a byte-order mark, the XML declaration or an HTML <meta charset>, then
strict UTF-8, then charset-normalizer's detection. Inputs that are empty, binary, undecodable
or carry XML entity declarations are rejected here with BadInput, before any parser sees them.

- gzip (an article stored with `Content-Encoding: gzip`, which S3 hands back compressed) is
  inflated first, at most MAX_INFLATED_BYTES: a gzip bomb is refused (`too_large`) after
  inflating that much, never more.
- A declared UTF-16 or UTF-32 without a byte-order mark is read as UTF-8 (the HTML standard's
  rule: a declaration found by reading the bytes as ASCII cannot be right about UTF-16).
- NUL bytes anywhere (not only in the first 8 KiB) count as control characters; the few left
  in text that passes are removed.
- Entity declarations and internal DTD subsets are refused wherever they are in the document,
  found in linear time.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import zlib

import charset_normalizer

from ..article import Article, BadInput
from ..cleaning.linear import compile_linear
from ..stage import Stage

#: Signatures of common binary formats that people drop into buckets by mistake.
BINARY_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "PNG image",
    b"\xff\xd8\xff": "JPEG image",
    b"GIF87a": "GIF image",
    b"GIF89a": "GIF image",
    b"%PDF-": "PDF document",
    b"PK\x03\x04": "ZIP archive (or an Office document)",
    b"\x1f\x8b": "gzip data",
    b"BZh": "bzip2 data",
    b"\xfd7zXZ\x00": "xz data",
    b"\x7fELF": "ELF executable",
    b"RIFF": "RIFF media",
    b"OggS": "Ogg media",
    b"ID3": "MP3 audio",
    b"\x00\x00\x00\x18ftyp": "MP4 video",
    b"\x00\x00\x00\x20ftyp": "MP4 video",
    b"SQLite format 3\x00": "SQLite database",
}

BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

XML_DECL_RE = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
# On RE2 like every pattern that searches untrusted text (tasks/cleaning/linear.py): with `re`,
# the lazy `[^>]+?` made a head of repeated "<meta " quadratic.
META_CHARSET_RE = compile_linear(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", ignore_case=True)
ENTITY_DECL_RE = re.compile(r"<!ENTITY", re.IGNORECASE)
HTML_SNIFF_RE = re.compile(
    r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<article[\s>]|<p[\s>]|<div[\s>]|<meta\s|<title>",
    re.IGNORECASE,
)
# On RE2: with `re`, `(?:<!--.*?-->\s*)*` could split a run of comments in exponentially many
# ways before failing, and 4 KB of "<!---->" followed by "!" never finished.
XML_ROOT_RE = compile_linear(r"(?s)^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*(?:<!DOCTYPE[^>]*>\s*)?<([A-Za-z_][\w.:-]*)")

#: Largest gzip-compressed input inflated (the default COPYDESK_MAX_BYTES): beyond, a bomb.
MAX_INFLATED_BYTES = 20 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
#: Declared charsets that cannot be right when the declaration itself reads as ASCII.
ASCII_INCOMPATIBLE = {"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"}

#: Share of control characters (other than whitespace) above which decoded text is binary.
MAX_CONTROL_SHARE = 0.02
#: Control characters other than tab, newline, CR, form feed and vertical tab (code points < 32).
CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f]")
#: Highest "chaos" (charset-normalizer's measure of mess) accepted from detection; real text in
#: the right legacy charset scores near 0, bytes forced through the wrong one well above this.
MAX_DETECTED_CHAOS = 0.1
#: Share of bytes that may be invalid in a declared charset before we stop trusting it.
MAX_INVALID_SHARE = 0.01


class Decode(Stage):
    name = "decode"
    version = "1"

    def action(self, article: Article) -> None:
        raw = article.raw
        article.source.size = len(raw)
        article.source.sha256 = hashlib.sha256(raw).hexdigest()
        if not raw.strip():
            raise BadInput("empty", "the object is empty or only whitespace")
        if raw.startswith(GZIP_MAGIC):
            raw = gunzip(raw)
            if not raw.strip():
                raise BadInput("empty", "the object inflates to nothing or only whitespace")
        kind = sniff_binary(raw)
        if kind:
            raise BadInput("binary", f"the object is binary ({kind}), not an article")
        text, encoding = decode_bytes(raw)
        check_text(text)
        if "\x00" in text:
            text = text.replace("\x00", "")  # a few, under the control-character share: dropped
        article.encoding = encoding
        article.media_type = sniff_media_type(text)
        if article.media_type in ("xml", "html") and (ENTITY_DECL_RE.search(text) or has_internal_subset(text)):
            raise BadInput(
                "entity_declaration",
                "the document declares entities or an internal DTD subset; copydesk never expands them",
            )
        article.content = text


def gunzip(raw: bytes, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """Inflate gzip data (every member), never more than `limit` bytes."""
    out = bytearray()
    data = raw
    while data:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(data, limit + 1 - len(out))
        except zlib.error as exc:
            raise BadInput("binary", f"gzip data that does not inflate: {exc}") from None
        if len(out) > limit:
            raise BadInput("too_large", f"gzip data inflates beyond {limit} bytes (a compression bomb?)")
        if not inflater.eof:
            if inflater.unconsumed_tail:
                raise BadInput("too_large", f"gzip data inflates beyond {limit} bytes (a compression bomb?)")
            raise BadInput("binary", "truncated gzip data")
        data = inflater.unused_data.lstrip(b"\x00")
        if data and not data.startswith(GZIP_MAGIC):
            raise BadInput("binary", "gzip data followed by other bytes")
    return bytes(out)


DOCTYPE_OPEN_RE = re.compile(r"<!DOCTYPE", re.IGNORECASE)


def has_internal_subset(text: str) -> bool:
    """A `<!DOCTYPE ... [` anywhere: for each doctype, is there a `[` before the next `>`?
    One forward pass (the positions only move forward), so linear in the text."""
    next_close = next_open = -1
    for match in DOCTYPE_OPEN_RE.finditer(text):
        start = match.end()
        if next_close < start:
            next_close = text.find(">", start)
            if next_close == -1:
                next_close = len(text)
        if next_open < start:
            next_open = text.find("[", start)
            if next_open == -1:
                next_open = len(text) + 1
        if next_open < next_close:
            return True
    return False


def sniff_binary(raw: bytes) -> str | None:
    for magic, kind in BINARY_MAGIC.items():
        if raw.startswith(magic):
            return kind
    head = raw[:8192]
    if any(head.startswith(bom) for bom, _ in BOMS):
        return None
    if b"\x00" in head:
        return "NUL bytes"
    return None


def declared_encoding(raw: bytes) -> str | None:
    head = raw[:4096]
    match = XML_DECL_RE.match(head) or META_CHARSET_RE.search(head)
    if not match:
        return None
    name = match.group(1).decode("ascii", "ignore").lower()
    try:
        found = codecs.lookup(name).name
    except LookupError:
        return None
    # Read as ASCII, the declaration proves the bytes are not UTF-16/32 (HTML standard,
    # "prescan": a UTF-16 declaration means UTF-8).
    return "utf-8" if found.replace("_", "-") in ASCII_INCOMPATIBLE else found


def decode_bytes(raw: bytes) -> tuple[str, str]:
    """Return (text, charset name); raise BadInput("undecodable") when no charset fits."""
    for bom, name in BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(name), name
            except UnicodeDecodeError as exc:
                raise BadInput("undecodable", f"byte-order mark says {name} but the bytes are not: {exc}") from None
    declared = declared_encoding(raw)
    if declared:
        try:
            return raw.decode(declared), declared
        except UnicodeDecodeError:
            # Pages often declare one charset and contain a few stray bytes of another:
            # tolerate a few, replaced; otherwise fall through to detection.
            text = raw.decode(declared, errors="replace")
            if text.count("\ufffd") <= MAX_INVALID_SHARE * len(raw):
                return text, declared
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(raw[: 1 << 20], threshold=MAX_DETECTED_CHAOS).best()
    if best is None:
        raise BadInput("undecodable", "no character set decodes this object as text")
    try:
        return raw.decode(best.encoding), best.encoding
    except (UnicodeDecodeError, LookupError) as exc:
        raise BadInput("undecodable", f"detected {best.encoding} but decoding failed: {exc}") from None


def check_text(text: str) -> None:
    """Control characters (NUL included) anywhere in the text, not only at its start."""
    control = CONTROL_RE.subn("", text)[1]  # counts without a list of matches
    if text and control / len(text) > MAX_CONTROL_SHARE:
        raise BadInput("binary", f"{control} control characters in {len(text)}: not text")
    if not text.strip():
        raise BadInput("empty", "the object decodes to whitespace only")


def sniff_media_type(text: str) -> str:
    head = text[:4096].lstrip("\ufeff \t\r\n")
    if head.startswith("<"):
        match = XML_ROOT_RE.match(head)
        root = match.group(1).lower() if match else ""
        if root == "html":
            return "html"
        if head.startswith("<?xml") or (root and ":" in root) or root in XML_ROOTS:
            return "xml"
    if HTML_SNIFF_RE.search(head):
        return "html"
    return "text"


#: Roots of XML news formats recognised even without an XML declaration.
XML_ROOTS = {"newsitem", "newsmessage", "nitf", "rss", "feed", "knowledgeitem", "packageitem"}
