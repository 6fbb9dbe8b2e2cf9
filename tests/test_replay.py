"""`rag eval NAME --replay DIR`: stored drafts go through today's retrieval and checker instead of the model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import UMEROV_QUESTION

from rag.answer.conversation import Turn
from rag.errors import RagError
from rag.evals.questions import Question, QuestionSet
from rag.evals.replay import ReplayGenerator, Stored, stored_drafts
from rag.generate import Prompt


class Scripted:
    """A model that writes one fixed text and counts its prompts (pins the replay's fall-back logic)."""

    def __init__(self, text: str = "written", name: str = "scripted") -> None:
        self.text, self.name, self.prompts = text, name, []

    def stream(self, prompt: Prompt, max_tokens: int, stop: tuple[str, ...] = ()) -> Iterator[str]:
        self.prompts.append(prompt.question)
        yield self.text


def _set(*questions: Question) -> QuestionSet:
    return QuestionSet("tiny", questions, ())


WON = Prompt("i", "Ann won the race.", "Who won?")


def test_a_stored_draft_is_given_back_to_the_same_prompt_only() -> None:
    model = Scripted()
    replay = ReplayGenerator({"Who won?": Stored("Ann won. [1]", WON.key(24, "scripted"))}, model)
    assert "".join(replay.stream(WON, 24)) == "Ann won. [1]"
    assert "".join(replay.stream(Prompt("i", "Bob won the race.", "Who won?"), 24)) == "written"  # other context
    assert "".join(replay.stream(WON, 48)) == "written"  # another token budget
    assert "".join(replay.stream(Prompt("i", "c", "Who lost?"), 24)) == "written"  # no draft stored
    assert (replay.replayed, replay.written, len(model.prompts), replay.name) == (1, 3, 3, "scripted")


def test_a_draft_without_a_key_is_matched_by_its_question_and_an_empty_one_written_again() -> None:
    # a report from before prompt keys; and one where the earlier run refused before writing (draft "")
    model = Scripted()
    replay = ReplayGenerator({"Who won?": Stored("Ann won. [1]"), "Who lost?": Stored("")}, model)
    assert "".join(replay.stream(Prompt("i", "any context", "Who won?"), 24)) == "Ann won. [1]"
    assert "".join(replay.stream(Prompt("i", "c", "Who lost?"), 24)) == "written"
    assert (replay.replayed, replay.written) == (1, 1)


def test_the_prompt_key_covers_all_the_model_reads_its_budget_and_the_model() -> None:
    keys = {WON.key(24, "gemma"), WON.key(48, "gemma"), WON.key(24, "smollm2"),
            Prompt("j", WON.context, WON.question).key(24, "gemma"),
            Prompt(WON.instruction, WON.context, WON.question, "Example. ").key(24, "gemma")}
    assert len(keys) == 5 and WON.key(24, "gemma") == Prompt("i", "Ann won the race.", "Who won?").key(24, "gemma")


def test_stored_drafts_are_keyed_by_the_question_as_the_model_read_it(tmp_path: Path) -> None:
    follow_up = Question("q2", "Where?", ("Kyiv",), True, history=(Turn("Who met?", "Ann"),))
    qs = _set(Question("q1", "Who won?", ("Ann",), True), follow_up)
    rows = [{"id": "q1", "draft": "Ann. [1]", "prompt_key": "abc"}, {"id": "q2", "draft": "In Kyiv."},
            {"id": "other", "draft": "x"}]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert stored_drafts(tmp_path, qs) == {
        "Who won?": Stored("Ann. [1]", "abc"),
        "Where? (previous question: Who met?; previous answer: Ann)": Stored("In Kyiv."),
    }


def test_a_folder_without_results_or_of_another_set_is_a_clear_error(tmp_path: Path) -> None:
    qs = _set(Question("q1", "Who won?", ("Ann",), True))
    with pytest.raises(RagError, match="no results.jsonl there"):
        stored_drafts(tmp_path, qs)
    (tmp_path / "results.jsonl").write_text(json.dumps({"id": "elsewhere", "draft": "x"}) + "\n")
    with pytest.raises(RagError, match="none of its questions is in tiny"):
        stored_drafts(tmp_path, qs)


def test_replaying_the_real_models_draft_gives_the_same_answer(seed_assistant, umerov_answer) -> None:
    """The real pipeline over the seed index, once with Gemma and once with its stored draft: the same answer,
    and the model is not asked again."""
    from rag.assistant import Assistant

    model = Scripted("NOT IN ARTICLES", seed_assistant.generator.name)  # stands in for the model that wrote the draft
    replay = ReplayGenerator({UMEROV_QUESTION: Stored(umerov_answer.draft, umerov_answer.prompt_key)}, model)
    again = Assistant(seed_assistant.settings, generator=replay, library=seed_assistant.library).ask(UMEROV_QUESTION)
    assert umerov_answer.draft and umerov_answer.prompt_key and not umerov_answer.refused
    assert (again.text, again.citations, again.draft, again.prompt_key) == (
        umerov_answer.text, umerov_answer.citations, umerov_answer.draft, umerov_answer.prompt_key)
    assert (replay.replayed, model.prompts) == (1, [])
