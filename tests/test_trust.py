"""Trust on questions nobody tuned for, with the real index, embedder, verifier and (where marked) model: absent
names refused by name, a two-article question cited from both, a correct short draft kept, the verifier's scores on
written-out pairs, and bad questions answered with a clear message or a refusal."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answer.pipeline import Answerer
from rag.answer.verifier import Question, Verifier, features
from rag.errors import RagError
from rag.ingest.articles import make_article
from rag.library import Library


class FixedDraft:
    """A generator that writes a given draft: checks the checker, not the model."""

    name = "fixed-draft"

    def __init__(self, draft: str) -> None:
        self.draft = draft

    def stream(self, prompt, max_tokens: int, stop: tuple[str, ...] = ()):  # noqa: ANN001, ANN201
        yield self.draft


@pytest.mark.slow
@pytest.mark.parametrize(("question", "name"), [
    ("What did Macron say about the talks?", "Macron"),
    ("What did Angela Merkel say about the Istanbul talks?", "Angela Merkel"),
])
def test_absent_names_are_refused_by_name(seed_assistant, question: str, name: str) -> None:
    a = seed_assistant.ask(question)
    assert a.refused and not a.citations
    assert a.text.startswith(f"The articles don't mention {name}.")
    assert a.closest  # the nearest sentences are still shown


ISTANBUL_SENTENCE = ("The talks are expected to take place in Istanbul, but the lack of clear expectations from the "
                     "Russian side has raised doubts about their effectiveness.")


def test_a_correct_short_draft_is_kept(seed_library) -> None:
    question = "In which city is the third round of direct negotiations expected to take place?"
    # the right answer reaches the reader, cited to the sentence that states it: the verifier finds "Istanbul." only
    # 0.55 likely right (below `requote_below`), so the sentence it rests on is quoted instead of the model's word
    a = Answerer(seed_library.retriever, FixedDraft("Istanbul. [1]")).ask(question)
    assert not a.refused and a.mode == "extractive"
    assert [c.text for c in a.citations] == [ISTANBUL_SENTENCE] and a.text == f"{ISTANBUL_SENTENCE} [1]"
    # the draft itself is the answer when the verifier does not prefer the quote
    keeps_words = replace(Verifier.load(), requote_below=0.0)
    a = Answerer(seed_library.retriever, FixedDraft("Istanbul. [1]"), verifier=keeps_words).ask(question)
    assert not a.refused and a.mode == "generated"
    assert a.text.startswith("Istanbul.") and "Istanbul" in a.citations[0].text


def test_a_claim_the_model_did_not_finish_is_said_by_its_whole_sentence(seed_library) -> None:
    question = "In which city is the third round of direct negotiations expected to take place?"
    keeps_words = replace(Verifier.load(), requote_below=0.0)  # the model's own claims stand
    cut = "Istanbul. [1] The talks are expected to take place in Istanbul, but the lack of clear [1]"
    a = Answerer(seed_library.retriever, FixedDraft(cut), verifier=keeps_words).ask(question)
    assert a.mode == "generated" and [c.text for c in a.citations] == [ISTANBUL_SENTENCE]
    assert a.text == f"Istanbul. [1] {ISTANBUL_SENTENCE} [1]"
    # the same claim finished by the model is said in its own words
    done = "Istanbul. [1] The talks are expected to take place in Istanbul. [1]"
    a = Answerer(seed_library.retriever, FixedDraft(done), verifier=keeps_words).ask(question)
    assert a.text == "Istanbul. [1] The talks are expected to take place in Istanbul. [1]"


def test_a_claim_that_goes_past_its_sentence_keeps_the_clause_it_states(seed_library) -> None:
    question = "In which city is the third round of direct negotiations expected to take place?"
    keeps_words = replace(Verifier.load(), requote_below=0.0)  # the model's own claims stand
    # the draft's tail (40 generals, Belarus) is in no sentence: before, the whole claim went unsupported
    draft = "The talks are expected to take place in Istanbul, with 40 generals from Belarus. [1]"
    a = Answerer(seed_library.retriever, FixedDraft(draft), verifier=keeps_words).ask(question)
    assert a.mode == "generated" and [c.text for c in a.citations] == [ISTANBUL_SENTENCE]
    assert a.text == "The talks are expected to take place in Istanbul. [1]"
    # a last claim the model did not finish, cut back so, is said as that clause, not as its whole sentence
    cut = "Istanbul. [1] The talks are expected to take place in Istanbul, with 40 generals from Belarus and [1]"
    a = Answerer(seed_library.retriever, FixedDraft(cut), verifier=keeps_words).ask(question)
    assert a.text == "Istanbul. [1] The talks are expected to take place in Istanbul. [1]"


def test_caution_refuses_what_the_default_answers(seed_library) -> None:
    question = "In which city is the third round of direct negotiations expected to take place?"
    default = Answerer(seed_library.retriever, FixedDraft("Istanbul. [1]")).ask(question)
    cautious = Answerer(seed_library.retriever, FixedDraft("Istanbul. [1]"),
                        verifier=Verifier.load().cautious(0.5)).ask(question)
    assert not default.refused and "Istanbul" in default.text
    assert cautious.refused and cautious.citations == () and cautious.closest


def test_the_settings_caution_reaches_the_answerer(seed_library, minilm) -> None:
    from rag.assistant import Assistant
    from rag.settings import Settings

    answerer = Assistant(Settings(index_dir=seed_library.index_dir, caution=0.25), embedder=minilm).answerer()
    assert answerer.verifier == Verifier.load().cautious(0.25)

def test_a_wrong_draft_is_not_kept(seed_library) -> None:
    answerer = Answerer(seed_library.retriever, FixedDraft("Zelensky. [1]"))
    a = answerer.ask("Who leads the Ukrainian delegation?")
    assert not a.text.startswith("Zelensky")
    if not a.refused:
        assert "Umerov" in a.text and all("Zelensky" not in c.text for c in a.citations)


@pytest.mark.parametrize("question", ["What is the delegation's budget?", "Why did the talks stall?"])
def test_the_models_refusal_stands_when_no_sentence_clearly_answers(seed_library, question: str) -> None:
    answerer = Answerer(seed_library.retriever, FixedDraft("NOT IN ARTICLES"))
    a = answerer.ask(question)
    assert a.refused and a.citations == () and a.closest


@pytest.fixture(scope="module")
def two_articles(tmp_path_factory, minilm) -> Library:
    lib = Library(tmp_path_factory.mktemp("two-articles"), embedder=minilm)
    lib.add_articles([
        make_article("Acme buys Zeta Labs", "Acme Corp agreed on Monday to buy the robotics start-up Zeta Labs for "
                     "$2 billion. The deal still needs approval from regulators. Acme shares rose 4 percent.",
                     url="https://example.com/acme-zeta", source="Wire One", date="2026-03-02"),
        make_article("Zeta Labs founder to step down", "Mira Solis, who founded Zeta Labs in 2015, will step down as "
                     "chief executive once the sale closes. She plans to start a climate fund. Solis studied physics.",
                     url="https://example.com/zeta-founder", source="Wire Two", date="2026-03-03"),
        make_article("Rain expected", "Heavy rain is expected across the region on Tuesday. Farmers welcomed the "
                     "forecast after a dry winter.", url="https://example.com/rain", source="Wire One"),
    ])
    return lib


@pytest.mark.slow
def test_a_two_article_question_cites_a_sentence_from_each(two_articles, seed_assistant) -> None:
    answerer = Answerer(two_articles.retriever, seed_assistant.generator)
    a = answerer.ask("Who founded the start-up that Acme Corp agreed to buy for $2 billion?")
    assert not a.refused
    assert {c.url for c in a.citations} >= {"https://example.com/acme-zeta", "https://example.com/zeta-founder"}
    assert "Solis" in a.text
    for c in a.citations:  # every part rests on its own exact source sentence
        assert two_articles.article(c.article_id).text[c.start:c.end] == c.text


def test_verifier_scores_written_out_pairs(seed_library) -> None:
    """The sentence that answers is scored above on-topic sentences that don't, for each written-out question."""
    v = Verifier.load()
    retriever = seed_library.retriever
    pairs = [
        ("Who leads the Ukrainian delegation?", "Rustem Umerov", "Zelensky emphasized"),
        ("In which city is the third round of direct negotiations expected to take place?", "expected to take place "
         "in Istanbul", "Despite his repeated calls"),
    ]
    for question, answering, other in pairs:
        context = retriever.retrieve(question, max_sentences=64).sentences
        likely = v.probabilities(features(Question(question, retriever.idf), context, False))
        score = {ev.sentence.text: p for ev, p in zip(context, likely, strict=True)}
        good = max(p for text, p in score.items() if answering in text)
        bad = max(p for text, p in score.items() if other in text)
        assert good > bad, (question, good, bad)


