"""Questions that name several outlets ("Which company, reported by both TechCrunch and The Verge, …", "According to
both CNN and USA Today, …"): the answer rests on one outlet's sentence, and the reader asked about both. Each named
outlet the answer does not cite yet is searched on its own, and a sentence of its articles that agrees with the
answer is cited too, so the reader sees each outlet say it (`agreeing`): one that says the same as the answer's
first cited sentence (embedding cosine at least `SAME_AT`, restating its amounts: "Ghana has confirmed its first cases
of the deadly Marburg virus …" for "Ghana has confirmed its first two cases of the highly infectious Marburg virus
disease"; not "On Sept. 9, 2015, Queen Elizabeth II became …" for "… ascended to the throne on February 6, 1952"), else
one that states the answer's short key ("Moldova") and is at least `AGREE_AT` likely to answer the question. When
none is found the answer says nothing of it: a search that misses a sentence is no evidence that the outlet never
reported it.

The pieces here are pure; `Answerer._corroborate` does the searching."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer.amounts import restates_amounts
from rag.answer.answerability import MONTHS, NUMBER_WORDS
from rag.answer.premise import outlet_label
from rag.answer.retrieve import Filters
from rag.answer.verifier import Question
from rag.store.store import url_host
from rag.text import STOPWORDS, normalize

_MARKER = re.compile(r"\s*\[\d+\]")
MAX_KEY = 3  # words an answer's key may have to be looked for in another outlet's sentences
# how likely (the verifier's probability that it answers the question) another outlet's sentence stating the key
# must be: far below what a quote needs (0.2-0.3), as it only repeats what a checked answer says, but not unrelated
AGREE_AT = 0.05
# cosine of two sentences (the MiniLM embedder) from which they say the same thing: on the outlets set's dev split,
# 0.86-0.95 were one fact in two outlets' words, 0.66-0.70 often another fact of the same story
SAME_AT = 0.8


def outlet_groups(filters: Filters) -> dict[str, tuple[str, ...]]:
    """The filter's outlets by what a question calls them: ("CNN", "edition.cnn.com", "usatoday.com") →
    {"cnn": ("CNN", "edition.cnn.com"), "usatoday": ("usatoday.com",)}."""
    groups: dict[str, tuple[str, ...]] = {}
    for name in filters.sources:
        label = outlet_label(name)
        groups[label] = (*groups.get(label, ()), name)
    return groups


def cited_outlets(sources_and_urls: list[tuple[str, str]]) -> set[str]:
    """The labels of the outlets (source, and the URL's host) of the cited articles."""
    out = set()
    for source, url in sources_and_urls:
        out |= {outlet_label(x) for x in (source, url_host(url)) if x}
    return out


def key(text: str, q: Question) -> set[str]:
    """What an answer states beyond the question, of the kind the question asks for (lower-cased words): numbers for
    "how many", dates for "when", otherwise names and numbers (capitalised words, digits); its content words when it
    has none of those. Citation markers are dropped. "Moldova. [1]" for "Which country …?" → {"moldova"}."""
    text = _MARKER.sub("", text)
    asked = set(normalize(q.text).split())
    words = [w for w in normalize(text).split() if w not in asked and w not in STOPWORDS]
    if q.kind == "number":
        return {w for w in words if any(ch.isdigit() for ch in w) or w in NUMBER_WORDS}
    if q.kind == "date":
        return {w for w in words if w in MONTHS or re.fullmatch(r"(1[89]|20)\d\d", w)}
    caps = {normalize(w) for w in text.split() if w.lstrip("\"'“‘(")[:1].isupper()}
    return {w for w in words if w in caps or any(ch.isdigit() for ch in w)} or set(words)


def states(sentence: str, answer_key: set[str]) -> bool:
    """Does the sentence state what the answer does: every word of a short key (`MAX_KEY`)? A longer key (a quoted
    sentence full of names) says too much to tell another sentence that agrees with it."""
    return 0 < len(answer_key) <= MAX_KEY and answer_key <= set(normalize(sentence).split())


def agreeing(question: str, cited: str, texts: Sequence[str], same: Sequence[float], likely: Sequence[float],
             answer_key: set[str]) -> int | None:
    """Which of another outlet's sentences (`texts`) agrees with the answer (see the module docstring): the one most
    like its cited sentence (`same`: cosines) among those at least `SAME_AT` alike that restate its amounts, else the
    likeliest (`likely`) that states the key; None when none does."""
    alike = [i for i, text in enumerate(texts) if same[i] >= SAME_AT and restates_amounts(question, cited, text)]
    if alike:
        return max(alike, key=lambda i: same[i])
    stating = [i for i, text in enumerate(texts) if likely[i] >= AGREE_AT and states(text, answer_key)]
    return max(stating, key=lambda i: likely[i]) if stating else None
