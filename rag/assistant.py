"""The one object the CLI, the UI, the eval runner and Python users hold: a library plus a model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from rag.answer.conversation import Conversation, Turn
from rag.answer.pipeline import Answerer
from rag.answer.records import Answer
from rag.answer.retrieve import Filters
from rag.answer.verifier import Verifier
from rag.embed import Embedder
from rag.generate import Generator, make_generator
from rag.library import Library
from rag.settings import Settings


class Assistant:
    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 generator: Generator | None = None, library: Library | None = None) -> None:
        """`library`: share one already open (the page's assistants for several models read one library and
        see each other's writes); else one is opened over `settings.index_dir` with `embedder`."""
        self.settings = settings
        self.library = library or Library(settings.index_dir, embedder, settings.chunk_sentences,
                                          settings.chunk_overlap, settings.top_chunks,
                                          embedder_variant=settings.embedder_variant, store=settings.store)
        self._generator = generator
        self._lock = threading.Lock()

    @property
    def generator(self) -> Generator:
        with self._lock:
            if self._generator is None:
                s = self.settings
                self._generator = make_generator(s.model, s.threads, s.api_model, s.api_key, s.timeout_s, s.seed)
            return self._generator

    def answerer(self) -> Answerer:
        s = self.settings
        return Answerer(self.library.retriever, self.generator, s.evidence_sentences, s.max_answer_tokens,
                        s.refuse_below, Verifier.load().cautious(s.caution), s.stale_after_days)

    def ask(self, question: str, history: list[Turn] | None = None, filters: Filters | None = None) -> Answer:
        return self.answerer().ask(question, history, filters)

    def ask_stream(self, question: str, history: list[Turn] | None = None,
                   filters: Filters | None = None) -> Iterator[str | Answer]:
        """Text deltas while the model writes, then the checked `Answer` (citations final only there)."""
        return self.answerer().stream(question, history, filters)

    def chat(self) -> ChatSession:
        return ChatSession(self)


@dataclass
class ChatSession:
    assistant: Assistant
    conversation: Conversation = field(default_factory=Conversation)

    @property
    def history(self) -> list[Turn]:
        return self.conversation.turns

    def send(self, message: str, filters: Filters | None = None) -> Answer:
        answer = self.assistant.ask(message, self.history, filters)
        self.conversation.add(message, answer)
        return answer
