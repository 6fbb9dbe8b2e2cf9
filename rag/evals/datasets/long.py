"""`long`: long multi-clause questions, answerable: each RealTimeQA question with a clause naming the outlet and
the date of its gold article.

Built in code from the RealTimeQA items. The clause comes from the first gold article (`source`, and `date` written
out as "June 12, 2022"); the template is sha1(question id) modulo 3:

0. "According to CNN's report of June 12, 2022, which wildly popular show ...?"
1. "Which wildly popular show ..., as CNN reported on June 12, 2022?"
2. "Going by the CNN article published on June 12, 2022 and the events it describes, which wildly popular ...?"

A gold article without a date gives "According to CNN's report, ...". The first letter of the original question
is lower-cased after a leading clause when its first word is a question word or another function word ("Which",
"The", "In"), never for names. Answers, evidence, corpus and split stay those of the original question; id
"long-<original id>"; category "long". A question whose gold article names no outlet is left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date as Date

from rag.evals.datasets.common import Item
from rag.evals.questions import Question

DESCRIPTION = ("Long multi-clause questions: each RealTimeQA question with a clause naming the outlet and date of "
               "its gold article (\"According to CNN's report of June 12, 2022, ...\"); same answers, evidence and "
               "corpus as realtimeqa.")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # not strftime("%B"): that follows the locale
_LOWER_FIRST = {
    "which", "what", "who", "whom", "whose", "when", "where", "why", "how", "the", "a", "an", "in", "on", "at",
    "after", "before", "during", "this", "these", "last", "since", "for", "from", "to", "is", "was", "are", "were",
    "did", "does", "do", "has", "have", "will", "can", "could", "would", "should", "approximately", "about",
    "besides", "roughly", "as", "according", "following", "despite", "amid", "over", "nearly", "more", "some",
}


def build(sources: Sequence[Item]) -> list[Item]:
    """The long-question items of `sources`, in their order (see the module docstring)."""
    out: list[Item] = []
    for it in sources:
        gold = next((a for a in it.evidence_articles() if a.source.strip()), None)
        if gold is None:
            continue
        q = it.question
        template = int(hashlib.sha1(q.id.encode()).hexdigest(), 16) % 3
        text = lengthen(q.question, gold.source.strip(), gold.date, template)
        out.append(Item(Question(f"long-{q.id}", text, q.answers, q.answerable, q.evidence, q.history, "long"),
                        it.articles, it.split))
    return out


REFUSAL_DESCRIPTION = ("Long multi-clause questions that the corpus cannot answer: each long question (see `long`) "
                       "over the RealTimeQA corpus without any question's gold article, kept only when no article "
                       "left contains one of its answers; every question must be refused.")


def build_refusal(sources: Sequence[Item]) -> list[Item]:
    """`long-refusal`: the long questions of `sources` made unanswerable. Every gold article of every source item
    leaves the corpus (the distractors stay: web-search results on the same stories, so the questions stay on
    topic), and a question is kept only when no remaining article contains one of its answers (normalised
    containment, the accuracy metric's own test). The clause still names the now missing report's outlet and date,
    as a user who misremembers the source would. Id "long-refusal-<original id>"; split that of the original."""
    from rag.evals.run import contains_answer

    gold = {a.id for it in sources for a in it.evidence_articles()}
    left = {a.id: f"{a.title}\n{a.text}" for it in sources for a in it.articles if a.id not in gold}
    texts = list(left.values())
    out: list[Item] = []
    for it in build(sources):
        q = it.question
        if not q.answers or any(contains_answer(t, q.answers) for t in texts):
            continue
        out.append(Item(Question(f"long-refusal-{q.id.removeprefix('long-')}", q.question, (), False, (), q.history,
                                 "long-refusal"), tuple(a for a in it.articles if a.id not in gold), it.split))
    return out


def lengthen(question: str, outlet: str, iso_date: str, template: int) -> str:
    """`question` with a clause naming `outlet` and the date (template 0, 1 or 2; see the module docstring)."""
    question = question.strip()
    when = spoken_date(iso_date)
    lowered = lower_first(question)
    if not when:
        return f"According to {outlet}'s report, {lowered}"
    if template == 1:
        return f"{question.rstrip('?').rstrip()}, as {outlet} reported on {when}?"
    if template == 2:
        return f"Going by the {outlet} article published on {when} and the events it describes, {lowered}"
    return f"According to {outlet}'s report of {when}, {lowered}"


def spoken_date(iso_date: str) -> str:
    """"2022-06-12" (or an ISO timestamp) -> "June 12, 2022"; anything else as it is, stripped."""
    try:
        d = Date.fromisoformat(iso_date.strip()[:10])
    except ValueError:
        return iso_date.strip()
    return f"{_MONTHS[d.month - 1]} {d.day}, {d.year}"


def lower_first(question: str) -> str:
    first = question.split(maxsplit=1)[0] if question.split() else ""
    if first.strip(",").casefold() in _LOWER_FIRST:
        return question[0].lower() + question[1:]
    return question
