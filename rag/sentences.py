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
# A sentence ends at . ! ? (or an ellipsis), optionally followed by closing quotes/brackets.
_END = re.compile(r"(?:\.\.\.|…|[.!?])+[\"'”’»)\]]*(?=\s)")
_NEXT_START = re.compile(r"\s+[\"'“‘«(\[]*[A-Z0-9¿¡]")


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
            if not _NEXT_START.match(line, end) or _is_abbreviation(line, m.start(), m.group()):
                continue
            _add(spans, line, line_start, start, end)
            start = end
        _add(spans, line, line_start, start, len(line))
    return spans


def _is_abbreviation(line: str, dot: int, mark: str) -> bool:
    if not mark.startswith("."):
        return False
    word = re.search(r"[\w.]+$", line[:dot])
    if not word:
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
