"""Bounded memory: one page's parse is limited in characters, elements and depth (issue 10).

A 19 MB page of a million tags once took a pool child to 1.83 GB and 120 s. Beyond the limits
a page is refused with a clear quarantine reason; the limits are settings passed to the stage.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tasks.article import Article, BadInput, Source
from tasks.cleaning import ParseLimits, clean_document
from tasks.stages.clean import Clean
from worker.settings import Settings

#: Peak resident memory allowed to the child that cleans the million-tag page.
MAX_CHILD_MB = 300

MILLION_TAGS_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from tasks.article import BadInput
    from tasks.cleaning import clean_document
    import tasks.cleaning.html  # imports (trafilatura) outside the timed part

    def peak_mb():
        # VmHWM is this process's own peak; ru_maxrss would include the forking parent's (Linux
        # carries the pre-exec high-water mark over).
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    page = "<html><body>" + "<p>a" * 1_000_000 + "</body></html>"  # 1,000,002 tags, 4 MB
    started = time.process_time()
    try:
        clean_document(page, "html")
        reason = None
    except BadInput as exc:
        reason = exc.reason
    print(json.dumps({
        "reason": reason,
        "cpu_seconds": time.process_time() - started,
        "max_rss_mb": peak_mb(),
        "chars": len(page),
    }))
    """
)


def test_million_tag_page_is_refused_without_taking_memory():
    done = subprocess.run(
        [sys.executable, "-c", MILLION_TAGS_CHILD], capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["reason"] == "too_many_elements"
    assert result["max_rss_mb"] < MAX_CHILD_MB, result
    # Counting the tags is one pass over the text, not a parse (the parse alone takes ~1 s).
    assert result["cpu_seconds"] < 0.5, result


def html_page(body: str) -> str:
    return f"<html><head><title>t</title></head><body>{body}</body></html>"


ARTICLE = "<p>" + "A sentence of the article that is long enough to keep. " * 5 + "</p>"


def test_each_limit_has_its_own_reason():
    limits = ParseLimits(max_chars=50_000, max_elements=500, max_depth=40)
    assert clean_document(html_page(ARTICLE * 3), "html", limits).paragraphs

    cases = {
        "too_large": html_page(ARTICLE * 300),
        "too_many_elements": html_page("<span>x</span>" * 600 + ARTICLE),
        "too_deep": html_page("<div>" * 60 + ARTICLE + "</div>" * 60),
    }
    for reason, page in cases.items():
        with pytest.raises(BadInput) as info:
            clean_document(page, "html", limits)
        assert info.value.reason == reason, reason
    with pytest.raises(BadInput) as info:
        clean_document("<nitf><body>" + "<p>x</p>" * 600 + "</body></nitf>", "xml", limits)
    assert info.value.reason == "too_many_elements"


def test_less_than_signs_in_text_are_not_elements():
    """The fast count is an upper bound; the page is refused only on real tag openings."""
    limits = ParseLimits(max_elements=100)
    page = html_page("<p>" + "1 < 2 and 3 <= 4. " * 200 + "</p>")
    assert clean_document(page, "html", limits).paragraphs


def test_the_settings_reach_the_stage():
    settings = Settings.from_env({"COPYDESK_MAX_ELEMENTS": "50", "COPYDESK_MAX_DEPTH": "30"})
    assert settings.parse_limits == ParseLimits(max_chars=settings.max_markup_chars, max_elements=50, max_depth=30)
    article = Article(Source("b", "k"), b"", media_type="html", content=html_page("<b>x</b>" * 80 + ARTICLE))
    with pytest.raises(BadInput) as info:
        Clean(settings.parse_limits).action(article)
    assert info.value.reason == "too_many_elements"
    with pytest.raises(ValueError):
        Settings.from_env({"COPYDESK_MAX_DEPTH": "0"})



@pytest.mark.parametrize("levels", [1, 2, 39, 40, 41, 60])
def test_the_html_depth_check_agrees_with_the_walk(levels):
    """check_element_depth (one XPath) refuses exactly the trees check_depth (a walk) refuses,
    at and around the limit, and on pages of mixed depths."""
    from tasks.cleaning.markup import check_depth, check_element_depth, parse_html

    limits = ParseLimits(max_depth=40)
    # html and body are two levels; a second, shallow branch beside the deep one.
    markup = "<html><body>" + "<div>" * (levels - 2) + "x" + "</div>" * max(0, levels - 2) + "<p>y</p></body></html>"
    root = parse_html(markup)  # the default limit is deeper
    outcomes = []
    for check in (check_depth, check_element_depth):
        try:
            check(root, limits)
            outcomes.append("ok")
        except BadInput as exc:
            outcomes.append(exc.reason)
    assert outcomes[0] == outcomes[1]
    assert outcomes[0] == ("ok" if max(levels, 3) <= 40 else "too_deep")
