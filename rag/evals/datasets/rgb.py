"""RGB `en_fact` (Chen et al., AAAI 2024; CC BY-NC-SA 4.0): 100 news-event questions with snippets.

File: `<evaldata>/rgb/en_fact.json` (JSON lines despite the name): per question `query`, `answer` (a string, a list,
or a list of lists of alternatives), `positive` snippets (hold the answer) and `negative` ones (on topic, no answer).
Each snippet is an article (no title); a snippet repeated across questions is one article.

* `rgb`: corpus = positive and negative snippets; evidence = the question's positive snippet ids.
* `rgb-refusal` (the paper's protocol): corpus = negative snippets only, so every question must be refused. One
  corpus serves all questions, so negatives that are another question's positive or hold any question's answer are
  dropped, and so are those holding a key of their own question's answer (its year, else its last long word): RGB
  marks a negative by exact string match, and many "negatives" answer in other words ("released May 2012" for
  "May 15, 2012").

Split: by question id (`splits.by_id`), the same for both sets.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.evals.datasets import splits
from rag.evals.datasets.common import Item, read_jsonl, require
from rag.evals.questions import Question
from rag.ingest.articles import Article

DESCRIPTION = ("RGB en_fact (Chen et al.; CC BY-NC-SA 4.0): news-event questions; corpus = positive and negative "
               "snippets; evidence = positive snippet ids.")
REFUSAL_DESCRIPTION = ("RGB en_fact refusal protocol (Chen et al.; CC BY-NC-SA 4.0): corpus = only the negative "
                       "snippets (minus those that answer any question), so every question must be refused.")


def items(root: Path, refusal: bool = False) -> list[Item]:
    records = list(read_jsonl(require(root / "rgb" / "en_fact.json")))
    ids: dict[str, str] = {}  # snippet text -> id of its first occurrence; some snippets repeat across questions

    def snippets(qid: object, kind: str, texts: list[str]) -> tuple[Article, ...]:
        return tuple(Article(ids.setdefault(t, f"rgb-{qid}-{kind}{i}"), "", t) for i, t in enumerate(texts))

    positives = {t for rec in records for t in rec["positive"]}
    all_answers = {a.casefold() for rec in records for a in flatten(rec["answer"])}

    def answers_something(text: str, own: tuple[str, ...]) -> bool:
        folded = text.casefold()
        keys = {k for a in own for k in answer_keys(a.casefold())}
        return (text in positives or any(a in folded for a in all_answers)
                or any(re.search(rf"\b{re.escape(k)}\b", folded) for k in keys))

    out: list[Item] = []
    for rec in records:
        positive = snippets(rec["id"], "p", rec["positive"])
        negative = snippets(rec["id"], "n", rec["negative"])
        qid, query = f"rgb-{rec['id']}", rec["query"].strip()
        split = splits.by_id(qid)
        if refusal:
            safe = tuple(a for a in negative if not answers_something(a.text, flatten(rec["answer"])))
            out.append(Item(Question(qid, query, (), False, (), category="unanswerable"), safe, split))
        else:
            question = Question(qid, query, flatten(rec["answer"]), True, tuple(dict.fromkeys(a.id for a in positive)),
                                category="rgb")
            out.append(Item(question, positive + negative, split))
    return out


def answer_keys(answer: str) -> set[str]:
    """What a text must hold to (possibly) give this answer in other words: its years, else its last word of
    4+ characters, else the whole answer."""
    years = set(re.findall(r"\b(?:1[89]|20)\d\d\b", answer))
    if years:
        return years
    words = [w for w in re.findall(r"[^\W_][\w'-]*", answer) if len(w) >= 4]
    return {words[-1]} if words else {answer}


def flatten(answer: object) -> tuple[str, ...]:
    """RGB answers are a string, a list of strings, or a list of lists of alternatives."""
    if isinstance(answer, str):
        return (answer.strip(),) if answer.strip() else ()
    if isinstance(answer, list):
        return tuple(dict.fromkeys(s for part in answer for s in flatten(part)))
    return ()
