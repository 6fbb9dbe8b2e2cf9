"""`outlets`: questions that name two outlets reporting their answer, "Which country, reported by both USA Today
and CNN, …?", the shape of questions a reader asks over several outlets' coverage; and `outlets-refusal`, the same
questions once no page left states their answer.

Built in code from the `realtimeqa-web` items (USA Today's and The Week's quiz questions over the web pages a search
engine returned that week, from USA Today, CNN and The Week). A question whose answer is stated by pages of two or
more outlets (the accuracy metric's test, as `realtimeqa-web` decides answerability) names two of them, picked and
ordered by sha1(question id), as readers write them (`NAMES`: "USA Today", not "usatoday.com"). The clause's
place is sha1(question id) modulo 3:

0. after the question word and its noun, when a verb follows: "Which country, reported by both USA Today and CNN,
   announced …?" ("Who, according to both CNN and The Week, …?"; a question opening another way takes template 1);
1. "According to both USA Today and CNN, which country announced …?";
2. "Which country announced …, as reported by both USA Today and CNN?"

Answers, evidence, corpus and split stay those of the original question; id "outlets-<quiz question id>";
category "outlets".

`outlets-refusal`: every page that states the answer of any `outlets` question leaves the corpus (the other pages
stay: search results on the same stories, so the questions stay on topic), and a question is kept only when no
page left contains its answer; every one must be refused. Id "outlets-refusal-<quiz question id>".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from rag.answer.outlet_names import outlet_label
from rag.evals.datasets.common import Item
from rag.evals.datasets.long import lower_first
from rag.evals.questions import Question

DESCRIPTION = ("Questions naming two outlets that reported the answer (\"Which country, reported by both USA Today "
               "and CNN, ...?\"): each realtimeqa-web question whose answer pages of two outlets state, over its "
               "own web pages.")
REFUSAL_DESCRIPTION = ("The outlets questions with every page that states an answer removed, kept only when no page "
                       "left contains their answer; every question must be refused.")
NAMES = {"usatoday": "USA Today", "cnn": "CNN", "theweek": "The Week"}  # how readers write the outlets of the data
_PREFIX = "realtimeqa-web-"
_AUX = r"(?:is|was|are|were|did|does|do|has|have|had|will|would|can|could)\b"
# "Which country announced", "What company was": the question word and its noun, when a verb follows (an auxiliary,
# a common past tense, or a word in "-ed"); "Which well-known pizza chain …", "Which state's voters …" take template 1
_PAST = r"(?:won|lost|said|made|became|took|led|held|left|got|sent|found|told|paid|sold|broke|gave|ran|hit|set|saw)\b"
_WH_NOUN = re.compile(rf"^((?:Which|What)\s+(?!{_AUX})[a-z][\w-]*)\s+(?={_AUX}|{_PAST}|[a-z]+ed\b)")
_WH_ALONE = re.compile(r"^(Who|Where|When)\s+(?=\w)")


def build(sources: Sequence[Item]) -> list[Item]:
    """The outlets items of `sources` (realtimeqa-web items), in their order (see the module docstring)."""
    out: list[Item] = []
    for it in sources:
        q = it.question
        labels = sorted({outlet_label(a.source) for a in it.evidence_articles() if a.source})
        if not q.answerable or len(labels) < 2:
            continue
        digest = hashlib.sha1(q.id.encode()).digest()
        pair = [labels[digest[1] % len(labels)]]
        rest = [x for x in labels if x != pair[0]]
        pair.append(rest[digest[2] % len(rest)])
        names = [NAMES.get(x, x) for x in pair]
        text = name_outlets(q.question, names[0], names[1], digest[0] % 3)
        qid = f"outlets-{q.id.removeprefix(_PREFIX)}"
        out.append(Item(Question(qid, text, q.answers, True, q.evidence, q.history, "outlets"), it.articles,
                        it.split))
    return out


def name_outlets(question: str, first: str, second: str, template: int) -> str:
    """`question` with a clause naming the two outlets (template 0, 1 or 2; see the module docstring)."""
    question = question.strip()
    both = f"both {first} and {second}"
    if template == 0:
        if m := _WH_NOUN.match(question):
            return f"{m.group(1)}, reported by {both}, {question[m.end():]}"
        if m := _WH_ALONE.match(question):
            return f"{m.group(1)}, according to {both}, {question[m.end():]}"
        template = 1
    if template == 1:
        return f"According to {both}, {lower_first(question)}"
    return f"{question.rstrip('?').rstrip()}, as reported by {both}?"


def build_refusal(sources: Sequence[Item]) -> list[Item]:
    """`outlets-refusal` (see the module docstring): each outlets question over the pages left once every page
    stating an outlets question's answer is gone, kept when none of them contains its answer."""
    from rag.evals.run import contains_answer

    asked = build(sources)
    stating = {url for it in asked for url in it.question.evidence}
    out: list[Item] = []
    for it in asked:
        left = tuple(a for a in it.articles if a.url not in stating and a.id not in stating)
        q = it.question
        if not left or any(contains_answer(f"{a.title}\n{a.text}", q.answers) for a in left):
            continue
        qid = f"outlets-refusal-{q.id.removeprefix('outlets-')}"
        out.append(Item(Question(qid, q.question, (), False, (), q.history, "outlets-refusal"), left, it.split))
    return out
