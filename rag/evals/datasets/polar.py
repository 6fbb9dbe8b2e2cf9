"""`polar`: yes/no questions over the RealTimeQA corpus, built in code from CNN's own quiz text.

Each CNN quiz question comes with the quiz writer's summary of the article (its `evidence` field: "Ford is pulling
the plug on an effort to develop its first fully self-driving car, …"), a paraphrase, not a copy, of the article.
Its first sentence that holds the right choice is a claim the article supports; with the right choice swapped for
one of the quiz's wrong ones ("Tesla is pulling the plug …") it is one the article contradicts. Per question:

* `polar-yes-<id>`: "Did CNN report that <claim>?", answer "Yes";
* `polar-no-<id>`: the same with the claim's answer swapped for a wrong choice (sha1(id) picks which), answer "No";
* `polar-order-<id>-<next id>`: two questions of the same split whose gold articles have different dates, in
  their order: "Did CNN report that <first claim> before it reported that <second claim>?" (or "after", by
  sha1), answered by the articles' dates.

The wording is one of three templates by sha1(id) modulo 3 ("Did CNN report that …?", "According to CNN, is it true
that …?", "Did CNN's reporting say that …?"). Evidence, corpus and split are those of the original question(s); a
question whose quiz text holds no sentence with its answer is left out. Answers are "Yes" or "No": the accuracy
metric reads them as the answer's first word, a verdict, not a word inside a quote.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from rag.evals.datasets.common import Item
from rag.evals.datasets.long import lower_first
from rag.evals.datasets.realtimeqa import QuizClaim
from rag.evals.questions import Question

DESCRIPTION = ("Yes/no questions over the RealTimeQA corpus: CNN's quiz summary of each gold article as a claim "
               "(answer Yes), the claim with its answer swapped for a wrong choice (No), and two claims in report "
               "order (\"… before it reported that …\", answered by the articles' dates).")
_ASK = ("Did CNN report that {}?", "According to CNN, is it true that {}?", "Did CNN's reporting say that {}?")


def _hash(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest(), 16)


def _claim(sentence: str) -> str:
    return lower_first(sentence.strip().rstrip(".!").strip())


def swapped(claim: QuizClaim, key: str) -> str:
    """The claim's sentence with its answer replaced by one of the wrong choices (sha1 of `key` picks it)."""
    wrong = claim.wrong[_hash(key) % len(claim.wrong)]
    return re.sub(rf"(?<!\w){re.escape(claim.answer)}(?!\w)", lambda _: wrong, claim.sentence, count=1, flags=re.I)


def build(sources: Sequence[Item], claims: dict[str, QuizClaim]) -> list[Item]:
    """The polar items of `sources` (RealTimeQA items) whose quiz text gives a claim (see the module docstring)."""
    out: list[Item] = []
    usable = [it for it in sources if it.question.id in claims and claims[it.question.id].wrong]
    for it in usable:
        q, claim = it.question, claims[it.question.id]
        ask = _ASK[_hash(q.id) % len(_ASK)]
        base = q.id.removeprefix("realtimeqa-")
        for kind, text, answer in (("yes", claim.sentence, "Yes"), ("no", swapped(claim, q.id), "No")):
            question = Question(f"polar-{kind}-{base}", ask.format(_claim(text)), (answer,), True, q.evidence,
                                category=f"polar-{kind}")
            out.append(Item(question, it.articles, it.split))
    for one, two in zip(usable, usable[1:], strict=False):
        da, db = (_gold_date(x) for x in (one, two))
        if one.split != two.split or not da or not db or da == db:
            continue
        before = _hash(one.question.id + two.question.id) % 2 == 0
        word = "before" if before else "after"
        text = (f"Did CNN report that {_claim(claims[one.question.id].sentence)} {word} it reported that "
                f"{_claim(claims[two.question.id].sentence)}?")
        answer = "Yes" if (da < db) == before else "No"
        pair = f"{one.question.id.removeprefix('realtimeqa-')}-{two.question.id.removeprefix('realtimeqa-')}"
        articles = tuple({a.id: a for a in one.articles + two.articles}.values())
        question = Question(f"polar-order-{pair}", text, (answer,), True, one.question.evidence + two.question.evidence,
                            category="polar-order")
        out.append(Item(question, articles, one.split))
    return out


def _gold_date(item: Item) -> str:
    gold = item.evidence_articles()
    return gold[0].date[:10] if gold else ""