@pytest.mark.parametrize("question", ["", "   \n\t ", "x" * 10_000])
def test_empty_or_huge_questions_get_a_clear_message(seed_library, question: str) -> None:
    answerer = Answerer(seed_library.retriever, FixedDraft("Istanbul. [1]"))
    with pytest.raises(RagError, match="empty|characters long"):
        answerer.ask(question)


@pytest.mark.slow
@pytest.mark.parametrize("question", [
    "¿Quién dirige la delegación ucraniana en las conversaciones?",
    "\x8f\x03ÿþ\u0000qz 9x#@! ᚠᛇᚻ ∮ ⌘ \ud7ff",
    "Wer führt die ukrainische Delegation?",
])
def test_foreign_or_random_questions_never_quote_an_unrelated_sentence(seed_assistant, question: str) -> None:
    a = seed_assistant.ask(question)
    if not a.refused:  # an answer in another language is fine only when it rests on the delegation sentence
        assert any("delegation" in c.text for c in a.citations), a.text


@pytest.mark.parametrize(("question", "says", "cited"), [
    ("Did Zelensky propose a new meeting with Putin?", "Yes", "extended an invitation for a meeting"),
    # the sentence that matches says the opposite: "no specific date has been set for the upcoming talks"
    ("Has a specific date been set for the upcoming talks in Istanbul?", "No", "no specific date has been set"),
    # another amount in the place of the question's
    ("Did Russia's Defense Ministry claim that its air defenses intercepted 50 Ukrainian drones?", "No",
     "intercepted 35 Ukrainian long-range drones"),
])
def test_yes_no_questions_get_a_verdict_resting_on_the_sentence(seed_library, question: str, says: str,
                                                                cited: str) -> None:
    a = Answerer(seed_library.retriever, FixedDraft("NOT IN ARTICLES")).ask(question)  # the model is not asked
    assert not a.refused and a.mode == "verdict"
    assert a.text.startswith(f"{says}. ") and any(cited in c.text for c in a.citations)


