"""Replaying an earlier run's drafts (`rag eval NAME --replay DIR`): every question goes through today's retrieval
and checker, but the model's draft is the one stored in DIR/results.jsonl instead of a new one.

Checking costs a fraction of writing (a RealTimeQA split replays in about a minute instead of four), so a change to
the checker is measured on whole sets in minutes. Drafts are greedy, so a replay gives what an end-to-end run would:
a stored draft is given back only to the prompt it answered (`Prompt.key`: all the model reads, its token budget
and the model's name), and a question whose prompt changed, or that had no draft, is written by the model and
counted. Reports from before prompt keys were stored are matched by the question alone (a changed prompt then goes
unnoticed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.answer.conversation import with_history
from rag.errors import RagError
from rag.evals.questions import QuestionSet
from rag.generate import Generator, Prompt


@dataclass(frozen=True)
class Stored:
    draft: str
    prompt_key: str = ""  # "": a report from before the keys (matched by its question alone)


class ReplayGenerator:
    """Yields the stored draft of the same prompt; asks `model` for any other."""

    def __init__(self, drafts: dict[str, Stored], model: Generator) -> None:
        self.drafts, self.model, self.name = drafts, model, model.name
        self.replayed = self.written = 0

    def stream(self, prompt: Prompt, max_tokens: int, stop: tuple[str, ...] = ()) -> Iterator[str]:
        stored = self.drafts.get(prompt.question)
        if stored and stored.draft and stored.prompt_key in ("", prompt.key(max_tokens, self.name)):
            self.replayed += 1
            yield stored.draft
            return
        self.written += 1
        yield from self.model.stream(prompt, max_tokens, stop)


def stored_drafts(report: Path, qs: QuestionSet) -> dict[str, Stored]:
    """The drafts of an earlier report of the same set, by the question as the model read it."""
    path = report / "results.jsonl"
    if not path.is_file():
        raise RagError(f"--replay {report}: no results.jsonl there. Give the folder of an earlier report of this set, "
                       f"like reports/{qs.name}-ours.")
    by_id = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        by_id[row["id"]] = Stored(row.get("draft", ""), row.get("prompt_key", ""))
    known = [q for q in qs.questions if q.id in by_id]
    if not known:
        raise RagError(f"--replay {report}: none of its questions is in {qs.name}; replay a report of the same set.")
    return {with_history(q.question, list(q.history)): by_id[q.id] for q in known}
