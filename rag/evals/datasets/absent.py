"""`absent`: real questions about a name the articles never mention; every one must be refused.

Built in code from the RealTimeQA and RGB items (questions and corpora as those readers give them): in each
question, the key name is swapped for an invented one.

* Key name: a run of capitalised words in the question ("Donald Trump", "U.S. Open", "Grey's Anatomy") or part of
  one, spelt the same way in the question's gold evidence (the RealTimeQA gold article, the RGB positive snippets)
  and not part of a gold answer. It may not start or end with a function word ("Which", "The"), a month or weekday,
  or a single letter, nor start with a title ("President", "Sen."), which stays; a sentence's first word counts
  only when the evidence never writes it in lower case ("NASA released…" yes, "Rents in the US…" no). The longest
  key wins (most words, then the first); a question without one is left out.
* Replacement: from the fixed invented names below. A key of two or more words that ends in a generic head ("Ivy
  League", "Nobel Prize", "Supreme Court", "U.S. Open") keeps the head and gets a one-word name before it ("Velmora
  League"); other keys of two or more words get a two-word name, one-word keys a one-word name. A name is usable
  only if none of its words occurs anywhere (case-insensitively, even inside a word) in the titles and texts of all
  the source articles; the pick is sha1(question id) modulo the usable names, so it does not depend on the other
  questions. Every occurrence of the key in the question is replaced.
* The question's corpus is unchanged (the gold article stays: on topic, but silent about the invented name);
  answers and evidence are empty; id "absent-<original id>"; category "absent-<original category>"; split: the
  original question's (`splits`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.evals.datasets.common import Item
from rag.evals.questions import Question

DESCRIPTION = ("Absent entities: RealTimeQA and RGB questions with their key name (a capitalised name that occurs in "
               "the gold evidence) swapped for an invented name that occurs nowhere in the corpus; the corpus is "
               "unchanged, so every question must be refused.")
ONE_WORD = ("Velmora", "Ostrakai", "Quillmere", "Drevania", "Taskarov", "Bellvik", "Marundel", "Koravin", "Elthorne",
            "Vashkiro", "Pellanor", "Strovakia", "Zarnovic", "Lunquist", "Tarvellen", "Orsanne")
TWO_WORD = ("Halvar Ostrinsky", "Merisande Quenby", "Teodric Vashenko", "Ilsabet Brannagh", "Orevan Maltavi",
            "Pettra Lindqvar", "Caspiel Druell", "Nadrielle Korvalis", "Emeric Stavrolund", "Jorvik Pemberlane",
            "Sabeline Arquette", "Tavish Morrowind", "Lucarne Vesk", "Odalric Fenwhistle", "Brisa Calderwyn",
            "Anselm Quarrington")
_NOT_NAMES = {
    "which", "what", "who", "whom", "whose", "when", "where", "why", "how", "the", "a", "an", "in", "on", "at",
    "after", "before", "during", "according", "this", "that", "these", "those", "as", "for", "of", "to", "is", "was",
    "are", "were", "did", "does", "do", "has", "have", "had", "will", "would", "can", "could", "should", "it", "its",
    "his", "her", "their", "and", "or", "but", "by", "from", "with", "since", "while", "if", "last", "about",
    "approximately", "besides", "roughly", "some", "many", "january", "february", "march", "april",
    "may", "june", "july", "august", "september", "october", "november", "december", "monday", "tuesday",
    "wednesday", "thursday", "friday", "saturday", "sunday",
}
_TITLES = {
    "president", "vice", "sen", "senator", "rep", "representative", "gov", "governor", "mayor", "judge", "justice",
    "king", "queen", "prince", "princess", "pope", "dr", "mr", "mrs", "ms", "secretary", "minister", "prime",
    "chancellor", "ceo", "gen", "general", "chief", "speaker", "leader", "former", "first", "lady", "sir", "dame",
}
_HEADS = _TITLES | {
    "league", "court", "cup", "prize", "award", "awards", "olympics", "games", "open", "university", "college",
    "school", "house", "party", "department", "administration", "agency", "council", "committee", "senate",
    "congress", "parliament", "ministry", "company", "corporation", "inc", "bank", "fund", "foundation", "institute",
    "museum", "festival", "series", "championship", "championships", "bowl", "tournament", "summit", "conference",
    "act", "island", "islands", "river", "lake", "county", "city", "state", "province", "republic", "kingdom",
    "airlines", "motors", "group", "network", "times", "post", "news", "journal", "stadium", "airport", "hospital",
    "church", "army", "navy", "force", "club", "team", "season", "show", "index", "exchange", "street", "square",
    "bridge", "tower", "center", "centre", "hall", "palace", "office", "service", "commission", "board", "union",
    "association", "federation", "organization", "organisation",
}
# A capitalised word: "Biden", "McConnell", "Jean-Pierre", "U.S.", "O'Brien", "Biden's" (a possessive, left out of
# the key), "Biden." (a sentence's last word: the dot is left out and the run ends).
_WORD = re.compile(r"[A-Z][\w-]*(?:\.[A-Z][\w-]*)*\.?(?:['’](?:s\b|[A-Z][\w-]*))?")


@dataclass(frozen=True)
class _Word:
    start: int
    end: int  # without a possessive 's or a sentence's final dot
    raw_end: int
    last_in_sentence: bool

    def text(self, s: str) -> str:
        return s[self.start : self.end]


def build(sources: Sequence[Item], one_word: Sequence[str] = ONE_WORD, two_word: Sequence[str] = TWO_WORD
          ) -> list[Item]:
    """The absent-entity items of `sources`, in their order (see the module docstring)."""
    corpus = "\n".join(f"{a.title}\n{a.text}" for it in sources for a in it.articles).casefold()
    ones, twos = (tuple(n for n in names if not any(w.casefold() in corpus for w in n.split()))
                  for names in (one_word, two_word))
    out: list[Item] = []
    for it in sources:
        q = it.question
        key = key_name(q.question, "\n".join(f"{a.title}\n{a.text}" for a in it.evidence_articles()), q.answers)
        words = key.split()
        pick = int(hashlib.sha1(q.id.encode()).hexdigest(), 16)
        if len(words) > 1 and _fold(words[-1]) in _HEADS and ones:
            name = f"{ones[pick % len(ones)]} {words[-1]}"
        elif len(words) > 1 and twos:
            name = twos[pick % len(twos)]
        elif len(words) == 1 and ones:
            name = ones[pick % len(ones)]
        else:
            continue
        text = re.sub(rf"(?<!\w){re.escape(key)}(?!\w)", name, q.question)
        out.append(Item(Question(f"absent-{q.id}", text, (), False, (), category=f"absent-{q.category}"),
                        it.articles, it.split))
    return out


def key_name(question: str, evidence: str, answers: Sequence[str] = ()) -> str:
    """The question's key name for `evidence` (see the module docstring); "" when there is none."""
    best: tuple[int, int] = (0, 0)
    key = ""
    for run in _runs(question):
        for i, first in enumerate(run):
            if not _may_edge(first, question) or _fold(first.text(question)) in _TITLES:
                continue
            if _sentence_start(question, first.start) and re.search(
                    rf"(?<!\w){re.escape(first.text(question).lower())}(?!\w)", evidence):
                continue
            for j in range(i, len(run)):
                if not _may_edge(run[j], question):
                    continue
                span = question[first.start : run[j].end]
                folded = span.casefold()
                if any(folded in a.casefold() or a.casefold() in folded for a in answers if a.strip()):
                    continue
                rank = (j - i + 1, -first.start)
                if rank > best and re.search(rf"(?<!\w){re.escape(span)}(?!\w)", evidence):
                    best, key = rank, span
    return key


def _runs(text: str) -> list[list[_Word]]:
    """Capitalised words separated by single spaces, a run ending at a sentence's last word."""
    runs: list[list[_Word]] = []
    for m in _WORD.finditer(text):
        if m.start() and (text[m.start() - 1].isalnum() or text[m.start() - 1] in "_'’"):
            continue  # inside a word: "iPhone"
        raw = m.group()
        end, last = m.end(), False
        if raw.endswith(("'s", "’s")):
            end -= 2
        elif raw.endswith(".") and "." not in raw[:-1]:
            end, last = end - 1, True
        word = _Word(m.start(), end, m.end(), last)
        prev = runs[-1][-1] if runs else None
        if prev and not prev.last_in_sentence and word.start == prev.raw_end + 1 and text[prev.raw_end] == " ":
            runs[-1].append(word)
        else:
            runs.append([word])
    return runs


def _fold(word: str) -> str:
    return word.rstrip(".").casefold()


def _may_edge(word: _Word, text: str) -> bool:
    w = word.text(text)
    return len(w) >= 2 and _fold(w) not in _NOT_NAMES


def _sentence_start(text: str, pos: int) -> bool:
    return pos == 0 or re.search(r"[.?!][\"'’”)]?\s+$", text[:pos]) is not None
