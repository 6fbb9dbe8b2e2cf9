"""llama-index adapters, kept in this one module so an upgrade of llama-index touches one file.

- `SentenceRetriever`: our hybrid retriever as a llama-index `BaseRetriever` (nodes are sentences).
- `CitedQueryEngine` / `CitedChatEngine`: our checked answers; responses carry the checked sentence citations
  as source nodes and the full `Answer` in `metadata["answer"]`.
- `baseline_ask`: the plain llama-index pipeline (VectorStoreIndex + CitationQueryEngine) with the same
  embedder, model and chunks, for the eval reports.
Models are always passed explicitly; llama-index's global `Settings` are never used.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from importlib.util import find_spec
from typing import Any

import numpy as np

from rag.errors import RagError

if find_spec("llama_index") is None:  # an optional extra: the core product runs without llama-index
    raise RagError("The llama-index adapters need the 'llamaindex' extra: pip install -e '.[llamaindex]' "
                   "(or pip install 'rag-news[llamaindex]')")

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.llms.types import CompletionResponse, CompletionResponseGen, LLMMetadata
from llama_index.core.base.response.schema import Response
from llama_index.core.chat_engine.types import AgentChatResponse, BaseChatEngine, StreamingAgentChatResponse
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.llms import ChatMessage, CustomLLM
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import PrivateAttr

from rag.answer.conversation import Conversation
from rag.answer.pipeline import Answerer
from rag.answer.records import Answer, Citation
from rag.answer.retrieve import Retriever
from rag.embed import Embedder
from rag.generate import LlamaCpp


def citation_node(c: Citation) -> NodeWithScore:
    meta = {"article_id": c.article_id, "title": c.title, "source": c.source, "date": c.date, "url": c.url,
            "sentence_id": c.sentence_id, "start": c.start, "end": c.end, "n": c.n}
    return NodeWithScore(node=TextNode(id_=c.sentence_id, text=c.text, metadata=meta), score=c.score)


class SentenceRetriever(BaseRetriever):
    """Hybrid (FAISS + BM25) retrieval; each node is one source sentence with its exact offsets."""

    def __init__(self, retriever: Retriever, k: int = 8) -> None:
        super().__init__()
        self._retriever, self._k = retriever, k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        out = []
        for ev in self._retriever.retrieve(query_bundle.query_str).sentences[: self._k]:
            s, a = ev.sentence, ev.article
            meta = {"article_id": a.id, "title": a.title, "source": a.source, "date": a.date, "url": a.url,
                    "sentence_id": s.id, "start": s.start, "end": s.end}
            out.append(NodeWithScore(node=TextNode(id_=s.id, text=s.text, metadata=meta), score=ev.score))
        return out


class CitedQueryEngine(CustomQueryEngine):
    """Answers with checked sentence citations as `source_nodes`."""

    answerer: Any

    def custom_query(self, query_str: str) -> Response:
        answer: Answer = self.answerer.ask(query_str)
        return Response(answer.text, [citation_node(c) for c in answer.citations], {"answer": answer})


class CitedChatEngine(BaseChatEngine):
    """Multi-turn chat over the articles; follow-ups are resolved through the history."""

    def __init__(self, answerer: Answerer) -> None:
        self._answerer = answerer
        self._conversation = Conversation()

    @property
    def chat_history(self) -> list[ChatMessage]:
        msgs = []
        for t in self._conversation.turns:
            msgs += [ChatMessage(role="user", content=t.question), ChatMessage(role="assistant", content=t.answer)]
        return msgs

    def reset(self) -> None:
        self._conversation.clear()

    def chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        answer = self._answerer.ask(message, list(self._conversation.turns))
        self._conversation.add(message, answer)
        return AgentChatResponse(answer.text, source_nodes=[citation_node(c) for c in answer.citations],
                                 metadata={"answer": answer})

    def stream_chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> StreamingAgentChatResponse:
        # Citations are final only after checking, so the checked answer is streamed as one piece.
        response = self.chat(message, chat_history)
        return StreamingAgentChatResponse(response=response.response, source_nodes=response.source_nodes,
                                          metadata=response.metadata, is_dummy_stream=True)

    async def achat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        return await asyncio.to_thread(self.chat, message, chat_history)

    async def astream_chat(self, message: str,
                           chat_history: list[ChatMessage] | None = None) -> StreamingAgentChatResponse:
        return await asyncio.to_thread(self.stream_chat, message, chat_history)


# ---- the baseline: a plain llama-index pipeline with the same embedder and model -------------------------
class EmbedderAdapter(BaseEmbedding):
    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder) -> None:
        super().__init__(model_name=embedder.name, embed_batch_size=64)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


STOPS = ("\n\n", "Query:", "Source 1:", "------")  # the end of an answer in CitationQueryEngine's prompt format


class LlamaCppAdapter(CustomLLM):
    """Our llama.cpp generator as a llama-index LLM (greedy, same stops as ours)."""

    max_tokens: int = 96
    _gen: Any = PrivateAttr()

    def __init__(self, generator: LlamaCpp, max_tokens: int = 96) -> None:
        super().__init__(max_tokens=max_tokens)
        self._gen = generator

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=self._gen.n_ctx, num_output=self.max_tokens, model_name=self._gen.name)

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="".join(self._gen.complete_text(prompt, self.max_tokens, STOPS)).strip())

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        text = ""
        for delta in self._gen.complete_text(prompt, self.max_tokens, STOPS):
            text += delta
            yield CompletionResponse(text=text, delta=delta)


def baseline_ask(index_dir, settings):  # noqa: ANN001, ANN201
    """A question → (Answer, retrieved) function over a VectorStoreIndex + CitationQueryEngine built from the
    same chunks and vectors as our index, so only the answering differs."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.query_engine import CitationQueryEngine

    from rag.assistant import Assistant

    assistant = Assistant(replace(settings, index_dir=index_dir))
    store = assistant.library.store
    generator = assistant.generator
    if not isinstance(generator, LlamaCpp):
        raise ValueError("The llama-index baseline runs the in-process llama.cpp models only")
    nodes = []
    for cid, chunk in store.chunks().items():
        vec = np.asarray(store.vector(cid), dtype=np.float32)
        nodes.append(TextNode(id_=str(cid), text=store.chunk_text(chunk), embedding=vec.tolist(),
                              metadata={"article_id": chunk.article_id, "first": chunk.first, "last": chunk.last}))
    embed = EmbedderAdapter(assistant.library.embedder)
    index = VectorStoreIndex(nodes, embed_model=embed)
    engine = CitationQueryEngine.from_args(index, llm=LlamaCppAdapter(generator), similarity_top_k=settings.top_chunks)

    def ask(q) -> tuple[Answer, list[tuple[str, str, str]]]:  # noqa: ANN001
        response = engine.query(q.question)
        text = str(response.response or "")
        cites, retrieved = [], []
        for n, node in enumerate(response.source_nodes, 1):
            aid = node.node.metadata.get("article_id", "")
            art = store.article(aid) if store.has_article(aid) else None
            retrieved.append((aid, art.url if art else "", node.node.get_content()))
            if f"[{n}]" in text:
                cites.append(Citation(n, aid, art.title if art else "", "", "", art.url if art else "", f"{aid}:?", 0,
                                      0, node.node.get_content(), float(node.score or 0.0)))
        refused = not text.strip() or "none of the sources" in text.lower()
        return Answer(q.question, text, tuple(cites), refused, "refused" if refused else "generated",
                      model=generator.name), retrieved

    return ask