def test_a_yes_no_question_naming_someone_never_mentioned_gets_no_where_a_sentence_names_another(seed_library) -> None:
    answerer = Answerer(seed_library.retriever, FixedDraft("Yes."))
    a = answerer.ask("Will the Ukrainian delegation be led by former Defense Minister Olek Brannik?")
    assert not a.refused and a.mode == "verdict"
    assert a.text.startswith("No. The articles don't mention ") and "Olek Brannik; they say: " in a.text
    assert any("Rustem Umerov" in c.text for c in a.citations)
    # two names never mentioned (Macron, Geneva) are not one put in another's place: refused by the missing names, as
    # a question asking who would be
    b = answerer.ask("Did Macron propose a new round of talks in Geneva?")
    assert b.refused and "Macron" in b.text
    # Peskov's sentence does not put him in the Kremlin's place: the article names the Kremlin (its spokesman)
    c = answerer.ask("Did the Kremlin say big agreements are hardly possible in the talks?")
    assert not c.text.startswith("No"), c.text


@pytest.mark.parametrize(("question", "says"), [
    ("True or false: Zelensky extended an invitation for a meeting with Putin.", "True"),
    ("True or false: Russia's Defense Ministry claimed that its air defenses intercepted 50 Ukrainian drones.",
     "False"),
])
def test_a_quiz_true_or_false_statement_gets_true_or_false(seed_library, question: str, says: str) -> None:
    a = Answerer(seed_library.retriever, FixedDraft("True.")).ask(question)
    assert not a.refused and a.mode == "verdict" and a.text.startswith(f"{says}. ") and a.citations


def test_a_yes_no_question_the_articles_do_not_settle_is_refused(seed_library) -> None:
    a = Answerer(seed_library.retriever, FixedDraft("Yes.")).ask("Did the earlier rounds of talks agree a ceasefire?")
    assert a.refused and a.closest


@pytest.mark.parametrize(("question", "says"), [
    ("Did Wire One report that Acme agreed to buy Zeta Labs before Wire Two reported that Mira Solis will step "
     "down?", "Yes"),
    ("Did Wire One report that Acme agreed to buy Zeta Labs after Wire Two reported that Mira Solis will step "
     "down?", "No"),
    ("Does the Wire One article say that Acme agreed to buy Zeta Labs for $2 billion, while the Wire Two article "
     "says that Mira Solis founded Zeta Labs?", "Yes"),
])
def test_a_yes_no_question_in_two_parts_cites_each_outlets_article(two_articles, question: str, says: str) -> None:
    a = Answerer(two_articles.retriever, FixedDraft("NOT IN ARTICLES")).ask(question)
    assert not a.refused and a.text.startswith(says)
    assert [c.url for c in a.citations] == ["https://example.com/acme-zeta", "https://example.com/zeta-founder"]
