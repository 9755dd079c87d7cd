"""Decode: charset and kind of document, and the inputs it refuses."""

from __future__ import annotations

import pytest

from tasks.article import Article, BadInput, Source
from tasks.stages.decode import Decode


def decode(raw: bytes) -> Article:
    article = Article(Source("b", "incoming/x"), raw)
    Decode().action(article)
    return article


def test_plain_text_utf8():
    a = decode("Zürich hält an der Schuldenbremse fest.\nZweiter Absatz.".encode())
    assert (a.media_type, a.encoding) == ("text", "utf-8")
    assert a.source.sha256 and a.source.size > 0


def test_html_declared_charset_wins_over_guessing():
    raw = '<html><head><meta charset="windows-1252"></head><body><p>Caf\xe9 cr\xe8me</p></body></html>'.encode("cp1252")
    a = decode(raw)
    assert a.media_type == "html" and a.encoding == "cp1252" and "Café crème" in a.content


def test_xml_declaration_and_bom():
    a = decode('<?xml version="1.0" encoding="ISO-8859-1"?><nitf><body><p>Gr\xfc\xdfe</p></body></nitf>'.encode("latin-1"))
    assert a.media_type == "xml" and "Grüße" in a.content
    b = decode("UTF-16 text with a byte-order mark, long enough to be text.".encode("utf-16"))
    assert b.media_type == "text" and b.content.startswith("UTF-16")


def test_undeclared_legacy_charset_is_detected():
    text = "Les négociations reprendront à Genève après l'été, a déclaré le ministre français. " * 5
    a = decode(text.encode("cp1252"))
    assert "négociations" in a.content


@pytest.mark.parametrize(
    "raw,reason",
    [
        (b"", "empty"),
        (b"  \n\t  ", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"%PDF-1.7\n...", "binary"),
        (b"some text\x00\x01\x02 with NULs", "binary"),
        (bytes(range(1, 32)) * 40, "binary"),
        (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>', "entity_declaration"),
        (b'<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><html><body>&xxe;</body></html>', "entity_declaration"),
    ],
)
def test_refused_inputs(raw, reason):
    with pytest.raises(BadInput) as info:
        decode(raw)
    assert info.value.reason == reason and info.value.message


def test_bytes_no_charset_decodes_are_undecodable():
    # Declared UTF-8 but mostly invalid sequences, and no legacy charset reads it as text.
    raw = b'<meta charset="utf-8">' + bytes([0xC3, 0x28, 0xA0, 0xA1, 0xE2, 0x28, 0xA1, 0xF0, 0x28, 0x8C, 0xBC, 0x81, 0x8D, 0x8F, 0x90, 0x9D]) * 64
    with pytest.raises(BadInput) as info:
        decode(raw)
    assert info.value.reason in ("undecodable", "binary")


# -- issue 11.9 --------------------------------------------------------------------------------
import gzip  # noqa: E402

from tasks.stages import decode as decode_module  # noqa: E402

ARTICLE_HTML = b"<html><head><title>Harbour</title></head><body><p>" + b"The council approved the budget. " * 40 + b"</p></body></html>"


def test_gzip_content_encoding_is_inflated():
    a = decode(gzip.compress(ARTICLE_HTML))
    assert a.media_type == "html" and "council approved" in a.content


def test_gzip_bomb_is_refused_after_the_cap(monkeypatch):
    monkeypatch.setattr(decode_module, "MAX_INFLATED_BYTES", 1 << 20)
    bomb = gzip.compress(b"\0" * (64 << 20))  # 64 MiB of zeros in ~64 KB
    assert len(bomb) < 100_000
    with pytest.raises(BadInput) as refused:
        decode(bomb)
    assert refused.value.reason == "too_large"


def test_truncated_or_corrupt_gzip_is_binary():
    data = gzip.compress(ARTICLE_HTML)
    for raw in (data[: len(data) // 2], data[:10] + b"\xff" * 50):
        with pytest.raises(BadInput) as refused:
            decode(raw)
        assert refused.value.reason == "binary"


@pytest.mark.parametrize("declared", ["utf-16", "UTF-16LE", "utf-16be", "utf-32"])
def test_meta_charset_utf16_on_an_ascii_page_is_utf8(declared):
    raw = f'<html><head><meta charset="{declared}"><title>Caf\u00e9</title></head><body><p>Plain text about the harbour.</p></body></html>'.encode()
    a = decode(raw)
    assert a.encoding == "utf-8" and "Plain text about the harbour." in a.content and "Caf\u00e9" in a.content


def test_nul_bytes_after_the_first_8k_are_removed_or_refused():
    few = b"A paragraph of news. " * 1000 + b"\x00" + b"More news." * 10
    a = decode(few)
    assert "\x00" not in a.content
    many = b"A paragraph of news. " * 1000 + b"\x00" * 5000
    with pytest.raises(BadInput) as refused:
        decode(many)
    assert refused.value.reason == "binary"


def test_entity_declarations_anywhere_are_refused():
    padding = b"<p>" + b"filler text " * 10_000 + b"</p>"  # ~120 KB before the declaration
    for tail in (b'<!ENTITY x "y">', b"<!DOCTYPE x [ <!ELEMENT x ANY> ]>"):
        raw = b'<?xml version="1.0"?><article><body>' + padding + tail + b"</body></article>"
        with pytest.raises(BadInput) as refused:
            decode(raw)
        assert refused.value.reason == "entity_declaration"


def test_internal_subset_search():
    # 200,000 unclosed doctypes: a backtracking regex would rescan the tail for each one.
    hostile = "<html><body>" + "<!DOCTYPE " * 200_000 + "</body></html>"
    assert decode_module.has_internal_subset(hostile) is False
    assert decode_module.has_internal_subset("<!DOCTYPE html><p>[x]</p>") is False
    assert decode_module.has_internal_subset("<!DOCTYPE x [<!ELEMENT x ANY>]><x/>") is True
    assert decode_module.has_internal_subset("<!doctype html><!DOCTYPE y [ ]>") is True
