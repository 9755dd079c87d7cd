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
