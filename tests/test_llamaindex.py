"""The llama-index adapters over the real seed index (and the real model for the engines)."""

from __future__ import annotations

import pytest
from llama_index.core.base.response.schema import Response
from llama_index.core.chat_engine.types import AgentChatResponse
from llama_index.core.schema import NodeWithScore, QueryBundle

from rag.answer.records import Answer
from rag.llamaindex import CitedChatEngine, CitedQueryEngine, SentenceRetriever

UMEROV_QUESTION = "Who leads the Ukrainian delegation?"
UMEROV_SENTENCE = ("The Ukrainian delegation will be led by former Defense Minister Rustem Umerov, who now serves as "
                   "secretary of the National Security and Defense Council.")


def assert_nodes_are_citations(nodes: list[NodeWithScore], answer: Answer, library) -> None:  # noqa: ANN001
    assert len(nodes) == len(answer.citations)
    for node, c in zip(nodes, answer.citations, strict=True):
        meta = node.node.metadata
        assert node.node.get_content() == c.text and node.node.node_id == c.sentence_id
        assert (meta["article_id"], meta["sentence_id"], meta["start"], meta["end"], meta["n"]) == (
            c.article_id, c.sentence_id, c.start, c.end, c.n)
        assert node.score == c.score
        assert library.article(meta["article_id"]).text[meta["start"]:meta["end"]] == node.node.get_content()


def test_sentence_retriever_returns_source_sentences(seed_library) -> None:
    nodes = SentenceRetriever(seed_library.retriever).retrieve(UMEROV_QUESTION)
    assert 1 <= len(nodes) <= 8 and all(isinstance(n, NodeWithScore) for n in nodes)
    assert nodes[0].node.get_content() == UMEROV_SENTENCE
    scores = [n.score for n in nodes]
    assert scores == sorted(scores, reverse=True)
    for n in nodes:
        meta = n.node.metadata
        article = seed_library.article(meta["article_id"])
        assert article.text[meta["start"]:meta["end"]] == n.node.get_content()
        assert n.node.node_id == meta["sentence_id"] and meta["sentence_id"].startswith(f"{article.id}:")
        assert meta["title"] == article.title and meta["url"] == article.url


def test_sentence_retriever_k_and_query_bundle(seed_library) -> None:
    retriever = SentenceRetriever(seed_library.retriever, k=3)
    nodes = retriever.retrieve(QueryBundle(UMEROV_QUESTION))
    assert len(nodes) == 3
    assert [n.node.node_id for n in nodes] == [
        n.node.node_id for n in SentenceRetriever(seed_library.retriever).retrieve(UMEROV_QUESTION)[:3]]


@pytest.mark.slow
def test_cited_query_engine_sources_are_the_checked_citations(seed_assistant, seed_library) -> None:
    engine = CitedQueryEngine(answerer=seed_assistant.answerer())
    response = engine.query(UMEROV_QUESTION)
    assert isinstance(response, Response)
    answer = response.metadata["answer"]
    assert isinstance(answer, Answer) and not answer.refused
    assert str(response) == answer.text
    assert response.source_nodes
    assert_nodes_are_citations(response.source_nodes, answer, seed_library)
    assert any("Rustem Umerov" in n.node.get_content() for n in response.source_nodes)


@pytest.mark.slow
def test_cited_chat_engine_keeps_history(seed_assistant, seed_library) -> None:
    engine = CitedChatEngine(seed_assistant.answerer())
    first = engine.chat(UMEROV_QUESTION)
    second = engine.chat("What post did he hold before?")
    assert isinstance(first, AgentChatResponse) and isinstance(second, AgentChatResponse)
    history = [(m.role.value, m.content) for m in engine.chat_history]
    assert history == [("user", UMEROV_QUESTION), ("assistant", first.response),
                       ("user", "What post did he hold before?"), ("assistant", second.response)]
    a1, a2 = first.metadata["answer"], second.metadata["answer"]
    assert "umerov" in a1.text.lower()
    # the follow-up was rewritten with the first turn: "he" became searchable
    assert a2.standalone_question != a2.question and "umerov" in a2.standalone_question.lower()
    assert_nodes_are_citations(first.source_nodes, a1, seed_library)
    assert_nodes_are_citations(second.source_nodes, a2, seed_library)
    engine.reset()
    assert engine.chat_history == []
