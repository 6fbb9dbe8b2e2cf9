"""When articles state different amounts, the answer says so and cites both. Real embedder and model for the
pipeline; the amount logic is pinned down exactly on written-out sentences."""

from __future__ import annotations

import pytest

from rag.answer.amounts import conflicting_amounts, quantities
from rag.answer.records import Answer
from rag.assistant import Assistant
from rag.ingest.articles import make_article
from rag.library import Library
from rag.settings import Settings

QUESTION = "How many people did the Riverton flood kill?"
WIRE = make_article("Riverton flood kills 12", "Floodwater swept through Riverton on Monday night. "
                    "The Riverton flood killed 12 people, the mayor said on Tuesday. Rescue crews were still "
                    "searching the river banks.", source="Valley Wire", date="2025-03-04",
                    url="https://example.test/valley/flood")
HERALD = make_article("Riverton toll rises", "Officials in Riverton updated the flood toll on Wednesday. "
                      "The Riverton flood killed 15 people, according to the county coroner. Schools stay "
                      "closed until Friday.", source="County Herald", date="2025-03-05",
                      url="https://example.test/herald/toll")
POST = make_article("Twelve dead in Riverton", "Twelve people were killed by the Riverton flood, the mayor "
                    "confirmed. The river rose faster than forecasters expected.", source="Morning Post",
                    date="2025-03-04", url="https://example.test/post/twelve")


def test_amounts_are_read_the_way_a_reader_would() -> None:
    assert quantities("It will cost 4.2 million dollars, or $4,200,000, in 2019.") == {4_200_000.0}
    assert quantities("twelve people, 20% of them children") == {12.0, 20.0}
    assert quantities("Twenty-five died; two hundred and five were hurt; twelve million fled.") == {25.0, 205.0,
                                                                                                  12_000_000.0}
    assert quantities("On the 21st, COVID-19 cases near the Pixel 5a stand") == set()  # not amounts
    assert not conflicting_amounts("How many died?", "25 people died.", "Twenty-five people died.")
    assert not conflicting_amounts("How many fled?", "12 million fled.", "Twelve million people fled.")
    q = "How many people did the flood kill?"
    assert conflicting_amounts(q, "The flood killed 12 people.", "The flood killed 15 people.")
    assert not conflicting_amounts(q, "The flood killed 12 people.", "Twelve people died in the flood.")
    assert not conflicting_amounts(q, "It cost 4.2 million.", "It cost $4,200,000.")
    assert not conflicting_amounts(q, "The flood killed 12 people.", "The flood was the worst since 2019.")
    assert not conflicting_amounts(q, "The flood killed 12 people.", "The flood hit Riverton.")  # no amount
    assert not conflicting_amounts("Who leads the team?", "Umerov leads 12 people.", "Kim leads 15 people.")
    # the question's own numbers are not the answer: "in 2 towns" is shared by the question
    assert conflicting_amounts("How many died in the 2 towns?", "12 died in the 2 towns.", "15 died in 2 towns.")


def _ask(tmp_path_factory, minilm, seed_assistant, articles) -> tuple[Library, Answer]:  # noqa: ANN001
    lib = Library(tmp_path_factory.mktemp("flood-index"), embedder=minilm)
    lib.add_articles(articles)
    assistant = Assistant(Settings(index_dir=lib.index_dir, model="gemma"), embedder=minilm,
                          generator=seed_assistant.generator)  # the same loaded model
    return lib, assistant.ask(QUESTION)


@pytest.mark.slow
def test_articles_that_disagree_are_both_cited(tmp_path_factory, minilm, seed_assistant) -> None:
    lib, answer = _ask(tmp_path_factory, minilm, seed_assistant, [WIRE, HERALD])
    assert not answer.refused and answer.sources_disagree, answer
    assert "Sources disagree" in answer.text
    cited = {c.article_id: c.text for c in answer.citations}
    assert set(cited) == {WIRE.id, HERALD.id}
    assert any("12" in t for t in cited.values()) and any("15" in t for t in cited.values())
    for c in answer.citations:
        assert f"[{c.n}]" in answer.text
        assert lib.article(c.article_id).text[c.start:c.end] == c.text


@pytest.mark.slow
def test_articles_that_agree_are_not_called_a_disagreement(tmp_path_factory, minilm, seed_assistant) -> None:
    _, answer = _ask(tmp_path_factory, minilm, seed_assistant, [WIRE, POST])
    assert not answer.refused and not answer.sources_disagree, answer
    assert "disagree" not in answer.text
