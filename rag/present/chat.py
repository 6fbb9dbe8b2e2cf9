"""The chat on plain data: a page session's log, one question answered as a stream of page updates
(`chat_turn`), the same question answered as JSON (`answer_json`), and the assistants all sessions share.

History is kept one way, as in `rag chat` and llama-index's chat engine: a `Conversation` of `Turn`s built
with `Conversation.add`, so a refused turn is recorded as refused and its text never reaches the prompt.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Protocol

from rag.answer.conversation import Conversation, Turn
from rag.answer.records import Answer
from rag.answer.retrieve import Filters
from rag.errors import RagError
from rag.ingest.articles import Article
from rag.present.html import answer_html, conversation_html, draft_html, error_html, pending_html
from rag.settings import Settings

logger = logging.getLogger(__name__)

DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# The draft is shown at most this often: every update costs server and browser time on the cores the model runs on,
# and the final answer replaces the draft anyway.
DRAFT_EVERY_S = 0.1


@dataclass(frozen=True)
class ChatOptions:
    """The settings panel. Defaults are the `Settings` defaults."""

    model: str = Settings.model
    evidence_sentences: int = Settings.evidence_sentences
    sources: tuple[str, ...] = ()
    date_from: str = ""
    date_to: str = ""


class AssistantLike(Protocol):
    def ask_stream(self, question: str, history: list[Turn] | None = None,
                   filters: Filters | None = None) -> Iterator[str | Answer]: ...


class AssistantSource(Protocol):
    def get(self, model: str, evidence_sentences: int) -> AssistantLike: ...

    def article(self, article_id: str) -> Article: ...


# ---- the settings panel -------------------------------------------------------------------------


def check_date(value: str, label: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        if not DATE.fullmatch(value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise RagError(f"The {label} date {value!r} is not a date: write it as YYYY-MM-DD, e.g. 2025-06-01.") from None
    return value


def make_filters(options: ChatOptions) -> Filters | None:
    """Filters from the settings panel; None when nothing filters."""
    date_from = check_date(options.date_from, "from")
    date_to = check_date(options.date_to, "to")
    if date_from and date_to and date_from > date_to:
        raise RagError(f"The date range is empty: 'from' ({date_from}) is after 'to' ({date_to}).")
    sources = tuple(s for s in options.sources if s)
    if not (sources or date_from or date_to):
        return None
    return Filters(sources, date_from, date_to)


def check_model(model: str) -> str:
    """The model name as typed, trimmed; `rag.generate.model_kind` decides whether it means anything."""
    from rag.generate import model_kind

    model = (model or "").strip()
    model_kind(model)
    return model


# ---- a page session -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatLog:
    """One page session: the conversation the model reads (answered turns only) and the HTML of every turn
    shown, failed ones included. Never changed in place: each finished turn makes a new log."""

    conversation: Conversation = field(default_factory=Conversation)
    shown: tuple[str, ...] = ()

    @property
    def history(self) -> list[Turn]:
        return list(self.conversation.turns)

    def answered(self, question: str, answer: Answer, html: str) -> ChatLog:
        conversation = Conversation(self.history)
        conversation.add(question, answer)
        return ChatLog(conversation, (*self.shown, html))

    def failed(self, html: str) -> ChatLog:
        return ChatLog(Conversation(self.history), (*self.shown, html))

    def html(self, pending: str = "") -> str:
        return conversation_html(self.shown, pending)


@dataclass(frozen=True)
class Step:
    """One update of the page while a question is answered. None: that part is unchanged since the last step."""

    log: ChatLog
    chat: str | None  # the conversation: finished turns, then the pending question
    draft: str | None  # the pending answer while the model writes; "" when there is none


def cited_articles(source: AssistantSource, answer: Answer) -> dict[str, Article]:
    """The articles the answer points at, read now so that the view matches the offsets of the answer."""
    out: dict[str, Article] = {}
    for c in (*answer.citations, *answer.closest):
        if c.article_id not in out:
            with contextlib.suppress(KeyError):  # removed meanwhile: the view says so
                out[c.article_id] = source.article(c.article_id)
    return out


def chat_turn(source: AssistantSource, question: str, log: ChatLog, options: ChatOptions,
              draft_every_s: float = DRAFT_EVERY_S) -> Iterator[Step]:
    """Answer one question of a session. The conversation changes twice (the question shown, then the finished
    turn with its sources and article views); in between only the draft changes, at most once per
    `draft_every_s`. A failure becomes a friendly message in this session's chat, never an exception."""
    question = (question or "").strip()
    if not question:
        yield Step(log, log.html(), "")
        return
    turn = len(log.shown)
    yield Step(log, log.html(pending_html(turn, question)), draft_html(""))
    try:
        filters = make_filters(options)
        assistant = source.get(check_model(options.model), int(options.evidence_sentences))
        draft, shown_at = "", -math.inf
        answer: Answer | None = None
        for item in assistant.ask_stream(question, log.history, filters):
            if isinstance(item, Answer):
                answer = item
            elif item:
                draft += item
                if time.monotonic() - shown_at >= draft_every_s:
                    shown_at = time.monotonic()
                    yield Step(log, None, draft_html(draft))
        if answer is None:
            raise RagError("The model stopped without an answer. Ask again.")
        new = log.answered(question, answer, answer_html(turn, question, answer, cited_articles(source, answer)))
    except RagError as e:
        new = log.failed(error_html(turn, question, str(e)))
    except Exception as e:  # noqa: BLE001 - one failing request must not break the session or others
        logger.exception("answering %r failed", question)
        new = log.failed(error_html(turn, question, f"Something went wrong while answering "
                                                   f"({type(e).__name__}: {e}). Try again."))
    yield Step(new, new.html(), "")



