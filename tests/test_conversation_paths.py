"""One conversation, three ways in: the CLI's `ChatSession`, the page's `chat_turn` and llama-index's
`CitedChatEngine` give the model the same prompts for the same turns, a refused turn included (its question is
kept, its refusal text never reaches the prompt). A real Assistant over the real seed index; only the model is a
recording fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rag.assistant import Assistant
from rag.generate import Prompt
from rag.present import chat
from rag.settings import Settings

TURNS = [
    "Who leads the Ukrainian delegation?",  # answered
    "What is the boiling point of mercury?",  # refused: nothing in the seed article is near it
    "Where will the talks be held?",  # a follow-up of the refused turn
    "What did Peskov say?",
]
DRAFT = "Rustem Umerov leads the Ukrainian delegation [1]."


class RecordingModel:
    """A generator that records every prompt and always writes the same draft."""

    name = "recording-fake"

    def __init__(self) -> None:
        self.prompts: list[Prompt] = []

    def stream(self, prompt: Prompt, max_tokens: int, stop: tuple[str, ...] = ()) -> Iterator[str]:
        self.prompts.append(prompt)
        yield DRAFT[:6]  # in two pieces, as a model streams
        yield DRAFT[6:]


def assistant(seed_library) -> tuple[Assistant, RecordingModel]:  # noqa: ANN001
    model = RecordingModel()
    return Assistant(Settings(index_dir=seed_library.index_dir), generator=model, library=seed_library), model


class PageSource:
    """What the page's `Assistants` gives `chat_turn`, over the one assistant under test."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def get(self, model: str, evidence_sentences: int) -> Assistant:
        return self.assistant

    def article(self, article_id: str):  # noqa: ANN201
        return self.assistant.library.article(article_id)


def cli_prompts(seed_library) -> tuple[list[Prompt], list[bool], list[str]]:  # noqa: ANN001
    a, model = assistant(seed_library)
    session = a.chat()
    answers = [session.send(q) for q in TURNS]
    return model.prompts, [x.refused for x in answers], [x.text for x in answers if x.refused]


@pytest.fixture(scope="module")
def cli(seed_library) -> tuple[list[Prompt], list[bool], list[str]]:
    return cli_prompts(seed_library)


def test_the_cli_conversation_keeps_a_refused_turn_out_of_the_prompt(cli) -> None:
    prompts, refused, refusals = cli
    assert refused[0] is False and refused[1] is True
    after = [p.question for p in prompts if p.question.startswith(TURNS[2])]
    assert after and TURNS[1] in after[0]  # the turn after the refusal sees the refused question...
    assert not any(text in p.question for text in refusals for p in prompts)  # ...but never a refusal's text


def test_the_page_prompts_the_model_as_the_cli_does(seed_library, cli) -> None:
    a, model = assistant(seed_library)
    source, log = PageSource(a), chat.ChatLog()
    for q in TURNS:
        log = list(chat.chat_turn(source, q, log, chat.ChatOptions()))[-1].log
    assert model.prompts == cli[0]
    assert [t.refused for t in log.history] == cli[1]
    assert "Not in the articles" in log.shown[1]  # the page still shows the refusal


def test_llama_index_chat_prompts_the_model_as_the_cli_does(seed_library, cli) -> None:
    pytest.importorskip("llama_index.core", reason="the llamaindex extra is not installed")
    from rag.llamaindex import CitedChatEngine

    a, model = assistant(seed_library)
    engine = CitedChatEngine(a.answerer())
    refused = [engine.chat(q).metadata["answer"].refused for q in TURNS]
    assert refused == cli[1]
    assert model.prompts == cli[0]


def test_the_json_api_prompts_the_model_as_the_cli_does_given_the_same_turns(seed_library, cli) -> None:
    a, model = assistant(seed_library)
    source, history = PageSource(a), []
    for q in TURNS:
        out = chat.answer_json(source, q, history)
        history.append([q, out["text"], out["refused"]])
    assert [refused for _, _, refused in history] == cli[1]
    assert model.prompts == cli[0]
