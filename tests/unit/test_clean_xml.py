"""XML news formats (NITF, NewsML-G2, XHTML) and the safety of parsing untrusted XML."""

from __future__ import annotations

import pytest

from tasks.article import BadInput
from tasks.cleaning import clean_document
from tasks.cleaning.markup import parse_xml

P1 = "Heavy rain flooded the lower town overnight, forcing dozens of families to leave their homes."
P2 = "Emergency services said the water level had started to fall by the morning and no one was hurt."

NITF = f"""<?xml version="1.0" encoding="UTF-8"?>
<nitf><head><title>Floods hit lower town</title><docdata><doc-id id-string="https://news.example.com/floods"/>
<date.issue norm="20240305T093000Z"/></docdata></head>
<body><body.head><hedline><hl1>Floods hit lower town</hl1></hedline>
<byline><person>Anna Berg</person></byline></body.head>
<body.content><p>{P1}</p><p>{P2}</p></body.content></body></nitf>"""

NEWSML = f"""<?xml version="1.0" encoding="UTF-8"?>
<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:x" version="1">
<itemMeta><itemClass qcode="ninat:text"/><provider literal="Example Wire"/><versionCreated>2024-03-05T09:30:00Z</versionCreated></itemMeta>
<contentMeta><contentCreated>2024-03-05T08:00:00Z</contentCreated><by>By Anna Berg</by><headline>Floods hit lower town</headline></contentMeta>
<contentSet><inlineXML contenttype="application/xhtml+xml"><html xmlns="http://www.w3.org/1999/xhtml"><body>
<p>{P1}</p><p>{P2}</p></body></html></inlineXML></contentSet></newsItem>"""

XHTML = f"""<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Floods hit lower town</title></head>
<body><article><h1>Floods hit lower town</h1><p>{P1}</p><p>{P2}</p></article></body></html>"""


def test_nitf_body_and_metadata():
    cleaned = clean_document(NITF, "xml")
    assert cleaned.paragraphs == [P1, P2]
    meta = cleaned.metadata
    assert meta.title == "Floods hit lower town"
    assert meta.byline == ["Anna Berg"]
    assert meta.published == "2024-03-05T09:30:00Z"  # UTC written as ...Z, like processed_at
    assert meta.url == "https://news.example.com/floods"


def test_nitf_byline_keeps_the_name_not_the_job_title_and_end_matter_counts_as_removed():
    nitf = NITF.replace("<byline><person>Anna Berg</person></byline>",
                        "<byline>By <person>Anna Berg</person>, Health Correspondent</byline>")
    nitf = nitf.replace("</body.content></body>",
                        "</body.content><body.end><tagline>Sign up for our newsletter. Share this article.</tagline></body.end></body>")
    cleaned = clean_document(nitf, "xml")
    assert cleaned.metadata.byline == ["Anna Berg"]
    assert cleaned.paragraphs == [P1, P2]
    assert cleaned.removed == ["Sign up for our newsletter. Share this article."]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("20240305T093000Z", "2024-03-05T09:30:00Z"),
        ("20240305T093000+0000", "2024-03-05T09:30:00Z"),
        ("2024-03-05T09:30:00+00:00", "2024-03-05T09:30:00Z"),
        ("2024-03-05T09:30:00-00:00", "2024-03-05T09:30:00Z"),
        ("2024-03-05T09:30:00+02:00", "2024-03-05T09:30:00+02:00"),
        ("2024-03-05", "2024-03-05"),
    ],
)
def test_dates_in_utc_are_written_one_way(value, expected):
    from tasks.cleaning.metadata import normalise_date

    assert normalise_date(value) == expected


def test_newsml_g2_body_and_metadata():
    cleaned = clean_document(NEWSML, "xml")
    assert cleaned.paragraphs == [P1, P2]
    meta = cleaned.metadata
    assert meta.title == "Floods hit lower town"
    assert meta.byline == ["Anna Berg"]
    assert meta.published == "2024-03-05T08:00:00Z"
    assert meta.site_name == "Example Wire"
    assert meta.url is None


def test_generic_xhtml_goes_through_the_html_extractor():
    cleaned = clean_document(XHTML, "xml")
    # The <h1> may stay before the body: no hand rule judges HTML blocks since issue 10.
    assert cleaned.paragraphs[-2:] == [P1, P2]
    assert cleaned.metadata.title == "Floods hit lower town"


def test_malformed_xml_is_reported_as_such():
    with pytest.raises(BadInput) as info:
        clean_document("<nitf><body><body.content><p>unclosed</body.content></nitf>", "xml")
    assert info.value.reason == "malformed_markup"


def test_xml_without_a_known_body_is_no_text():
    with pytest.raises(BadInput) as info:
        clean_document("<feedback><rating>5</rating></feedback>", "xml")
    assert info.value.reason == "no_text"


def test_entities_are_never_expanded():
    evil = (
        '<?xml version="1.0"?><!DOCTYPE nitf [<!ENTITY boom "EXPANDED">]>'
        "<nitf><body><body.content><p>before &boom; after</p></body.content></body></nitf>"
    )
    root = parse_xml(evil)
    assert "EXPANDED" not in "".join(root.itertext())


def test_external_entities_are_not_fetched_or_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    evil = (
        f'<?xml version="1.0"?><!DOCTYPE nitf [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        "<nitf><body><body.content><p>leak: &xxe;</p></body.content></body></nitf>"
    )
    root = parse_xml(evil)
    assert "TOP-SECRET" not in "".join(root.itertext())


def test_billion_laughs_does_not_blow_up():
    evil = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        "<nitf><body><body.content><p>&lol3;</p></body.content></body></nitf>"
    )
    root = parse_xml(evil)
    assert len("".join(root.itertext())) < 100


def test_excessive_nesting_is_malformed():
    deep = "<nitf>" + "<div>" * 5000 + "</div>" * 5000 + "</nitf>"
    with pytest.raises(BadInput) as info:
        parse_xml(deep)
    assert info.value.reason == "malformed_markup"
