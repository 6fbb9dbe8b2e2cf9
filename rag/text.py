"""Small text helpers shared by retrieval, citation checking and evals."""

from __future__ import annotations

import re
import string
import unicodedata

STOPWORDS = frozenset(
    """a an the and or but if of at by for with about against between into through during before after above below
    to from up down in out on off over under again further then once here there when where why how all any both
    each few more most other some such no nor not only own same so than too very s t can will just don should now
    is are was were be been being have has had having do does did doing i me my we our you your he him his she her
    it its they them their what which who whom this that these those am would could also as said says say""".split()
)


def normalize(text: str) -> str:
    """Lower-case, strip accents, punctuation and articles (SQuAD-style answer normalisation)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("’", "'").replace("“", '"').replace("”", '"')
    text = "".join(" " if ch in string.punctuation else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def words(text: str) -> list[str]:
    return normalize(text).split()


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS]
