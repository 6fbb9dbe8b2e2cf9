"""One model of a conversation, used by the CLI's `rag chat`, the page and llama-index's chat engine alike.

A `Turn` keeps what was asked and what was shown. What the model reads of a past turn is decided here, once:
a refused turn contributes its question but not its refusal text ("The articles don't say…" is not a fact).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag.text import content_words

if TYPE_CHECKING:
    from rag.answer.records import Answer

MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_FOLLOW_UP = re.compile(r"\b(that|this|it|its|they|them|their|there|he|she|his|her|those|these|then)\b", re.I)


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str  # the text shown for this turn
    refused: bool = False  # a refusal: its text never reaches the model

    @classmethod
    def of(cls, question: str, answer: Answer) -> Turn:
        return cls(question, answer.text, answer.refused)

    @property
    def said(self) -> str:
        """What the model is told the previous answer was: its text, "" for a refusal."""
        return "" if self.refused else self.answer


@dataclass
class Conversation:
    """The turns so far, oldest first. `add` records a finished answer; a failed turn is simply not added."""

    turns: list[Turn] = field(default_factory=list)

    def add(self, question: str, answer: Answer) -> Turn:
        turn = Turn.of(question, answer)
        self.turns.append(turn)
        return turn

    def clear(self) -> None:
        self.turns.clear()

    def __len__(self) -> int:
        return len(self.turns)


def condense(question: str, history: list[Turn]) -> str:
    """A standalone retrieval query: a follow-up borrows the content words of the previous turn."""
    if not history:
        return question
    words = content_words(question)
    if not (len(words) <= 3 or (len(words) <= 6 and _FOLLOW_UP.search(question))):
        return question
    last = history[-1]
    # the previous question names the topic; its answer adds names (a refusal adds nothing)
    borrowed = content_words(last.question) + [w for w in content_words(MARKER.sub("", last.said))
                                               if w[0].isalpha() and w in _names(last.said)]
    extra = [w for w in dict.fromkeys(borrowed) if w not in words]
    return f"{question} ({' '.join(extra)})" if extra else question


def with_history(question: str, history: list[Turn]) -> str:
    """The question as the model reads it: the last turn appended, so "that round" can be resolved."""
    if not history:
        return question
    last = history[-1]
    return f"{question} (previous question: {last.question}; previous answer: {last.said})"


def _names(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"\b[A-Z][\w'’-]+", text)}