# ---- the JSON answer ----------------------------------------------------------------------------


def turns_from_json(history: Iterable | None) -> list[Turn]:
    """A history sent as JSON: [[question, answer, refused], ...] (refused may be left out: false), or
    [{"question": ..., "answer": ..., "refused": ...}, ...]. Oldest first."""
    turns: list[Turn] = []
    for i, item in enumerate(history or []):
        if isinstance(item, dict):
            parts = [item.get("question"), item.get("answer", ""), item.get("refused", False)]
        elif isinstance(item, list | tuple) and len(item) in (2, 3):
            parts = [*item, False][:3]
        else:
            parts = []
        if len(parts) != 3 or not isinstance(parts[0], str) or not isinstance(parts[1], str) or not parts[0].strip():
            raise RagError(f"History turn {i + 1} is not [question, answer, refused]: {str(item)[:120]!r}.")
        turns.append(Turn(parts[0].strip(), parts[1], bool(parts[2])))
    return turns


def answer_json(source: AssistantSource, question: str, history: Iterable | None = None,
                options: ChatOptions | None = None) -> dict:
    """The checked `Answer` to `question` after `history` (see `turns_from_json`) as a JSON-ready dict
    (`Answer.to_dict`). Errors are RagErrors with a message for the caller."""
    options = options or ChatOptions()
    question = (question or "").strip()
    if not question:
        raise RagError("The question is empty: send the text of a question.")
    turns = turns_from_json(history)
    filters = make_filters(options)
    assistant = source.get(check_model(options.model), int(options.evidence_sentences))
    answer = None
    for item in assistant.ask_stream(question, turns, filters):
        if isinstance(item, Answer):
            answer = item
    if answer is None:
        raise RagError("The model stopped without an answer. Ask again.")
    return answer.to_dict()


# ---- shared assistants --------------------------------------------------------------------------


class Assistants:
    """One library and one Assistant per settings (model, evidence count), shared by all sessions.
    Nothing heavy loads here: the embedder and the model load on the first question."""

    def __init__(self, settings: Settings, seeds_dir: Path | None = None) -> None:
        self.settings = settings
        self.seeds_dir = seeds_dir
        self._library = None
        self._by_settings: dict[tuple[str, int], object] = {}
        self._generators: dict[str, object] = {}
        self._lock = threading.Lock()

    @property
    def library(self):  # noqa: ANN201 - rag.library.Library, imported lazily
        with self._lock:
            if self._library is None:
                from rag.library import Library

                s = self.settings
                self._library = Library(s.index_dir, None, s.chunk_sentences, s.chunk_overlap, s.top_chunks,
                                        embedder_variant=s.embedder_variant)
            return self._library

    def ensure_index(self) -> None:
        """A first start without an index builds it from the seed articles."""
        from rag import store

        lib = self.library
        if not store.exists(lib.index_dir) and self.seeds_dir and self.seeds_dir.is_dir():
            logger.info("no index at %s: building it from %s", lib.index_dir, self.seeds_dir)
            lib.ingest([self.seeds_dir])

    def get(self, model: str, evidence_sentences: int):  # noqa: ANN201 - rag.assistant.Assistant
        """The assistant for these settings; every one reads (and sees writes to) the one library, and the
        assistants of one model share its generator."""
        from rag.assistant import Assistant
        from rag.generate import make_generator

        self.ensure_index()
        lib = self.library
        key = (model, evidence_sentences)
        with self._lock:
            if key not in self._by_settings:
                s = replace(self.settings, model=model, evidence_sentences=evidence_sentences)
                if model not in self._generators:
                    self._generators[model] = make_generator(model, s.threads, s.api_model, s.api_key, s.timeout_s,
                                                             s.seed)
                self._by_settings[key] = Assistant(s, generator=self._generators[model], library=lib)
            return self._by_settings[key]

    def article(self, article_id: str) -> Article:
        return self.library.article(article_id)
