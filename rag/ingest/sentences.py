"""Split article text into sentences with exact character offsets: text[start:end] == sentence."""

from __future__ import annotations

import re
from dataclasses import dataclass

ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof gov sen rep gen lt col capt cmdr sgt adm maj pres sec atty supt rev st sr jr
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun
    inc co corp ltd llc plc bros dept univ assn est approx vs etc no nos vol fig al ave blvd rd mt ft
    u.s u.k u.n e.u d.c a.m p.m i.e e.g""".split()
)
# A sentence ends at a run of . ! ? … (taken whole, so a long run of dots cannot make the regex backtrack),
# optionally followed by closing quotes/brackets, then whitespace.
_END = re.compile(r"(?<![.!?…])[.!?…]++[\"'”’»)\]]*+(?=\s)")
# What follows a sentence end: whitespace, opening quotes/brackets, then the first character of the next sentence.
_NEXT_START = re.compile(r"\s+[\"'“‘«(\[]*+(.)")
# A numbered list marker at the start of a line ("1.", "10."), which is not a sentence of its own.
_LIST_MARKER = re.compile(r"\s*\d{1,3}")
_WORD_BEFORE = re.compile(r"[\w.]+$")
_LOOKBACK = 40  # longest word `_is_abbreviation` looks at; keeps splitting linear in the line length


@dataclass(frozen=True)
class Sentence:
    article_id: str
    n: int
    start: int
    end: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.article_id}:{self.n}"


def split_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans over `text`. Lines (headings, bylines, list items) never join across a newline."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        line_start = pos
        pos += len(line) + 1
        start = 0
        for m in _END.finditer(line):
            end = m.end()
            if not _starts_sentence(line, end) or _is_abbreviation(line, m.start(), m.group()):
                continue
            if start == 0 and m.group() == "." and _LIST_MARKER.fullmatch(line, 0, m.start()):
                continue
            _add(spans, line, line_start, start, end)
            start = end
        _add(spans, line, line_start, start, len(line))
    return spans


def _starts_sentence(line: str, end: int) -> bool:
    """Whether the text after a sentence end at `end` begins a new sentence: a capital (any script) or a digit."""
    m = _NEXT_START.match(line, end)
    if not m:
        return False
    first = m.group(1)
    return first.isupper() or first.istitle() or first.isdecimal() or first in "¿¡"


def _is_abbreviation(line: str, dot: int, mark: str) -> bool:
    if not mark.startswith("."):
        return False
    window = max(0, dot - _LOOKBACK)
    word = _WORD_BEFORE.search(line, window, dot)
    if not word or (word.start() == window and window > 0):  # no word, or one too long to be an abbreviation
        return False
    token = word.group().lower().strip(".")
    if token in ABBREVIATIONS:
        return True
    # initials: "J." in "J. Smith", "U.S" style dotted capitals
    return len(token) == 1 and token.isalpha() or bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", token))


def _add(spans: list[tuple[int, int]], line: str, offset: int, start: int, end: int) -> None:
    piece = line[start:end]
    stripped = piece.strip()
    if not stripped or not any(ch.isalnum() for ch in stripped):
        return
    lead = len(piece) - len(piece.lstrip())
    s = offset + start + lead
    spans.append((s, s + len(stripped)))


def split_sentences(article_id: str, text: str) -> list[Sentence]:
    return [Sentence(article_id, n, s, e, text[s:e]) for n, (s, e) in enumerate(split_spans(text))]
