"""What kind of answer a question asks for, and whether a sentence holds one: the answerability check
behind extractive answers and refusals."""

from __future__ import annotations

import re

from rag.text import STOPWORDS, normalize

NUMBER_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
                "dozen": "12", "twenty": "20", "hundred": "100", "thousand": "1000", "million": "1000000",
                "billion": "1000000000"}
MONTHS = ("january february march april may june july august september october november december "
          "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday "
          "sunday today yesterday week weekend month year").split()

_TYPES = (
    ("number", re.compile(r"\bhow (many|much|old|long|far|big|large)\b|\bwhat (share|percentage|percent|number|"
                          r"amount|proportion|fraction)\b|\bhow many\b", re.I)),
    ("date", re.compile(r"\bwhen\b|\bwhat (year|date|day|month|time)\b|\bwhich (year|date|day|month)\b", re.I)),
    ("name", re.compile(r"\bwho\b|\bwhose\b|\bwhom\b|\bwhich (person|man|woman|official|leader|company|team|"
                        r"country|city|region|state|group|organi[sz]ation|party|platform|newspaper)\b|"
                        r"\bwhat (company|country|city|team|organi[sz]ation|platform|name)\b|\bwhere\b", re.I)),
)


def expected_type(question: str) -> str:
    """'number' | 'date' | 'name' | 'other'."""
    for kind, pattern in _TYPES:
        if pattern.search(question):
            return kind
    return "other"


def _stem(word: str) -> str:
    word = NUMBER_WORDS.get(word, word)
    if word.isdigit():
        return word
    for suffix in ("ians", "ian", "ia", "ies", "es", "s", "n"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word[:5]


def stems(text: str) -> set[str]:
    return {_stem(w) for w in normalize(text).split() if w not in STOPWORDS}


def coverage(question: str, sentence: str) -> float:
    """Share of the question's content-word stems found in the sentence."""
    q = stems(question)
    return len(q & stems(sentence)) / len(q) if q else 0.0


def has_answer_type(sentence: str, question: str) -> bool:
    """Does the sentence contain something of the kind the question asks for, beyond the question's words?"""
    kind = expected_type(question)
    q = stems(question)
    raw = sentence.split()
    if kind == "number":
        return any(_stem(w) not in q and (w.isdigit() or w in NUMBER_WORDS) for w in normalize(sentence).split())
    if kind == "date":
        norm = normalize(sentence).split()
        return any(w in MONTHS or re.fullmatch(r"(1[89]|20)\d\d", w) for w in norm if _stem(w) not in q)
    if kind == "name":
        caps = [w for i, w in enumerate(raw) if i > 0 and w[:1].isupper()]
        return any(_stem(normalize(w)) not in q for w in caps if normalize(w))
    return len(stems(sentence) - q) >= 2
