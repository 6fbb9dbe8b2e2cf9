"""Yes/no questions: "Did CNN report that Ford is dropping its self-driving car effort?", "Did The Verge report the
recall before TechCrunch reported the fine?". Their answer is a verdict, "Yes" or "No", resting on cited sentences;
a quoted sentence alone would leave the reader to decide.

The question states a proposition (the question without its auxiliary: "CNN report that Ford is dropping …"),
sometimes in parts ("… while …", "…, and did …", "… before it reported …"; the pipeline retrieves each part on
its own too, `Answerer.part_contexts`). Each part is matched to the retrieved sentence that covers most of its
content words, rarer words counting more (the title and outlet of the sentence's article count too: "CNN" is the
outlet, not a word of the sentence). Then:

* every part supported by a sentence that names what the part names and states its amounts (within `NAMES_WITHIN`
  characters of it) and covers at least `SUPPORTED` of it, or at least `SUPPORTED_SIMILAR` where the sentence is
  also close in meaning (MiniLM cosine to the question ≥ `SIMILAR`: the quiz's "a magnitude 5.9 earthquake hit
  eastern Afghanistan" and the article's "The magnitude 5.9 quake struck … near the city of Khost"): "Yes", citing
  each part's sentence;
* a part covered at least `OTHERWISE` once one of its names or amounts is left aside, where its sentence names or
  states another one in that place (a name its article never mentions: "Did CNN report that Tesla …?" where CNN
  wrote "Ford …"; "33 hot dogs in 10 minutes" where CNN wrote "63 hot dogs … in 10 minutes"), or a part covered at
  least `DENIED` by a sentence that denies it ("Has a date been set?": "no date has been set"; a negation in one and
  not the other): "No", citing what it says;
* a question asking whether one report came before or after another, each part supported in its own dated
  article: the articles' dates decide (a part said otherwise gives no verdict here: that does not date a report);
* anything else: no verdict (the caller refuses: the articles don't say).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.answer.amounts import quantities
from rag.answer.answerability import stems, term_weights, weighted_share
from rag.answer.retrieve import Evidence
from rag.answer.verifier import name_in, question_names, vocabulary
from rag.ingest.sentences import split_spans

SUPPORTED = 0.6  # a part's weighted content words that its sentence (with its article's title and outlet) must hold
SUPPORTED_SIMILAR = 0.5  # ... when the sentence is close in meaning to the question (cosine ≥ `SIMILAR`)
SIMILAR = 0.6  # MiniLM cosine of question and sentence (`Evidence.dense`) that counts as close in meaning
OTHERWISE = 0.6  # ... and one that says otherwise, once the name or amount it replaces is left aside
DENIED = 0.8  # ... and one that denies it ("no date has been set" for "Has a date been set?")
AMOUNT_SLACK = 0.05  # amounts this close are the same amount ("$402 million", "more than $400 million")
MIN_WORDS = 2  # content words a part needs for a verdict ("Is the war over?" has one: "war")
FULL_BELOW = 5  # a part with fewer content words must be covered whole
NAMES_WITHIN = 200  # characters around a supporting sentence that must name what the part names, state its amounts
_AUX = ("did", "does", "do", "is", "are", "was", "were", "has", "have", "had", "can", "could", "will", "would",
        "should", "must")
_WH = r"(?:who|whom|whose|what|which|when|where|why|how)\b"
# a leading clause before the auxiliary ("According to CNN, did …", "Between the two reports, was there …"); not
# after a question word ("Which company, reported by both outlets, is …" asks a name)
_LEAD = re.compile(rf"^(?!{_WH})[^?]{{0,200}}?,\s*(?=(?:{'|'.join(_AUX)})\b)", re.I)
# a request put as a question ("Can you tell me who …", "Do you know where …") asks for what it names, not yes or no
_REQUEST = re.compile(r"^(?:can|could|would|will)\s+(?:you|u)\b|^(?:do|does)\s+(?:you|we|anyone|anybody)\s+know\b",
                      re.I)
# "Is Google or Apple facing the fine?", "Did The Verge report it first, or TechCrunch?": asks which, not yes or no
_EITHER = re.compile(r",\s*or\s+(?!not\b)[\w'’.&-]+(?:\s+[\w'’.&-]+){0,3}$|\b[A-Z][\w'’.&-]*\s+or\s+[A-Z]")
# after a leading clause, a question word not after a comma asks for what it names ("Benzene, a chemical, was
# detected in which product?"; after a comma it opens a clause: "Harris, who is 22, …"); so does one right after
# a reporting verb ("Did CNN report which company …?")
_ASKS_WHICH = re.compile(rf"(?<![,;(—–-])\s+{_WH}", re.I)
_EMBEDDED = re.compile(rf"^\w+\s+(?:[\w'’.-]+\s+){{0,4}}?(?:report|reported|say|said|mention|mentioned|reveal|revealed|"
                       rf"explain|explained|know|tell|told)\s+{_WH}", re.I)
_ASKS = re.compile(rf"^(?:{'|'.join(_AUX)})\b(?!\s+{_WH})", re.I)
_AND = re.compile(r",?\s+(?:and|while|whereas|but)\s+(?:did|does|do|is|was|were|has|have)\b\s*|;\s+|,\s+while\s+|"
                  r",\s+whereas\s+", re.I)
# "… before/after it reported …": one report's date against another's; an "after" inside a reported fact
# ("won after a recount") is not about the reports
_ORDER = re.compile(r"\s+(before or after|after or before|earlier or later|before|after|earlier than|later than|"
                    r"prior to)\s+(?=(?:[\w'’.]+\s+){0,6}?"
                    r"(?:report|reported|reporting|published|wrote|article|story|coverage)\b)", re.I)
# a quiz's "True or false: <statement>" asks a verdict too, answered "True" or "False"
# (after an attribution clause if any: "According to CNN, true or false: …")
_TRUE_FALSE = re.compile(r"^\s*(?:[^:?]{0,120},\s*)?(?:true\s+or\s+false|fact\s+or\s+fiction)\s*[:?.,–—-]+\s*(?=\S)",
                         re.I)
_NEGATION = re.compile(r"\b(?:not|no|never|nor|without|none|neither)\b|n['’]t\b", re.I)
_REPORTING = {st for w in ("report", "reported", "reporting", "published", "article", "story", "coverage",
                           "according", "wrote", "write", "say", "said", "suggest", "true", "indicate")
              for st in stems(w)}


@dataclass(frozen=True)
class Part:
    text: str
    evidence: Evidence | None
    covered: float  # the weighted share of the part's content words its sentence holds
    other: bool  # the sentence states another name or amount where the part has its own, or denies it
    supported: bool = False  # the sentence supports the part (see `_match`)


@dataclass(frozen=True)
class Verdict:
    says: str  # "Yes" | "No"; "Before" | "After" for "… before or after …?"
    parts: tuple[Part, ...]  # the parts whose sentences are cited, in the question's order
    why: str = ""  # for a verdict from dates: "the first was reported on …"


def asking_sentence(question: str) -> str:
    """The last sentence of the question that asks something (the whole question when none does)."""
    spans = [question[a:b].strip() for a, b in split_spans(question)]
    asking = [s for s in spans if s.endswith("?")]
    return (asking or spans or [question.strip()])[-1]


def is_polar(question: str) -> bool:
    """Does the question ask yes or no: its asking sentence opens with an auxiliary verb ("Did …", "Is it true that
    …"), after an attribution clause if any ("According to CNN, did …")? "Did who …", "Is what …", "Can you tell me
    …", "Do you know …", "Is Google or Apple …?" and "Did CNN report which …?" ask otherwise, as does a question
    word after a leading clause ("Benzene, a chemical, was found in which product?"); "… before or after …?" asks
    for the order of two reports ("Before" or "After"). So does a quiz's "True or false: <statement>"."""
    if true_or_false(question):
        return True
    lead, body = _lead(asking_sentence(question))
    either = _EITHER.search(body.rstrip(" ?")) and not _ORDER.search(body)
    statement = re.match(r"^\w+\s+it\s+true\s+that\b", body, re.I)  # "is it true that …" states the rest
    which = _EMBEDDED.match(body) or (lead and not statement and _ASKS_WHICH.search(body))
    return bool(_ASKS.match(body)) and not _REQUEST.match(body) and not either and not which


def true_or_false(question: str) -> bool:
    """Is it a quiz's "True or false: …" (or "Fact or fiction: …"), answered "True" or "False"?"""
    return bool(_TRUE_FALSE.match(question))


def _lead(sentence: str) -> tuple[str, str]:
    """The sentence's leading clause and the rest; none when the sentence opens with its auxiliary ("Did CNN report
    that Harris, who is 22, was sentenced …?" has no lead before "was")."""
    lead = None if _ASKS.match(sentence) else _LEAD.match(sentence)
    return (sentence[: lead.end()], sentence[lead.end():]) if lead else ("", sentence)


def proposition(question: str) -> str:
    """The question as a statement's words: the attribution clause kept, the auxiliary and the question mark
    dropped ("Did CNN report that X?" → "CNN report that X"; "True or false: X." → "X")."""
    if m := _TRUE_FALSE.match(question):
        return question[m.end():].strip().rstrip(" ?.")
    sentence = asking_sentence(question)
    head, body = _lead(sentence)
    body = re.sub(rf"^(?:{'|'.join(_AUX)})\s+(?:it\s+true\s+that\s+)?", "", body, flags=re.I)
    return (head + body).rstrip(" ?")


def parts(question: str) -> tuple[list[str], str]:
    """The proposition's parts and the order asked between the first two ("before", "after", "which" for "before or
    after", or ""): "Did CNN
    report that A before it reported that B?" → (["CNN report that A", "it reported that B"], "before")."""
    prop = proposition(question)
    m = _ORDER.search(prop)
    if m:
        first, second = prop[: m.start()], prop[m.end():]
        if len(stems(first) - _REPORTING) >= 2 and len(stems(second) - _REPORTING) >= 2:
            word = m.group(1).lower()
            earlier = word in ("before", "earlier than", "prior to")
            order = "which" if " or " in word else "before" if earlier else "after"
            return [first, second], order
    pieces = [p.strip(" ,") for p in _AND.split(prop)]
    return [p for p in pieces if len(stems(p) - _REPORTING) >= 1] or [prop], ""


def _match(part: str, context: Sequence[Evidence], idf: Mapping[str, float]) -> Part:
    """The part's sentence: the one that supports it best (covers at least `SUPPORTED`, or `SUPPORTED_SIMILAR` when
    close in meaning; whole when the part is short; does not deny it, names what the part names and states its
    amounts within `NAMES_WITHIN` characters); when none does, the one that says otherwise best (covers at least
    `OTHERWISE` leaving aside one name or amount that it replaces with another, or covers `DENIED` and denies it);
    else the closest, unsupported."""
    weights = {st: w for st, w in term_weights(part, idf).items() if st not in _REPORTING}
    if len(weights) < MIN_WORDS:
        return Part(part, None, 0.0, False)
    names = question_names(part)
    plain = part
    for source in {ev.article.source for ev in context if ev.article.source}:  # "Wire One", "Fox 5": no amount
        plain = re.sub(re.escape(source), " ", plain, flags=re.I)
    amounts = quantities(plain)
    negated = bool(_NEGATION.search(part))
    support = closest = Part(part, None, 0.0, False)
    whole_article: dict[str, set[str]] = {}  # each article's vocabulary, title and outlet included
    otherwise = closest
    for ev in context:
        art = ev.article
        have = stems(f"{ev.sentence.text}\n{art.title}\n{art.source}")
        full = weighted_share(weights, have)
        # "no date has been set" does not say that a date has been set
        denies = bool(_NEGATION.search(ev.sentence.text)) != negated
        if full > closest.covered:
            closest = Part(part, ev, full, False)
        stated = quantities(ev.sentence.text)
        # support names what the part names and states its amounts, in the sentence or near it
        whole = len(weights) >= FULL_BELOW or full == 1.0  # a short part's every word matters: "accepted talks"
        enough = full >= SUPPORTED or (full >= SUPPORTED_SIMILAR and ev.dense >= SIMILAR)
        if (enough and whole and not denies and full > support.covered
                and _holds(_around(ev), names, amounts)):
            support = Part(part, ev, full, False, True)
        rest = full if denies and full >= DENIED else 0.0  # negations are often reworded: a denial needs more
        if names and art.id not in whole_article:  # only a question that names something needs it
            whole_article[art.id] = vocabulary(f"{art.title}\n{art.source}\n{art.text}")
        # a name the sentence's whole article lacks, where the sentence names someone or something else ("Peskov"
        # for "the Kremlin" is no other name when the article names the Kremlin elsewhere)
        for name in names:
            if not name_in(name, whole_article[art.id]) and _names_another(ev.sentence.text, part):
                rest = max(rest, weighted_share({st: w for st, w in weights.items() if st not in stems(name)}, have))
        if _replaces(amounts, stated):
            rest = max(rest, weighted_share({st: w for st, w in weights.items()
                                             if not any(ch.isdigit() for ch in st)}, have))
        if rest >= OTHERWISE and rest > otherwise.covered:
            otherwise = Part(part, ev, rest, True)
    return support if support.evidence else otherwise if otherwise.evidence else closest


def _replaces(amounts: set[float], stated: set[float]) -> bool:
    """Does a sentence stating `stated` put another amount where the part has one of `amounts`: one of the part's
    amounts is not stated, and the sentence states one the part lacks ("33 hot dogs in 10 minutes" against "63 hot
    dogs … in 10 minutes")?"""
    return (any(not any(_close(a, b) for b in stated) for a in amounts)
            and any(not any(_close(a, b) for a in amounts) for b in stated))


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= AMOUNT_SLACK * max(abs(a), abs(b))


def _around(ev: Evidence) -> str:
    """A sentence's article's title and outlet, and its text around the sentence ("the singer" may be Adele a
    sentence before; "44 people" may be "more than 40" a sentence after)."""
    art, s = ev.article, ev.sentence
    return f"{art.title}\n{art.source}\n{art.text[max(0, s.start - NAMES_WITHIN):s.end + NAMES_WITHIN]}"


def _holds(text: str, names: list[str], amounts: set[float]) -> bool:
    """Does the text name every name and state every amount (within `AMOUNT_SLACK`)?"""
    have = quantities(text)
    words = vocabulary(text)
    return all(any(_close(a, b) for b in have) for a in amounts) and all(name_in(n, words) for n in names)


def _names_another(sentence: str, part: str) -> bool:
    """The sentence names something the part does not."""
    have = vocabulary(part)
    return any(not name_in(n, have) for n in question_names(sentence))


def verdict(question: str, contexts: Sequence[Sequence[Evidence]], idf: Mapping[str, float]) -> Verdict | None:
    """Yes, No, or None when the retrieved sentences do not settle it (see the module docstring). `contexts`: the
    sentences to match each of `parts(question)` against, in their order (one sequence serves them all)."""
    texts, order = parts(question)
    matched = tuple(_match(p, contexts[min(i, len(contexts) - 1)], idf) for i, p in enumerate(texts))
    if not all(p.supported or p.other for p in matched):
        return None
    if order and len(matched) == 2 and not any(p.other for p in matched):
        a, b = (p.evidence for p in matched)
        assert a is not None and b is not None
        da, db = a.article.date[:10], b.article.date[:10]
        if a.article.id == b.article.id or not da or not db or da == db:
            return None
        first_earlier = da < db
        if order == "which":  # "… before or after …?" asks which
            says = "Before" if first_earlier else "After"
        else:
            says = "Yes" if first_earlier == (order == "before") else "No"
        return Verdict(says, matched, f"the first was reported on {da}, the second on {db}")
    if any(p.other for p in matched):
        if order:  # a report that says otherwise does not date the reports
            return None
        return Verdict("No", tuple(p for p in matched if p.other))
    return Verdict("Yes", matched)
