"""Yes/no questions: which questions ask one, their parts, and the verdict the sentences give (exact values)."""

from __future__ import annotations

import pytest

from rag.answer.polar import DENIED, SIMILAR, SUPPORTED, SUPPORTED_SIMILAR, is_polar, parts, proposition, verdict
from rag.answer.retrieve import Evidence
from rag.ingest.articles import make_article
from rag.ingest.sentences import split_sentences


def _ev(text: str, title: str = "Cars", date: str = "2022-10-27", url: str = "https://cnn.com/a") -> Evidence:
    art = make_article(title, text, url=url, source="CNN", date=date)
    return Evidence(split_sentences(art.id, art.text)[0], art, 0.6, 0.5)


@pytest.mark.parametrize(("question", "polar"), [
    ("Did CNN report that Ford is dropping its self-driving car?", True),
    ("According to CNN, is it true that Ford is dropping it?", True),
    ("Has Putin accepted the talks?", True),
    ("Talks resumed. Will they be held in Istanbul?", True),
    ("Did who say that?", False),
    ("Which company is dropping its self-driving car?", False),
    ("According to CNN's report of June 12, 2022, which show was renewed?", False),
    ("Is what they said true?", False),
    ("Can you tell me who leads the delegation?", False),
    ("Do you know where the talks will be held?", False),
    ("Could you list the cities that were struck?", False),
    ("Is Google or Apple facing the fine?", False),  # asks which
    ("Did The Verge report it first, or TechCrunch?", False),
    ("Was the fine paid or not?", True),
    # a question word inside asks for what it names; after a comma it opens a clause
    ("Benzene, a cancer-causing chemical, was recently detected in which common household product, as CNN reported?",
     False),
    ("Did CNN report which company bought Twitter?", False),
    ("Did CNN report that Harris, who is 22, was sentenced to 12 years?", True),
    ("Between the June report and the July one, was there a change in the figures?", True),
    ("Which company, reported by both TechCrunch and The Verge, is facing a fine?", False),
    ("Zelensky proposed talks, Putin refused, and the war goes on, is that right?", True),
    ("Ford is dropping its self-driving car.", False),
    ("True or false: Ford is dropping its self-driving car.", True),  # a quiz's statement to judge
    ("Fact or fiction - Ford is dropping it?", True),
    ("True or false?", False),
    ("According to both CNN and USA Today, True or false: Ford is dropping it.", True),
])
def test_polar_questions_open_with_an_auxiliary(question: str, polar: bool) -> None:
    assert is_polar(question) is polar


def test_the_proposition_drops_the_auxiliary_and_keeps_the_attribution() -> None:
    assert proposition("Did CNN report that Ford quit?") == "CNN report that Ford quit"
    assert proposition("According to CNN, is it true that Ford quit?") == "According to CNN, Ford quit"
    assert proposition("True or false: Ford quit the race.") == "Ford quit the race"
    assert proposition("According to CNN, true or false: Ford quit.") == "Ford quit"
    assert proposition("Did CNN report that Harris, who is 22, was sentenced?") == (
        "CNN report that Harris, who is 22, was sentenced")
    # a clause that opens with "while" is not a second part
    assert parts("Did CNN report that While prices fell, all states paid more than $4?") == (
        ["CNN report that While prices fell, all states paid more than $4"], "")


def test_parts_split_at_clauses_and_at_the_order_of_reports() -> None:
    assert parts("Did CNN report that Ford quit before it reported that Tesla grew?") == (
        ["CNN report that Ford quit", "it reported that Tesla grew"], "before")
    assert parts("Did The Verge report the recall after TechCrunch reported the fine?") == (
        ["The Verge report the recall", "TechCrunch reported the fine"], "after")
    # an "after" inside the reported fact is not about the reports
    assert parts("Did The Verge report the recall before or after TechCrunch reported the fine?") == (
        ["The Verge report the recall", "TechCrunch reported the fine"], "which")
    assert parts("Did CNN report that Petro won after a recount?") == (
        ["CNN report that Petro won after a recount"], "")
    assert parts("Does the TechCrunch article say Apple grew, while the Verge article says Google shrank?") == (
        ["the TechCrunch article say Apple grew", "the Verge article says Google shrank"], "")


FORD = "Ford is pulling the plug on an effort to develop its first fully self-driving car, at a cost of $2.7 billion."


