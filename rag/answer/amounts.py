"""Amounts a sentence states ("4.2 million", "twenty-five", "20%"), and whether two sources disagree on one."""

from __future__ import annotations

import re

from rag.answer.answerability import expected_type
from rag.text import normalize

_QUANTITY = re.compile(r"(?<![\w.\-])(\d+(?:,\d{3})+|\d+(?:\.\d+)?)(?:\s*(million|billion|thousand|bn)\b)?(?![\w\-])",
                       re.I)
_YEAR = re.compile(r"(19|20)\d\d")  # "2019" is a year, not an amount; "2,019" would be an amount
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "bn": 1e9}
_UNITS = {w: float(i) for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve "
                                            "thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10.0 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split())
         if i > 1}


def _word_amounts(text: str) -> set[float]:
    """Amounts written in words, each run read as one: "twenty-five" = 25, "two hundred" = 200,
    "twelve million" = 12,000,000, "a dozen" = 12."""
    found: set[float] = set()
    total = current = 0.0
    in_run = False
    for w in normalize(text).split() + [""]:
        if w in _UNITS or w in _TENS or w == "dozen":
            current += _UNITS.get(w, _TENS.get(w, 12.0 if w == "dozen" else 0.0))
        elif w == "and" and in_run and current >= 100:  # "two hundred and five"
            continue
        elif w == "hundred" and in_run:
            current *= 100
        elif w in ("thousand", "million", "billion") and in_run:
            total += current * _SCALE[w]
            current = 0.0
        else:
            if in_run:
                found.add(total + current)
            total = current = 0.0
            in_run = False
            continue
        in_run = True
    return found


def quantities(text: str) -> set[float]:
    """The amounts a sentence states: '4.2 million' = '4,200,000', 'twenty-five' = '25', '20%' = '20 percent'.
    Years (1900-2099 written as four digits) are dates, not amounts; '21st', 'COVID-19' and 'Pixel 5a' are not
    amounts either."""
    found = {float(n.replace(",", "")) * _SCALE.get((scale or "").lower(), 1.0) for n, scale in _QUANTITY.findall(text)
             if scale or not _YEAR.fullmatch(n)}
    return found | _word_amounts(text)


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 0.01 * max(abs(a), abs(b))


def _beyond(question: str, text: str) -> set[float]:
    """The amounts the text states, leaving aside the question's own."""
    asked = quantities(question)
    return {x for x in quantities(text) if not any(_same(x, q) for q in asked)}


def conflicting_amounts(question: str, one: str, other: str) -> bool:
    """For a "how many/much" question: do two sentences state different amounts (none shared), leaving aside the
    question's own numbers. Both must state some amount; a rounding difference (1%) is not a disagreement."""
    if expected_type(question) != "number":
        return False
    a, b = _beyond(question, one), _beyond(question, other)
    return bool(a and b) and not any(_same(x, y) for x in a for y in b)


def restates_amounts(question: str, one: str, other: str) -> bool:
    """Does `other` state every amount `one` states beyond the question's (within 1%)? "Ghana has confirmed its first
    two cases" and "…after two people who tested positive…": yes; "ascended to the throne on February 6, 1952" and
    "On Sept. 9, 2015, …": no."""
    b = _beyond(question, other)
    return all(any(_same(x, y) for y in b) for x in _beyond(question, one))
