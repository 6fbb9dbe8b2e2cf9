"""Questions naming several outlets ("reported by both Wire One and Wire Two"): the answer cites a sentence from each
named outlet that says the same. Exact values for the pure pieces; the real index, embedder and verifier for the
answer (the draft is fixed: this checks the checker, not the model)."""

from __future__ import annotations

import pytest

from rag.answer.amounts import restates_amounts
from rag.answer.corroborate import SAME_AT, agreeing, cited_outlets, outlet_groups
from rag.answer.pipeline import Answerer
from rag.answer.retrieve import Filters
from rag.ingest.articles import make_article
from rag.library import Library
from tests.test_trust import FixedDraft


def test_outlets_group_by_what_a_question_calls_them() -> None:
    got = outlet_groups(Filters(("CNN", "edition.cnn.com", "usatoday.com", "The Week")))
    assert got == {"cnn": ("CNN", "edition.cnn.com"), "usatoday": ("usatoday.com",), "theweek": ("The Week",)}
    assert cited_outlets([("", "https://www.usatoday.com/story/x"), ("CNN", "https://edition.cnn.com/y")]) == {
        "usatoday", "cnn"}


def test_amounts_must_be_restated() -> None:
    q = "When did the Queen ascend the throne?"
    assert restates_amounts(q, "She ascended on February 6, 1952.", "She became queen on February 6, 1952.")
    assert not restates_amounts(q, "She ascended on February 6, 1952.", "On Sept. 9, 2015, she became the longest.")
    assert restates_amounts(q, "No amounts here.", "Two of them, 40 in all.")


def test_agreeing_is_the_most_alike_sentence_that_restates_the_amounts() -> None:
    q, cited = "Which country confirmed cases?", "Ghana confirmed two cases on Sunday."
    texts = ["Ghana confirmed its first cases after two people tested positive.",  # alike, restates "two"
             "Ghana confirmed three cases.",  # more alike, but another amount
             "Officials in Ghana spoke."]
    assert agreeing(q, cited, texts, [SAME_AT + 0.05, SAME_AT + 0.1, 0.3]) == 0
    assert agreeing(q, cited, texts, [SAME_AT, 0.5, 0.9]) == 0  # the third, more alike, does not say "two"
    assert agreeing(q, cited, texts, [SAME_AT - 0.01, SAME_AT + 0.1, 0.3]) is None
    assert agreeing(q, "Ghana confirmed cases.", texts, [0.1, 0.2, SAME_AT]) == 2  # no amount to restate


@pytest.fixture(scope="module")
def three_outlets(tmp_path_factory, minilm) -> Library:
    lib = Library(tmp_path_factory.mktemp("three-outlets"), embedder=minilm)
    lib.add_articles([
        make_article("Acme buys Zeta Labs", "Acme Corp agreed on Monday to buy the robotics start-up Zeta Labs for "
                     "$2 billion. The deal still needs approval from regulators. Acme shares rose 4 percent.",
                     url="https://example.com/one/acme", source="Wire One", date="2026-03-02"),
        make_article("Robotics deal", "Regulators will review the purchase over the summer. Acme Corp will buy the "
                     "robotics start-up Zeta Labs for $2 billion, the two companies said on Monday. Zeta Labs makes "
                     "warehouse robots.", url="https://example.com/two/deal", source="Wire Two", date="2026-03-02"),
        make_article("Markets", "Shares of robot makers fell on Monday. Investors sold chip stocks too.",
                     url="https://example.com/three/markets", source="Wire Three", date="2026-03-02"),
    ])
    return lib


def test_a_question_naming_two_outlets_cites_each(three_outlets) -> None:
    answerer = Answerer(three_outlets.retriever, FixedDraft("Acme Corp agreed to buy Zeta Labs. [1]"))
    a = answerer.ask("Which company, reported by both Wire One and Wire Two, agreed to buy Zeta Labs?")
    assert not a.refused and "Acme" in a.text
    assert {c.source for c in a.citations} == {"Wire One", "Wire Two"}
    assert " too: " in a.text
    for c in a.citations:  # each rests on its own exact source sentence, which states the answer
        assert three_outlets.article(c.article_id).text[c.start:c.end] == c.text and "Acme Corp" in c.text
    # a question naming one outlet is answered from it alone, nothing added
    b = answerer.ask("Which company, as Wire One reported, agreed to buy Zeta Labs?")
    assert {c.source for c in b.citations} == {"Wire One"} and " too: " not in b.text
