"""The semantic verifier's pieces with exact values: the names a question mentions, absent names, the feature rows,
the logistic score and the packaged weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.answer.retrieve import Evidence
from rag.answer.verifier import (
    CLAIM_FEATURES,
    FEATURES,
    WEIGHTS,
    Question,
    Verifier,
    absent_names,
    claim_answers,
    claim_features,
    clause_openers,
    features,
    name_in,
    question_names,
    vocabulary,
)
from rag.ingest.articles import make_article
from rag.ingest.sentences import split_sentences


@pytest.mark.parametrize(("question", "names"), [
    ("What did Macron say about the talks?", ["Macron"]),
    ("What did Emmanuel Macron say about the talks?", ["Emmanuel Macron"]),
    ("Who leads the Ukrainian delegation?", []),
    ("Which company, reported by both TechCrunch and The Verge, bought Twitter?", ["TechCrunch", "Verge", "Twitter"]),
    ("When does the iPhone 11 release?", []),  # not a capitalised word
    ("Where will the third round of talks between Russia and Ukraine be held?", ["Russia", "Ukraine"]),
    ("Macron said what?", ["Macron"]),  # a first word counts unless it is a function word
    ("The talks were held where?", []),
    ("How many people died in the floods in Pakistan in August?", ["Pakistan"]),  # months are not names
    ("What did the President say?", []),  # generic words alone are not names
    ("Corporate America is canceling Kanye West. Among them, who?", ["Corporate America", "Kanye West"]),
    # quiz questions over web news (realtimeqa-web) that the absent-name check refused: a lower-case part after a
    # hyphen describes, a possessive ends a name, party and community labels are generic
    ("Which Nobel Peace Prize-winning former world leader died this week?", ["Nobel Peace Prize"]),
    ("Which broadcaster is likely to be saved after a government U-turn?", []),
    ("Who disrupted Liz Truss’s Tory conference speech?", ["Liz Truss"]),
    ("An LGBTQ+ supporters group has criticised which former England player?", ["England"]),
    ("Why did the Texas-Mexico border close?", ["Texas-Mexico"]),
    # amounts name nobody (realtimeqa-web and long questions refused "The articles don't mention Twenty Republican.")
    ("Twenty-two Republican governors sent a letter to President Joe Biden. Why?", ["President Joe Biden"]),
    ("Going by the CNN article of July 14, 2022, Dozens of people were unaccounted for where?", ["CNN"]),
])
def test_question_names(question: str, names: list[str]) -> None:
    assert question_names(question) == names


def test_name_in_a_vocabulary_takes_any_distinctive_word_and_spelling_variants() -> None:
    vocab = vocabulary("Ukrainian President Volodymyr Zelenskyy met U.S. envoys in Istanbul.")
    assert name_in("Zelensky", vocab)  # a spelling variant
    assert name_in("Volodymyr Zelensky", vocab)
    assert name_in("US", vocab)  # "U.S." written with stops
    assert name_in("President Zelenskyy", vocab)
    assert not name_in("Macron", vocab)
    assert not name_in("Emmanuel Macron", vocab)
    # a name after an elided article: the question's "Coeur d’Alene" names "Coeur" and "Alene"
    fire = vocabulary("A wildfire near Coeur d’Alene forced evacuations.")
    assert question_names("Which fire near Coeur d’Alene forced evacuations?") == ["Coeur", "Alene"]
    assert name_in("Alene", fire) and "d'alene" in fire
    assert not name_in("Alene", vocabulary("A wildfire near the lake forced evacuations."))


def _evidence(text: str, title: str = "Talks", url: str = "https://example.com/talks", score: float = 0.6,
              dense: float = 0.5, n: int = 0) -> Evidence:
    art = make_article(title, text, url=url, source="Example News")
    s = split_sentences(art.id, art.text)[n]
    return Evidence(s, art, score, dense)


def test_absent_names_look_at_whole_retrieved_articles_titles_sources_and_urls() -> None:
    ev = _evidence("Rustem Umerov will lead the delegation. The talks are in Istanbul.", url="https://cnn.com/x")
    assert absent_names(Question("What did Macron say about the talks?", {}), [ev]) == ["Macron"]
    # the name is in another sentence of the retrieved article, not in the ranked one: present
    assert absent_names(Question("Where will Umerov's talks be held?", {}), [ev]) == []
    assert absent_names(Question("What did CNN report about Istanbul?", {}), [ev]) == []  # from the URL
    assert absent_names(Question("What did Example News say?", {}), [ev]) == []  # from the source


def test_titles_and_generic_words_do_not_make_a_name_absent() -> None:
    """"Pres" is a title, "America" a place as generic as "States": a question index that knows neither word must
    not refuse a question about Trump or about companies (both seen in replayed QuAIL and RealTimeQA questions)."""
    ev = _evidence("President Donald Trump said Comey was a poor leader. Adidas cut ties with the corporate giant.")
    idf = {"president": 1.0, "donald": 2.0, "trump": 3.0, "comey": 4.0, "adidas": 4.0, "corporate": 2.0}
    assert absent_names(Question("When did Pres Trump say Comey was a poor leader?", idf), [ev]) == []
    assert absent_names(Question("Corporate America is canceling Kanye. Which company cost him most?", idf),
                        [ev]) == ["Kanye"]


def test_a_capital_that_opens_a_clause_names_nothing_the_index_knows() -> None:
    """A quiz writer's sentence pasted into a question keeps its capital ("Did CNN report that Various cities
    canceled …?"): yes/no questions were refused "The articles don't mention Various." A word that opens the question,
    a sentence of it or a clause after "that" counts as absent only when the index has never seen it."""
    ev = _evidence("Several cities canceled their fireworks displays this year amid a widespread drought.")
    idf = {"various": 3.0, "cities": 2.0, "canceled": 2.0, "fireworks": 4.0}
    assert clause_openers("Did CNN report that Various cities canceled? Crowds cheered. “Macron said so: Paris") == {
        "Did", "Various", "Crowds", "Macron", "Paris"}
    assert clause_openers("Did Gov. Newsom and the U.S. Senate agree?") == {"Did"}  # an abbreviation ends nothing
    # a quiz writer's sentence after an attribution that opens the question (a date's comma is inside it)
    assert clause_openers("According to both CNN and USA Today, Historic rainfall led to flooding where?") == {
        "According", "Historic"}
    assert clause_openers("According to CNN's report of June 12, 2022, Scientists say what?") == {
        "According", "Scientists"}
    assert clause_openers("According to CNN, cities in Paris, Macron said what?") == {"According"}
    assert clause_openers("Did CNN report that after the talks, Macron left?") == {"Did"}  # no attribution opens it
    assert absent_names(Question("Did CNN report that Various cities canceled their fireworks?", idf), [ev]) == []
    assert absent_names(Question("Cities canceled fireworks. Various reasons were given: which?", idf), [ev]) == []
    assert absent_names(Question("Did CNN report that Orsanne canceled its fireworks?", idf), [ev]) == ["Orsanne"]
    assert absent_names(Question("According to both CNN and USA Today, Various cities canceled what?", idf), [ev]) == []
    # inside a clause a capital is a name, known to the index or not
    assert absent_names(Question("Did CNN report that cities in Various canceled fireworks?", idf), [ev]) == [
        "Various"]


def test_a_place_under_another_name_and_people_named_by_their_country_are_not_absent() -> None:
    """Quiz questions over web news were refused "The articles don't mention Britain." over articles that write
    "UK", and "… don't mention Japanese." over articles about Japan."""
    ev = _evidence("Temperatures in the UK breached 40C. Japan's Sakurajima volcano erupted on Sunday.")
    assert absent_names(Question("What is the hottest temperature on record in Britain?", {}), [ev]) == []
    assert absent_names(Question("A volcano erupted on which Japanese island?", {}), [ev]) == []
    assert absent_names(Question("Which company could pay millions of Britons compensation?", {}), [ev]) == []
    assert absent_names(Question("What did Macron say about the UK heat?", {}), [ev]) == ["Macron"]
    uk = _evidence("Temperatures in Britain breached 40C.")
    assert absent_names(Question("What is the hottest UK temperature on record?", {}), [uk]) == []
    assert not name_in("Britain", vocabulary("The US and France agreed."))


def test_feature_row_exact_values() -> None:
    ev = _evidence("Rustem Umerov will lead the Ukrainian delegation in Istanbul. Talks resume on Monday.",
                   score=0.8, dense=0.7)
    q = Question("Who will lead the Ukrainian delegation?", {})
    rows = features(q, [ev], draft_refused=False)
    assert rows.shape == (1, len(FEATURES))
    row = dict(zip(FEATURES, rows[0].tolist(), strict=True))
    assert row["bias"] == 1.0 and row["dense"] == 0.7 and row["score"] == 0.8
    assert row["cover_sentence"] == 1.0 and row["cover_article"] == 1.0  # lead, ukrainian, delegation
    assert row["answer_type"] == 1.0 and row["constraints"] == 1.0 and row["top_rank"] == 1.0
    assert row["draft_refused"] == 0.0
    assert row["names_sentence"] == 1.0 and row["names_article"] == 1.0  # the question names no one
    assert row["new_words"] == pytest.approx(np.log1p(3))  # rustem, umerov, istanbul
    assert row["asks_question"] == 0.0 and row["gap_to_best"] == 0.0
    assert (row["type_number"], row["type_date"], row["type_name"]) == (0.0, 0.0, 1.0)


@pytest.mark.parametrize(("question", "claim", "answers"), [
    ("Who is the CEO of Lego in 2021?", "The LEGO chief executive.", False),  # names nothing the question did not
    ("Who is the CEO of Lego in 2021?", "Niels Christiansen.", True),
    ("Who is the CEO of Lego in 2021?", "The LEGO Group.", False),  # a company's suffix names no one
    ("Who won the men's singles U.S. Open in 2020?", "The U.S. Open men's singles title was won by ...", False),
    ("Which country won the most medals?", "The United States.", True),
    ("Which show took home the award for outstanding drama series?", "“Succession” won the award.", True),
    ("Where was Super Bowl 2021 held?", "The home of Super Bowl 2021.", False),
    ("How many medals did Norway win?", "Norway won medals.", False),
    ("How many medals did Norway win?", "37.", True),
    ("How many medals did Norway win?", "Thirty-seven, a record.", True),
    ("When was Splatoon 2 released?", "Splatoon 2 was released.", False),
    ("When was Splatoon 2 released?", "In July 2017.", True),
    ("Which continent will require a common charger?", "Europe.", True),  # any word of its own for other kinds
    ("Which continent will require a common charger?", "The continent will require it.", False),
])
def test_claim_answers_needs_something_of_the_asked_kind_beyond_the_question(question: str, claim: str,
                                                                            answers: bool) -> None:
    assert claim_answers(claim, Question(question, {})) is answers


def test_claim_row_exact_values() -> None:
    q = Question("Who leads the delegation?", {})
    rows = np.zeros((2, len(FEATURES)))
    rows[:, FEATURES.index("cover_sentence")] = [0.5, 0.25]
    rows[:, FEATURES.index("cover_window")] = [0.75, 0.5]
    row = claim_features(q, 2, True, 1, 0.8, False, np.array([0.6, 0.3]), rows)
    expected = dict(bias=1.0, likely=0.3, likely_share=0.5, support=0.8, best_likely=0.6, claim_words=np.log1p(2),
                    marker_ok=0.0, rank=0.5, type_number=0.0, type_date=0.0, type_name=1.0, cover=0.25,
                    cover_share=0.5, cover_window=0.5, claim_typed=1.0)
    assert row.tolist() == pytest.approx([expected[name] for name in CLAIM_FEATURES])


def test_probabilities_are_the_logistic_of_standardised_features() -> None:
    n = len(FEATURES)
    weights = [0.0] * n
    weights[0], weights[FEATURES.index("dense")] = -1.0, 2.0
    v = Verifier(tuple(weights), tuple([0.0] * n), tuple([1.0] * n), answer_at={"other": 0.5})
    rows = np.zeros((2, n))
    rows[:, FEATURES.index("dense")] = [0.0, 1.0]
    assert v.probabilities(rows).tolist() == pytest.approx([1 / (1 + np.e), 1 / (1 + np.exp(-1.0))])
    assert v.probabilities(np.zeros((0, n))).shape == (0,)


def test_packaged_weights_load_and_match_the_features() -> None:
    data = json.loads(WEIGHTS.read_text())
    assert tuple(data["features"]) == FEATURES
    v = Verifier.load()
    assert len(v.weights) == len(FEATURES) and 0.0 < v.claim_at <= 1.0 and 0.0 <= v.defer_share <= 1.0
    assert 0.0 <= v.requote_below <= 1.0
    assert len(v.claim_weights) == len(CLAIM_FEATURES)
    assert set(v.answer_at) == {"number", "date", "name", "other"}
    assert all(0.0 < x <= 1.0 for x in v.answer_at.values())
    assert data["trained_on"] and data["split"] == "dev"


def test_caution_raises_every_threshold_by_its_amount() -> None:
    v = Verifier((0.0,), (0.0,), (1.0,), {"name": 0.3, "other": 0.9}, claim_at=0.1)
    assert v.cautious(0.0) is v
    c = v.cautious(0.2)
    assert c.answer_at == {"name": pytest.approx(0.5), "other": 1.0} and c.claim_at == pytest.approx(0.3)
    assert c.answer_threshold("date") == 1.0  # a kind without its own threshold takes "other"'s
    assert v.answer_at == {"name": 0.3, "other": 0.9}  # the loaded weights are left as they were
