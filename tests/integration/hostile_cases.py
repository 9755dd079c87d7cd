"""The hostile inputs of tests/integration/test_hostile_inputs.py (issue 11.11): each a key, its
bytes, and what must become of it: "processed", or the quarantine reason ("quarantined" when
any reason is right, as long as it is given; "any" when a record or a quarantine with a reason
are both right: pathological but legal markup).

The keys are part of the attack too (dot segments, a trailing '/', too long for the output
keys). Every case is built here, from nothing on disk but the examples/ folder.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "incoming/hostile/"
#: The worker's COPYDESK_MAX_BYTES in this test.
MAX_BYTES = 256 * 1024

PARAGRAPH = (
    "The harbour council approved next year's budget on Tuesday after a long debate about "
    "dredging the northern channel, repairing the ferry terminal and raising mooring fees. "
)
ARTICLE_TEXT = "Harbour council approves budget\n\n" + "\n\n".join(PARAGRAPH * 2 for _ in range(6))
ARTICLE_HTML = (
    "<html><head><title>Harbour council approves budget</title></head><body><article>"
    "<h1>Harbour council approves budget</h1>" + "".join(f"<p>{PARAGRAPH * 2}</p>" for _ in range(6)) + "</article></body></html>"
)


def _xml(body: str, head: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{head}<article><title>Harbour</title><body>{body}</body></article>').encode()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("article.txt", ARTICLE_TEXT)
    return buffer.getvalue()


def cases() -> dict[str, tuple[str, bytes, str]]:
    """name -> (key, bytes, expected outcome)."""
    html = ARTICLE_HTML
    text = ARTICLE_TEXT
    c: dict[str, tuple[str, bytes, str]] = {}

    def add(name: str, data: bytes, expected: str, key: str | None = None) -> None:
        c[name] = (key or PREFIX + name, data, expected)

    # -- XML attacks ------------------------------------------------------------------------
    add("xxe-file.xml", _xml("<p>&xxe;</p>", '<!DOCTYPE article [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'), "entity_declaration")
    add("xxe-http.xml", _xml("<p>&xxe;</p>", '<!DOCTYPE article [<!ENTITY xxe SYSTEM "http://127.0.0.1:1/x">]>\n'), "entity_declaration")
    add("xxe-parameter.xml", _xml("<p>x</p>", '<!DOCTYPE article [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>\n'), "entity_declaration")
    add(
        "billion-laughs.xml",
        _xml("<p>&lol9;</p>", "<!DOCTYPE lolz [<!ENTITY lol \"lol\">"
             + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)) + "]>\n"),
        "entity_declaration",
    )
    add("quadratic-blowup.xml", _xml("<p>" + "&a;" * 2000 + "</p>", '<!DOCTYPE article [<!ENTITY a "' + "x" * 20000 + '">]>\n'), "entity_declaration")
    add("entity-after-64k.xml", _xml("<p>" + PARAGRAPH * 400 + '</p><!ENTITY late "x">'), "entity_declaration")
    add("doctype-subset-late.html", (html[:-14] + "<p>" + PARAGRAPH * 400 + "</p><!DOCTYPE x [ <!ELEMENT x ANY> ]>" + html[-14:]).encode(), "entity_declaration")
    add("external-dtd-only.xml", _xml(f"<p>{PARAGRAPH}</p><p>{PARAGRAPH}</p>", '<!DOCTYPE article SYSTEM "http://127.0.0.1:1/evil.dtd">\n'), "processed")
    add("xinclude.xml", (
        '<?xml version="1.0"?>\n<article xmlns:xi="http://www.w3.org/2001/XInclude"><title>Harbour</title><body>'
        f'<p>{PARAGRAPH}</p><xi:include href="file:///etc/passwd" parse="text"/><p>{PARAGRAPH}</p></body></article>'
    ).encode(), "processed")
    add("malformed.xml", b'<?xml version="1.0"?>\n<article><title>Broken</title><body><p>never closed</body>', "malformed_markup")
    add("deep-nesting.xml", ('<?xml version="1.0"?>\n' + "<a>" * 30_000 + "x" + "</a>" * 30_000).encode(), "any")
    add("cdata-and-pi.xml", _xml(f"<p><![CDATA[{PARAGRAPH}]]></p><?php system('id'); ?><p>{PARAGRAPH}</p>"), "processed")

    # -- HTML oddities ----------------------------------------------------------------------
    add("deep-divs.html", ("<html><body>" + "<div>" * 20_000 + PARAGRAPH * 3 + "</div>" * 20_000 + "</body></html>").encode(), "any")
    add("script-only.html", b"<html><head><script>alert(1)</script></head><body><script>document.write('x')</script></body></html>", "no_text")
    add("svg-script.html", ('<html><body><svg onload="alert(1)"><script>alert(2)</script></svg>' + "".join(f"<p>{PARAGRAPH}</p>" for _ in range(3)) + "</body></html>").encode(), "processed")
    add("unclosed-tags.html", ("<html><body><p>" + "<b><i><u>" * 2000 + PARAGRAPH * 6).encode(), "any")
    add("one-huge-line.html", ("<html><body><p>" + PARAGRAPH * 600 + "</p></body></html>").encode(), "processed")
    add("comment-bomb.html", ("<html><body>" + "<!--" + "x" * 100_000 + "-->" + "".join(f"<p>{PARAGRAPH}</p>" for _ in range(3)) + "</body></html>").encode(), "processed")
    add("only-whitespace.html", b" \n\t\r\n     ", "empty")
    add("empty.txt", b"", "empty")

    # -- encodings --------------------------------------------------------------------------
    add("utf16-bom.txt", "\ufeff".encode("utf-16-le") + text.encode("utf-16-le"), "processed")
    add("utf16-meta-on-ascii.html", html.replace("<head>", '<head><meta charset="utf-16">').encode(), "processed")
    add("utf32-bom.txt", text.encode("utf-32"), "processed")
    add("latin1-declared.xml", _xml(f"<p>Gr\xfc\xdfe aus Z\xfcrich. {PARAGRAPH}</p>").replace(b"UTF-8", b"ISO-8859-1").decode().encode("latin-1"), "processed")
    add("cp1252-undeclared.txt", (text + " Caf\xe9 cr\xe8me \u201cquoted\u201d.").encode("cp1252"), "processed")
    add("shift-jis.txt", ("港湾議会は火曜日に来年度予算を承認した。" * 30).encode("shift_jis"), "processed")
    add("mixed-invalid-utf8.txt", text.encode() + b"\xff\xfe\xfd" + text.encode(), "processed")
    add("bom-lies.txt", b"\xff\xfe" + "Breaking news".encode("utf-16-le") + b"\x00\xd8\x41", "undecodable")
    add("zero-width-and-rtl.txt", ("\u200b\u200f\u202e" + text + "\u2066\u2069").encode(), "processed")
    add("nul-after-8k.txt", text.encode() * 8 + b"\x00" * 2 + text.encode(), "processed")
    add("nul-flood-after-8k.txt", text.encode() * 8 + b"\x00" * 20_000, "binary")
    add("control-chars.txt", bytes(range(1, 32)) * 500, "binary")

    # -- compression ------------------------------------------------------------------------
    add("gzip-article.html", gzip.compress(html.encode()), "processed")
    add("gzip-bomb.txt", gzip.compress(b"\0" * (64 << 20)), "too_large")
    add("gzip-truncated.txt", gzip.compress(text.encode())[:40], "binary")
    add("gzip-in-gzip.txt", gzip.compress(gzip.compress(text.encode())), "binary")

    # -- binaries ---------------------------------------------------------------------------
    add("picture.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "binary")
    add("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 8, "binary")
    add("document.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n" + bytes(range(256)) * 4, "binary")
    add("archive.zip", _zip(), "binary")
    add("program.elf", b"\x7fELF\x02\x01\x01" + bytes(1000), "binary")
    add("database.sqlite", b"SQLite format 3\x00" + bytes(2000), "binary")
    add("random-bytes.bin", bytes((i * 7919 + 13) % 256 for i in range(8000)), "quarantined")
    add("too-large.txt", (PARAGRAPH * 3000).encode()[: MAX_BYTES + 5000], "too_large")

    # -- keys -------------------------------------------------------------------------------
    add("key-dotdot", text.encode(), "bad_key", key=PREFIX + "../escape.txt")
    add("key-dot", text.encode(), "bad_key", key=PREFIX + "./dot.txt")
    add("key-trailing-slash", text.encode(), "bad_key", key=PREFIX + "folder-with-content/")
    add("key-1024-bytes", text.encode(), "bad_key", key=PREFIX + "k" * (1024 - len(PREFIX)))
    add("key-1015-bytes", text.encode(), "bad_key", key=PREFIX + "m" * (1015 - len(PREFIX)))
    add("key-backslash", text.encode(), "bad_key", key=PREFIX + "back\\slash.txt")
    add("key-900-bytes", text.encode(), "processed", key=PREFIX + "n" * (900 - len(PREFIX)))
    add("key-unicode", text.encode(), "processed", key=PREFIX + "Zürich – Straße/日本語 ✓.txt")
    add("key-spaces-plus-percent", text.encode(), "processed", key=PREFIX + "a b+c%20d&e=f?.txt")
    add("key-html-like", text.encode(), "processed", key=PREFIX + "<script>alert(1)</script>.txt")
    return c


def good_articles() -> dict[str, bytes]:
    """Ordinary articles uploaded beside the hostile ones: all must be processed."""
    return {PREFIX + "good/" + path.name: path.read_bytes() for path in sorted((ROOT / "examples").iterdir()) if path.suffix in (".html", ".xml", ".txt")}
