"""The plain-text cleaner: the shared sample and the boilerplate judgement on lines."""

from __future__ import annotations

import os
from pathlib import Path

from tasks.article import Article, BadInput, Source
from tasks.cleaning.boilerplate import is_call_to_action
from tasks.cleaning.text import clean_text
from tasks.stages.clean import Clean

import pytest


def shared_dir() -> Path:
    override = os.environ.get("COPYDESK_SHARED_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / ".." / "shared"


SAMPLE = shared_dir() / "samples" / "business-standard-paywalled.txt"


def test_sample_comes_out_as_exactly_its_eleven_paragraphs():
    content = SAMPLE.read_text(encoding="utf-8")
    cleaned = clean_text(content)
    expected = [line.strip() for line in content.splitlines()[:11]]
    assert cleaned.paragraphs == expected
    assert cleaned.text.startswith("North Korean and US officials are holding")
    assert cleaned.text.endswith('resume dialogue at an early stage."')
    assert "{{" not in cleaned.text and "₹" not in cleaned.text and "Disclaimer" not in cleaned.text


def test_sample_through_the_stage_sets_removed_counts():
    article = Article(Source("b", "k"), b"", media_type="text", content=SAMPLE.read_text(encoding="utf-8"))
    Clean().action(article)
    assert article.text.count("\n\n") == 10
    assert article.removed_lines >= 30
    assert article.removed_chars > 500
    assert article.removed_samples[0].startswith("Disclaimer:")
    assert len(article.removed_samples) == 20
    assert article.title is None and article.url is None


def test_body_sentences_about_subscriptions_and_prices_are_kept():
    body = [
        "Disney+ will cost $6.99 a month when it launches, undercutting Netflix's standard plan.",
        "Subscribers who sign up for a year pay $69.99, the company said on Tuesday.",
        "Analysts expect the streaming service to reach 60 million subscribers by 2024.",
        "The newsletter industry has boomed as writers leave newsrooms for paid subscriptions.",
        "Apple Arcade costs $4.99 per month and includes more than 100 games.",
    ]
    cleaned = clean_text("\n".join(body))
    assert cleaned.paragraphs == body
    assert cleaned.removed == []


def test_calls_to_action_are_dropped_around_the_body():
    text = "\n".join(
        [
            "Sign up for our newsletter",
            "The council approved the new budget on Monday after a long debate over school funding.",
            "Opponents argued the plan would raise property taxes for most homeowners in the city.",
            "Click here to download our app",
            "Copyright © 2024 Example Media. All rights reserved.",
            "We use cookies to improve your experience.",
        ]
    )
    cleaned = clean_text(text)
    assert len(cleaned.paragraphs) == 2
    assert all("council" in p or "Opponents" in p for p in cleaned.paragraphs)
    assert len(cleaned.removed) == 4


def test_reported_speech_is_not_a_call_to_action():
    assert not is_call_to_action('"Subscribe to our newsletter," the company said in a statement.')
    assert is_call_to_action("Subscribe to our newsletter for the latest updates")
    assert not is_call_to_action("subscription")  # a keyword alone never decides


def test_hard_wrapped_paragraphs_are_rejoined():
    para1 = (
        "The river rose faster than anyone in the valley had expected, and by\n"
        "midnight the bridge on the old road was under water, cutting off the\n"
        "farms on the east bank from the town and its small hospital clinic."
    )
    para2 = (
        "Volunteers worked through the night to fill sandbags along the main\n"
        "street, where shop owners had moved their stock to upper floors in\n"
        "the afternoon after the first warnings from the weather service."
    )
    cleaned = clean_text(para1 + "\n\n" + para2)
    assert len(cleaned.paragraphs) == 2
    assert cleaned.paragraphs[0].startswith("The river rose") and "\n" not in cleaned.paragraphs[0]


def test_only_boilerplate_is_no_text():
    with pytest.raises(BadInput) as info:
        clean_text("Subscribe now for unlimited access.\nAlready subscribed? Log in\n")
    assert info.value.reason == "no_text"


def test_normalisation_of_invisible_characters_and_nfc():
    text = "Caf\u0065\u0301 owners in the old town said the new\u00a0rules were unfair\u00ad and costly\u200b for them."
    cleaned = clean_text(text)
    assert cleaned.text == "Café owners in the old town said the new rules were unfair and costly for them."


def test_plain_text_headline_becomes_the_title_and_not_a_paragraph():
    from tasks.cleaning.text import clean_text

    text = (
        "Home | News | Sport\n"
        "Late winner settles river derby as Rovers go top\n"
        "Substitute Jonah Mbeki scored in the 89th minute to give Eastbridge Rovers a 2-1 win over Westford City on Saturday.\n"
        "City remain third, two points behind Rovers, with a game in hand against bottom club Harlow on Tuesday.\n"
        "Enjoyed this article? Get our sport newsletter every Friday. Sign up here.\n"
    )
    cleaned = clean_text(text)
    assert cleaned.metadata.title == "Late winner settles river derby as Rovers go top"
    assert len(cleaned.paragraphs) == 2 and cleaned.paragraphs[0].startswith("Substitute")
    assert any(line.startswith("Enjoyed this article?") for line in cleaned.removed)


def test_menu_or_sentence_before_the_body_is_not_a_title():
    from tasks.cleaning.text import clean_text

    body = "The council approved the budget on Thursday after a long debate that lasted well into the night.\n"
    assert clean_text("Home | News | Sport | Weather\n" + body).metadata.title is None
    assert clean_text(body).metadata.title is None


def test_prompts_in_other_languages_go_but_body_sentences_with_the_same_words_stay():
    from tasks.cleaning.text import clean_text

    body = [
        "Wegen der Hitzewelle bleiben die großen Parks der Stadt ab Montag auch in der Nacht geöffnet, beschloss der Gemeinderat.",
        "Die Experten teilen sie in drei Gruppen ein, je nachdem wie stark sie von der Hitze betroffen sind.",
        "Gli abbonati della piattaforma sono cresciuti del dieci per cento nel trimestre, secondo la società.",
    ]
    prompts = ["Jetzt abonnieren und weiterlesen: Alle Artikel für nur 4,99 € im Monat.", "Teilen Sie diesen Artikel", "Newsletter abonnieren"]
    cleaned = clean_text("\n".join(body + prompts))
    assert cleaned.paragraphs == body
    assert cleaned.removed == prompts


def test_script_style_and_markup_lines_of_scraped_text_are_dropped():
    body = [
        "The council approved the new budget on Monday after a long debate over school funding.",
        "Opponents (mostly from the east side) argued the plan would raise taxes; the vote was 7-2.",
        "\"The function of this council is to balance the books,\" the mayor said after the vote.",
    ]
    code = [
        "googletag.cmd.push(function() { googletag.display('div-gpt-ad-1'); });",
        'var AD_CONFIG = { slot: "top", sizes: [[728, 90], [320, 50]] };',
        '<source srcset="https://cdn.example.com/photo-250.jpg" media="(max-width: 600px)">',
        ".article-body p { margin: 0 0 1em; color: #333; }",
        "</div>",
    ]
    cleaned = clean_text("\n".join(code[:2] + body[:2] + code[2:4] + body[2:] + code[4:]))
    assert cleaned.paragraphs == body
    assert sorted(cleaned.removed) == sorted(code)


def test_a_title_in_angle_brackets_is_not_markup():
    lines = [
        "<Parasite> director Bong Joon-ho returned to Seoul on Monday to a crowd of reporters at the airport.",
        "<The Palace: Jang Noksu>",
        "The drama, set in the Joseon court, drew the highest ratings of any series on the network this year.",
    ]
    assert clean_text("\n".join(lines)).paragraphs == lines


@pytest.mark.parametrize(
    "line",
    [
        "Your personal data will only be disclosed to third parties for the purposes of spam filtering.",
        "You may revoke this consent at any time with effect for the future.",
        "Example Magazine moderates comments to facilitate an informed, civil conversation.",
        "Read our privacy policy.",
    ],
)
def test_consent_and_comment_policy_notices_are_boilerplate(line):
    assert is_call_to_action(line)


@pytest.mark.parametrize(
    "line",
    [
        "Facebook changed its privacy policy on Monday, regulators said.",
        "Under the new rules users must be able to withdraw their consent at any time, the regulator said.",
        "The forum moderates comments heavily, critics say.",
    ],
)
def test_sentences_about_privacy_and_comments_stay(line):
    assert not is_call_to_action(line)