def test_a_supported_claim_is_yes_and_a_swapped_name_is_no() -> None:
    context = [_ev(FORD)]
    yes = verdict("Did CNN report that Ford is pulling the plug on its self-driving car effort?", [context], {})
    assert yes is not None and yes.says == "Yes" and yes.parts[0].covered >= SUPPORTED
    no = verdict("Did CNN report that Tesla is pulling the plug on its self-driving car effort?", [context], {})
    assert no is not None and no.says == "No" and no.parts[0].other
    # an amount stated otherwise
    cost = verdict("Did CNN report that Ford's self-driving car effort cost $9.1 billion?", [context], {})
    assert cost is not None and cost.says == "No"


def test_no_verdict_when_no_sentence_covers_the_claim() -> None:
    assert verdict("Did CNN report that Ford opened a battery plant in Ohio?", [[_ev(FORD)]], {}) is None


def test_the_order_of_two_reports_comes_from_their_dates() -> None:
    context = [_ev(FORD, date="2022-10-27"),
               _ev("Netflix renewed the hit show Squid Game for a second season.", "TV", "2022-06-12",
                   "https://cnn.com/b")]
    q = "Did CNN report that Netflix renewed Squid Game {} it reported that Ford is pulling the plug on self-driving?"
    before, after = verdict(q.format("before"), [context], {}), verdict(q.format("after"), [context], {})
    assert before is not None and before.says == "Yes" and "2022-06-12" in before.why
    assert after is not None and after.says == "No"
    which = verdict(q.format("before or after"), [context], {})
    assert which is not None and which.says == "Before"
    # both parts in one article: its date cannot order them
    art = make_article("Cars", FORD + " Netflix renewed the hit show Squid Game.", url="https://cnn.com/c",
                       source="CNN", date="2022-10-27")
    same = [Evidence(s, art, 0.6, 0.5) for s in split_sentences(art.id, art.text)]
    assert verdict(q.format("before"), [same], {}) is None


QUAKE = ("The magnitude 5.9 quake struck during the early hours of Wednesday near the city of Khost in eastern "
         "Afghanistan.")


def test_a_paraphrase_close_in_meaning_is_supported_with_fewer_shared_words() -> None:
    q = "Did CNN report that a magnitude 5.9 earthquake hit eastern Afghanistan, flattening stone homes?"
    far = verdict(q, [[_ev(QUAKE)]], {})  # cosine 0.5: the shared words alone must cover SUPPORTED
    close = Evidence(_ev(QUAKE).sentence, _ev(QUAKE).article, 0.6, SIMILAR)
    near = verdict(q, [[close]], {})
    assert far is None
    assert near is not None and near.says == "Yes"
    assert SUPPORTED_SIMILAR <= near.parts[0].covered < SUPPORTED


def test_an_amount_stated_otherwise_beside_one_that_matches_is_no() -> None:
    context = [_ev("Joey Chestnut won the contest, devouring an astounding 63 hot dogs and buns in 10 minutes.")]
    no = verdict("Did CNN report that Chestnut won the contest after eating 33 hot dogs and buns in 10 minutes?",
                 [context], {})
    assert no is not None and no.says == "No" and no.parts[0].other
    yes = verdict("Did CNN report that Chestnut won the contest after eating 63 hot dogs and buns in 10 minutes?",
                  [context], {})
    assert yes is not None and yes.says == "Yes"


def test_a_denial_must_cover_more_of_the_question_than_a_swapped_name() -> None:
    context = [_ev("No date has been set for the next round of talks in Istanbul.")]
    no = verdict("Has a date been set for the next round of talks in Istanbul?", [context], {})
    assert no is not None and no.says == "No" and no.parts[0].covered >= DENIED
    # two thirds of its words: below DENIED, so the denial settles nothing
    assert verdict("Has a date been set for the next round of talks in Istanbul between warring delegations in spring?",
                   [context], {}) is None


def test_a_name_is_put_in_another_s_place_only_where_its_article_never_mentions_it() -> None:
    q = "Did CNN report that the Kremlin said major agreements were hardly possible at the talks?"
    said = "Peskov said major agreements were hardly possible at the talks."
    # the article names the Kremlin elsewhere: Peskov speaks for it, he does not replace it
    yes = verdict(q, [[_ev(f"{said} He speaks for the Kremlin.")]], {})
    assert yes is not None and yes.says == "Yes"
    no = verdict(q, [[_ev(f"{said} He spoke in Moscow.")]], {})
    assert no is not None and no.says == "No" and no.parts[0].other
