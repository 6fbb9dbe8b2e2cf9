"""A sentence about another edition of what the question names ("the 90th Academy Awards" for the 92nd, "Wimbledon
2019" for 2021) or about a former holder of the office it asks after ("the former president of FIFA") answers
nothing, however alike: the real index, embedder and verifier, with fixed drafts that name what that sentence says."""

from __future__ import annotations

import pytest
from test_trust import FixedDraft

from rag.answer.pipeline import Answerer
from rag.ingest.articles import make_article
from rag.library import Library


@pytest.fixture(scope="module")
def sports_library(tmp_path_factory, minilm) -> Library:
    lib = Library(tmp_path_factory.mktemp("off-target"), embedder=minilm)
    lib.add_articles([
        make_article("Oldman wins at the Oscars", "Gary Oldman won Best Actor at the 90th Academy Awards for his "
                     "role as Winston Churchill. The ceremony was held in Los Angeles.",
                     url="https://film.example/oscars-90", source="Sport Example", date="2018-03-05"),
        make_article("Blatter speaks on Qatar", "Sepp Blatter, the former president of FIFA, said the decision to "
                     "award the World Cup to Qatar was a mistake. He spoke to a Swiss newspaper on Monday.",
                     url="https://sport.example/blatter", source="Sport Example", date="2022-11-08"),
        make_article("Wimbledon 2019", "Wimbledon 2019 women's singles final: Simona Halep beat Serena Williams. "
                     "Halep won in under an hour on Centre Court.",
                     url="https://sport.example/wimbledon-2019", source="Sport Example", date="2019-07-13"),
    ])
    return lib


def test_a_sentence_about_the_edition_asked_is_answered(sports_library: Library) -> None:
    a = Answerer(sports_library.retriever, FixedDraft("Gary Oldman. [1]")).ask(
        "Who won Best Actor at the 90th Academy Awards?")
    assert not a.refused and "Oldman" in a.text
    assert a.citations[0].url == "https://film.example/oscars-90"


def test_another_edition_is_not_quoted_nor_cited(sports_library: Library) -> None:
    a = Answerer(sports_library.retriever, FixedDraft("Gary Oldman. [1]")).ask(
        "Who won Best Actor at the 92nd Academy Awards?")
    assert a.refused and a.citations == ()
    assert a.closest[0].url == "https://film.example/oscars-90"  # shown as the closest, not as the answer


def test_another_year_is_not_quoted_nor_cited(sports_library: Library) -> None:
    a = Answerer(sports_library.retriever, FixedDraft("Simona Halep. [1]")).ask(
        "Who won the women's singles final at Wimbledon in 2021?")
    assert a.refused and a.citations == ()
    assert a.closest[0].url == "https://sport.example/wimbledon-2019"
    a = Answerer(sports_library.retriever, FixedDraft("Simona Halep. [1]")).ask(
        "Who won the women's singles final at Wimbledon in 2019?")  # the year the articles tell of: answered
    assert not a.refused and "Halep" in a.text


def test_a_former_holder_does_not_answer_who_holds_the_office_now(sports_library: Library) -> None:
    a = Answerer(sports_library.retriever, FixedDraft("Sepp Blatter. [1]")).ask("Who is the president of FIFA?")
    assert a.refused and a.citations == ()
    a = Answerer(sports_library.retriever, FixedDraft("Sepp Blatter. [1]")).ask(
        "Who is the former president of FIFA who spoke about Qatar?")  # asked about the former one: answered
    assert not a.refused and "Blatter" in a.text
