"""Decode: bytes → text, with the kind of document (html, xml, text) and its charset.

Charset comes from a byte-order mark, the XML declaration or an HTML <meta charset>, then
strict UTF-8, then charset-normalizer's detection. Inputs that are empty, binary, undecodable
or carry XML entity declarations are rejected here with BadInput, before any parser sees them.
"""

from __future__ import annotations

import codecs
import hashlib
import re

import charset_normalizer

from ..article import Article, BadInput
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
META_CHARSET_RE = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE
)
ENTITY_DECL_RE = re.compile(r"<!ENTITY", re.IGNORECASE)
DOCTYPE_SUBSET_RE = re.compile(r"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)
HTML_SNIFF_RE = re.compile(
    r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<article[\s>]|<p[\s>]|<div[\s>]|<meta\s|<title>",
    re.IGNORECASE,
)
XML_ROOT_RE = re.compile(r"^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*(?:<!DOCTYPE[^>]*>\s*)?<([A-Za-z_][\w.:-]*)", re.DOTALL)

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
        kind = sniff_binary(raw)
        if kind:
            raise BadInput("binary", f"the object is binary ({kind}), not an article")
        text, encoding = decode_bytes(raw)
        check_text(text)
        article.encoding = encoding
        article.media_type = sniff_media_type(text)
        if article.media_type in ("xml", "html") and (
            ENTITY_DECL_RE.search(text[:65536]) or DOCTYPE_SUBSET_RE.search(text[:65536])
        ):
            raise BadInput(
                "entity_declaration",
                "the document declares entities or an internal DTD subset; copydesk never expands them",
            )
        article.content = text


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
        return codecs.lookup(name).name
    except LookupError:
        return None


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
    sample = text[:65536]
    control = len(CONTROL_RE.findall(sample))  # one C-level scan, not a Python loop per character
    if sample and control / len(sample) > MAX_CONTROL_SHARE:
        raise BadInput("binary", f"{control} control characters in the first {len(sample)}: not text")
    if not sample.strip():
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
