"""The boilerplate judgement shared by the HTML, XML and plain-text cleaners.

A block (paragraph, heading, list item, table row or plain-text line) is dropped when one of
these holds, each a property of news pages in general, never of one site:

- it repeats the headline (extractors often keep the <h1>; article bodies leave it out), or is a
  heading that repeats the page's description (the standfirst);
- it is mostly the text of a link (related-story teasers, "Read more: <link>", menus), unless it
  is a heading (product names and section titles are often linked);
- it is a dateline-only line ("Updated 14 hours ago", "Published 18 November 2019");
- it is a call to action addressed to the reader — newsletter, subscription, paywall, app,
  share/follow, cookie consent, copyright footer, unfilled {{template}} — matched as a *phrase*
  (never a single keyword) in a short line that is not reported speech;
- it is a short, sentence-less line inside a run of such boilerplate (prices, plan names and
  "12 issues" lines of a subscription box), i.e. judged by its neighbours, not by a keyword.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .linear import compile_linear
from .result import Block

WORD_RE = re.compile(r"\w+", re.UNICODE)

#: Calls to action. Each is a phrase a body sentence does not use when it merely *talks* about
#: subscriptions or newsletters; all are also bounded by CTA_MAX_WORDS and the speech guard.
CTA_PATTERNS = [
    # newsletters and inbox
    r"\b(sign(ing)? up|subscribe|register)\b[^.!?]{0,60}\bnewsletters?\b",
    r"\bnewsletters?\b[^.!?]{0,60}\b(sign up|subscribe|inbox)\b",
    r"\b(delivered|straight|right|directly) (to|in|into) your inbox\b",
    r"\bthanks? (you )?for (signing up|subscribing|registering)\b",
    r"\berror processing your subscription\b",
    r"\bkeep an eye on your inbox\b",
    r"\b(get|receive) (our|the) [\w -]{0,30}\bnewsletters?\b",
    r"\bsign up (here|now|today|for free)\b",
    r"^\s*(enjoyed|liked) (this|the) (article|story|piece)\?",
    # subscriptions and paywalls
    r"\bsubscribe (now|today|here)\b",
    r"\bsubscribe (to|for) (read|continue|unlimited|full|get|access|the full)",
    r"\bsubscribe to (our|the) [\w ]{0,40}(channel|podcast|magazine|feed)\b",
    r"\balready (a )?(subscriber|subscribed|registered|a member)\b",
    r"\byou('ve| have) (reached|used) (your|the) (limit|maximum|last)\b",
    r"\bfree (articles?|stories) (this|per|a) month\b",
    r"\bunlimited (digital )?access\b",
    r"\b(get|gain) (full |unlimited |instant )?access to\b[^.!?]{0,80}\b(for as little as|for just|subscri)",
    r"\b(renews|billed) automatically\b",
    r"\bcancel any ?time\b",
    r"\b\d+ issues for\b",
    r"\bdelivered (through|to) your (letterbox|door)\b",
    r"\bsubscribe to read\b",
    r"\bto continue reading\b",
    r"\{\{[^}]*\}\}",
    # apps and buttons
    r"\b(download|get) (our|the) [\w ]{0,30}\bapps?\b",
    r"\bclick(ing)? here\b",
    r"\btap here\b",
    r"\bon the go by clicking\b",
    # share / follow / contact
    r"\bshare (this|it|the) (story|article|post|page)\b",
    r"\bshare (it )?with a friend\b",
    r"\bshare this information\b",
    r"\bfollow (us|me|him|her|them|@\w+|\w+) on (twitter|facebook|instagram|youtube|linkedin|tiktok)\b",
    r"\bfollow @\w+",
    r"\bfollow [\w .'’@()-]{0,60} on (twitter|facebook|instagram|youtube|linkedin|tiktok)\b",
    r"\b(reach|contact) (the )?(reporters?|writers?|authors?|us) (on twitter|at|via)\b",
    r"^[\w'’ -]{0,40}\bnewsletters?[.!:]?\s*$",
    r"^\s*share( (this|via|on|by|to|permalink|entry|story|article|post)\b[\w+ ]{0,25})?\s*[:.!]?\s*$",
    r"\bshare (your thoughts|with (your )?friends)\b",
    r"^\s*(subscribe|sign up|log ?in|register)( now| today| here)?\s*[!.]?\s*$",
    r"^\s*why subscribe\??\s*$",
    r"\bsubscribe to our\b",
    r"\bi agree that\b.{0,60}\b(send me|contact me|newsletter)",
    r"\b(check|tick) the opt-in box\b",
    r"\byou (are|have been|have) (now )?(succ?ess?fully )?(subscribed|signed up|registered)\b",
    r"\bclick to (share|print|email|subscribe|tweet)\b",
    r"^\s*follow us\b.{0,30}$",
    r"\bsubscribe to (email|e-mail) (updates|alerts)\b",
    r"\bin your inbox\b",
    r"\bactivation link\b",
    r"\blike (us|our page) on facebook\b",
    r"\b(email|write to) [\w .]{0,40} at \S+@\S+",
    r"\bhave a (news )?tip\?",
    r"\bsend us (your|a) tip\b",
    # cookies, legal, reprints
    r"\bwe use cookies\b",
    r"\bby (continuing|using) (to (use|browse) )?(this|our) (site|website)\b",
    r"\bcookie (policy|settings|preferences)\b",
    r"\ball rights reserved\b",
    r"^\s*(copyright\s*)?(©|ⓒ|\(c\))",
    r"^\s*copyright\b.{0,60}\b(19|20)\d\d\b",
    r"(©|ⓒ)\s*[\w .,&-]{0,40}\b(19|20)\d\d\b\W*$",
    r"©\s*\d{4}\b.{0,80}$",
    r"\b(order|contact)\b[^.]{0,60}\breprints\b",
    r"\b(order|buy) reprints\b",
    r"^\s*print (article|this)\s*$",
    r"^\s*text size\s*$",
    r"\bthis copy is for your personal,? non-commercial use\b",
    r"\bpresentation-ready copies\b",
    r"\b(read|see|view) our (privacy|cookie) (policy|notice|statement)\b",
    r"\byour personal data will (only )?be\b",
    r"\b(revoke|withdraw) (this|your) consent at any time\b",
    # comment boxes and placeholders
    r"\bwe moderate (all )?comments\b|\bmoderates (all )?comments to\b|^\s*comments are (pre-?)?moderated\b",
    r"\b(read|see) our (comment(ing)?|community) (policy|guidelines|standards)\b",
    r"\b(leave|post|add) a comment\b",
    r"^\s*\d*\s*comments?\s*(\(\+\))?\s*$",
    r"\btell us what you think\b",
    r"\bvisit [\w' ]{0,40} homepage for more\b",
    r"\byou may also like\b",
    r"^\s*disclaimer\s*:",
    r"\bwhat('|’)?s included in (our|your|the) [\w ]{0,30}subscription",
    r"\ban error has occurred,? please try again\b",
    # the same prompts in German, French, Spanish, Italian and Portuguese news sites
    r"\bjetzt (abonnieren|abonnement|testen|registrieren|anmelden)\b",
    r"\b(newsletter|abo) (abonnieren|bestellen)\b",
    r"\bteilen sie diese[nm]? (artikel|beitrag)\b|\b(diesen )?(artikel|beitrag) teilen\s*[:!.]?\s*$",
    r"\bweiterlesen mit\b|\bum weiterzulesen\b",
    r"\b(abonnez-vous|inscrivez-vous)\b",
    r"\bs[’']abonner (à|a) (la|notre) newsletter\b",
    r"\bpartager (cet|l[’'])article\b",
    r"\bsuscr[ií]bete\b|\bsuscribirse a (nuestro|la) (bolet[ií]n|newsletter)\b",
    r"\bcompartir (este|el) art[ií]culo\b",
    r"\biscriviti (alla|alla nostra) newsletter\b|\babbonati (ora|subito)\b",
    r"\bassine (já|agora)\b|\bassine a nossa newsletter\b",
]
#: On RE2 (linear time), in groups: one alternation of all of them is too big for RE2's DFA.
CTA_GROUP = 16
CTA_RES = [
    compile_linear("|".join(f"(?:{p})" for p in CTA_PATTERNS[i : i + CTA_GROUP]), ignore_case=True)
    for i in range(0, len(CTA_PATTERNS), CTA_GROUP)
]
#: Cheap pre-check: every pattern above contains one of these; most body lines contain none.
CTA_TRIGGERS = (
    "subscri", "newsletter", "inbox", "sign", "regist", "click", "tap here", "app", "share", "follow",
    "like us", "like our", "email", "write to", "tip", "cookie", "site", "rights", "©", "copyright",
    "(c)", "reprint", "print", "text size", "personal", "presentation", "comment", "tell us", "homepage",
    "also like", "error", "disclaimer", "included", "access", "issues for", "letterbox", "door",
    "renews", "billed", "enjoyed", "liked", "jetzt", "abonn", "teilen", "weiterlesen", "weiterzulesen",
    "inscrivez", "partager", "suscr", "compartir", "iscriviti", "abbonati", "assine", "cancel", "{{", "already", "reached", "used your", "used the", "free", "continue",
    "thank", "@", "ⓒ", "reach", "contact", "log", "agree", "opt-in", "succ", "activation", "subscribed", "follow us", "inbox",
    "privacy", "consent", "moderat", "our comment", "our community",
)

#: A call to action is a short line; a long paragraph that contains one of the phrases is prose.
CTA_MAX_WORDS = 40
#: ... or a block of a few sentences that opens with the prompt.
CTA_BLOCK_MAX_WORDS = 80
#: Character bounds checked before any pattern runs (a "word" can be a 20 KB run of punctuation).
CTA_MAX_CHARS = 1_200
DATELINE_MAX_CHARS = 200
#: A sentence ends, then the next starts: "... use only. Distribution".
SENTENCE_BREAK_RE = compile_linear(r"[.!?]\s+[A-Z\"“]")
#: Reported speech: a sentence that quotes or attributes a phrase is the article talking.
SPEECH_RE = compile_linear(r"\b(said|says|told|according to|announced|wrote|tweeted)\b|^[\"“«„]", ignore_case=True)

#: A line announcing a date or time and nothing else.
DATE_WORDS = (
    r"published|updated|posted|last updated|first published|modified|on|at|by|date|time|ago|"
    r"hours?|minutes?|mins?|hrs?|days?|weeks?|"
    r"jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t(ember)?)?|oct(ober)?|"
    r"nov(ember)?|dec(ember)?|mon(day)?|tue(s(day)?)?|wed(nesday)?|thu(rs(day)?)?|fri(day)?|"
    r"sat(urday)?|sun(day)?|a\.?m|p\.?m|gmt|utc|[ecmp][sd]t|ist|cet|cest|bst|et|pt"
)
#: Nested quantifiers: exponential on Python's `re` (40 dashes and an "x" took minutes), linear on RE2.
DATELINE_RE = compile_linear(rf"^(?:(?:{DATE_WORDS})\b\W*|\d{{1,4}}(?:st|nd|rd|th)?\b\W*|\W+)+$", ignore_case=True)
DATE_ANCHOR_RE = compile_linear(
    r"\b(published|updated|posted|modified|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)", ignore_case=True
)
DIGIT_RE = compile_linear(r"\d")
DATELINE_MAX_WORDS = 14

#: Lead-ins of a link line: "Read more: <link>", "SEE ALSO: <link>".
LINK_SHARE_LIMIT = 0.6
#: Headings among the first blocks are where extractors leave the headline and the standfirst.
HEAD_ZONE = 6
#: A "shard" line: few words and no sentence (price, plan name, "3 Months", a button label).
SHARD_MAX_WORDS = 6
SENTENCE_END_CHARS = frozenset(".!?…。！？\"”»)")


@dataclass(frozen=True)
class Verdict:
    keep: bool
    reason: str = ""


def words(text: str) -> list[str]:
    return WORD_RE.findall(text)


def is_call_to_action(text: str) -> bool:
    """A short line addressing the reader with a newsletter/paywall/app/share/legal prompt.

    A longer block counts when its first sentence is the prompt and the block stays short
    ("This copy is for your personal use only. Distribution ... governed by ...").
    """
    if len(text) > CTA_MAX_CHARS:
        return False
    length = len(text.split())
    if length > CTA_MAX_WORDS:
        if length > CTA_BLOCK_MAX_WORDS:
            return False
        brk = SENTENCE_BREAK_RE.search(text)
        text = text[: brk.start() + 1] if brk else text
        if len(text.split()) > CTA_MAX_WORDS:
            return False
    lowered = text.lower()
    if not any(trigger in lowered for trigger in CTA_TRIGGERS):
        return False
    if not any(regex.search(text) for regex in CTA_RES):
        return False
    return not SPEECH_RE.search(text)


def is_dateline(text: str) -> bool:
    if len(text) > DATELINE_MAX_CHARS or len(text.split()) > DATELINE_MAX_WORDS:
        return False
    if text.strip().lower() in {"by", "by:"}:
        return True
    return bool(DIGIT_RE.search(text) and DATE_ANCHOR_RE.search(text) and DATELINE_RE.match(text))


def is_shard(text: str, max_words: int = SHARD_MAX_WORDS) -> bool:
    """A short line that is not a sentence: plan names, prices, durations, button labels."""
    return len(text.split()) <= max_words and not ends_sentence(text)


def ends_sentence(text: str) -> bool:
    stripped = text.rstrip()
    return bool(stripped) and stripped[-1] in SENTENCE_END_CHARS


def repeats(text: str, reference: str | None) -> bool:
    """True when text is the reference (the headline) or its first part (before " - Site")."""
    if not reference:
        return False
    mine, theirs = words(text), words(reference)
    if not mine:
        return False
    return mine == theirs or (len(mine) >= 3 and theirs[: len(mine)] == mine)


def judge(
    block: Block, index: int, title: str | None, description: str | None, headline: str | None = None
) -> Verdict:
    text = block.text
    if index < HEAD_ZONE and (repeats(text, title) or repeats(text, headline)):
        return Verdict(False, "headline")
    if index < HEAD_ZONE and block.kind == "heading" and description and words(text) == words(description):
        return Verdict(False, "standfirst")
    if block.link_share >= LINK_SHARE_LIMIT and block.kind != "heading":
        return Verdict(False, "link")
    if is_call_to_action(text):
        return Verdict(False, "call_to_action")
    if is_dateline(text):
        return Verdict(False, "dateline")
    return Verdict(True)


def filter_blocks(
    blocks: list[Block],
    title: str | None = None,
    description: str | None = None,
    shard_max_words: int = SHARD_MAX_WORDS,
    headline: str | None = None,
) -> tuple[list[Block], list[Block]]:
    """Split blocks into (kept, removed), in document order."""
    verdicts = explain(blocks, title, description, shard_max_words, headline)
    kept = [b for b, v in zip(blocks, verdicts, strict=True) if v.keep]
    removed = [b for b, v in zip(blocks, verdicts, strict=True) if not v.keep]
    return kept, removed


def explain(
    blocks: list[Block],
    title: str | None = None,
    description: str | None = None,
    shard_max_words: int = SHARD_MAX_WORDS,
    headline: str | None = None,
) -> list[Verdict]:
    """The verdict on every block, for the bench and for debugging."""
    verdicts = [judge(block, i, title, description, headline) for i, block in enumerate(blocks)]
    return _extend_boilerplate_runs(blocks, verdicts, shard_max_words)


def _extend_boilerplate_runs(blocks: list[Block], verdicts: list[Verdict], shard_max_words: int) -> list[Verdict]:
    """Shards next to a call to action belong to it (a subscription box's prices and plans).

    Only runs that touch a call to action are widened, and only over shards: a sentence of the
    body next to a prompt stays. A walk stops at the next call to action, which widens on its
    own: each block is visited at most twice, so a page of thousands of prompts stays linear.
    """
    result = list(verdicts)
    for start, verdict in enumerate(verdicts):
        if verdict.reason != "call_to_action":
            continue
        for step in (1, -1):
            i = start + step
            while 0 <= i < len(blocks) and (not result[i].keep or is_shard(blocks[i].text, shard_max_words)):
                if result[i].reason == "call_to_action":
                    break
                if result[i].keep:
                    result[i] = Verdict(False, "boilerplate_run")
                i += step
    return result
