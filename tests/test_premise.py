"""A question's premise about its source ("According to CNN's report of June 12, 2022, …"): parsing pinned exactly,
then the real index, embedder and verifier refusing a question whose report the library does not hold."""

from __future__ import annotations

from datetime import date

import pytest
from test_trust import FixedDraft

from rag.answer.outlet_names import called, outlet_label
from rag.answer.pipeline import Answerer
from rag.answer.premise import (
    MissingReport,
    as_written,
    attributed_filter,
    missing_report,
    named_outlets,
    question_dates,
)
from rag.answer.retrieve import Filters, outlet_words
from rag.ingest.articles import make_article
from rag.library import Library


def test_dates_written_in_a_question() -> None:
    assert question_dates("According to CNN's report of June 12, 2022, who won?") == [date(2022, 6, 12)]
    assert question_dates("as CNN reported on Sept. 3, 2022?") == []  # abbreviations other than "May." are not read
    assert question_dates("published on September 3rd, 2022 or 2022-09-05") == [date(2022, 9, 3), date(2022, 9, 5)]
    assert question_dates("What happened on February 30, 2022?") == []  # no such day
    assert question_dates("Who won in 2022?") == []


@pytest.mark.parametrize(("name", "label"), [
    ("cnn.com", "cnn"), ("edition.cnn.com", "cnn"), ("www.usatoday.com", "usatoday"), ("bbc.co.uk", "bbc"),
    ("The Verge", "theverge"), ("CNN", "cnn"), ("theverge.com", "theverge"), ("covid.cdc.gov", "cdc"),
    ("abcnews.go.com", "abcnews"), ("www.nytimes.com", "nytimes"),
])
def test_outlet_labels(name: str, label: str) -> None:
    assert outlet_label(name) == label


def test_what_readers_call_an_outlet() -> None:
    assert called("cnn") == {"cnn"}  # too short to drop or add "the"
    assert called("theguardian") == {"theguardian", "guardian"}
    assert called("nytimes") == {"nytimes", "thenytimes", "thenewyorktimes", "newyorktimes", "nyt"}
    assert called("apnews") == {"apnews", "theapnews", "theassociatedpress", "associatedpress", "ap"}
    assert as_written("Who won, according to The New York Times?", "nytimes") == "The New York Times"
    assert as_written("Who won, as the Guardian's report said?", "theguardian") == "Guardian"


def test_outlet_words_include_what_readers_call_them() -> None:
    assert outlet_words(["The Verge"], ["edition.cnn.com", "www.nytimes.com"]) == {
        "verge", "edition", "cnn", "nytimes", "new", "york", "times", "nyt"}


def test_outlets_a_question_names() -> None:
    names = ["cnn.com", "www.usatoday.com", "The Verge", "Reuters"]
    assert named_outlets("According to CNN's report of June 18, 2022, …", names) == ["cnn.com"]
    assert named_outlets("as USA Today and The Verge reported", names) == ["www.usatoday.com", "The Verge"]
    assert named_outlets("Who said Reutersville was closed?", names) == []
    # written as a name: "people" is no mention of people.com; a first word only when in capitals or attributing
    hosts = ["people.com", "cnn.com"]
    assert named_outlets("How many people died, according to reports of June 12, 2022?", hosts) == []
    assert named_outlets("As People reported, who married?", hosts) == ["people.com"]
    assert named_outlets("People reported that who married?", hosts) == ["people.com"]
    assert named_outlets("People in Ohio said what?", hosts) == []
    assert named_outlets("CNN's report of June 12, 2022 says what?", hosts) == ["cnn.com"]
    # with or without "the", and by the names readers use for an outlet whose web host spells them otherwise
    web = ["www.theguardian.com", "www.nytimes.com", "apnews.com", "theweek.com"]
    assert named_outlets("as the Guardian reported", web) == ["www.theguardian.com"]
    assert named_outlets("According to The New York Times and the AP, who won?", web) == ["www.nytimes.com",
                                                                                       "apnews.com"]
    assert named_outlets("as The Associated Press and NYT reported", web) == ["www.nytimes.com", "apnews.com"]
    assert named_outlets("Who won, according to The Week?", web) == ["theweek.com"]
    assert named_outlets("Who won the New York marathon?", web) == []  # "New York" alone is no outlet
    assert MissingReport("USA Today", date(2022, 6, 18)).sentence() == \
        "The articles include no USA Today report from June 18, 2022."


@pytest.fixture(scope="module")
def storm_library(tmp_path_factory, minilm) -> Library:
    lib = Library(tmp_path_factory.mktemp("premise"), embedder=minilm)
    lib.add_articles([
        make_article("Storm hits the coast", "A storm hit the northern coast on Monday. Winds reached 120 mph and "
                     "the harbour closed. Ferries stopped for two days.", url="https://edition.cnn.com/storm",
                     source="cnn.com", date="2026-03-02T08:00:00Z"),
        make_article("Harbour reopens", "The harbour reopened on Thursday after the storm. Ferries resumed at noon.",
                     url="https://wire.example/harbour", source="Wire One", date=""),
    ])
    return lib


def test_a_report_the_library_holds_is_no_missing_report(storm_library: Library) -> None:
    store = storm_library.store
    for day in ("March 1, 2026", "March 2, 2026", "March 3, 2026"):  # the day before or after still counts
        assert missing_report(f"According to CNN's report of {day}, how strong were the winds?", store) is None
    assert missing_report("According to CNN's report of March 4, 2026, how strong were the winds?", store) == \
        MissingReport("CNN", date(2026, 3, 4))


def test_a_question_resting_on_a_report_the_library_lacks_is_refused_saying_so(storm_library: Library) -> None:
    answerer = Answerer(storm_library.retriever, FixedDraft("120 mph. [1]"))
    a = answerer.ask("How strong were the winds of the storm, as CNN reported on May 9, 2026?")
    assert a.refused and a.citations == ()
    assert a.text.startswith("The articles include no CNN report from May 9, 2026.")
    assert a.closest and "120 mph" in a.closest[0].text  # the nearest sentences are still shown


def test_an_outlet_without_dated_articles_or_a_question_without_a_date_is_not_judged(storm_library: Library) -> None:
    store = storm_library.store
    assert missing_report("According to Wire One's report of May 9, 2026, when did the ferries resume?", store) is None
    assert missing_report("According to CNN, how strong were the winds of the storm?", store) is None
    assert missing_report("What did the Daily Planet report on May 9, 2026?", store) is None  # not an outlet here
    # a word that is also an outlet's name does not refuse a question about a report the library holds
    assert missing_report("According to CNN's report of March 2, 2026, did Wire One cover the storm?", store) is None


def test_a_question_attributing_its_fact_to_an_outlet_filters_retrieval_to_it(storm_library: Library) -> None:
    store = storm_library.store
    cnn = ("cnn.com", "edition.cnn.com")  # the source as stored and the web host
    assert attributed_filter("According to CNN's report of March 2, 2026, how strong were the winds?", store) == \
        Filters(cnn, "2026-03-01", "2026-03-03")  # a day either side, as the premise check allows
    assert attributed_filter("How strong were the winds, as CNN reported?", store) == Filters(cnn)
    assert attributed_filter("When did the harbour reopen, according to Wire One?", store) == \
        Filters(("Wire One", "wire.example"))
    # a list of outlets: each one named, however far down the list from the attributing word
    both = Filters(tuple(sorted(("Wire One", "wire.example", *cnn))))
    assert attributed_filter("Which harbour, reported by both Wire One and CNN, reopened?", store) == both
    assert attributed_filter("Which harbour, reported by Wire One, reopened after CNN filmed it?", store) == \
        Filters(("Wire One", "wire.example"))  # "after" joins no list
    assert attributed_filter("When did the harbour reopen, as reported by both Wire One and CNN?", store) == both
    assert attributed_filter("Which harbour, as reported by Wire One, CNN, reopened?", store) == both
    assert attributed_filter("Did CNN cover the harbour?", store) is None  # names an outlet, attributes nothing
    assert attributed_filter("When did the harbour reopen, according to the report?", store) is None  # no outlet
    # an outlet's name far from any attributing word is a word of the question, not its source
    assert attributed_filter("The report says ferries stopped; which harbour near the coast did CNN film?", store) \
        is None


def test_an_attributed_question_is_answered_only_from_that_outlet(storm_library: Library) -> None:
    """The Wire One article says when ferries resumed; the question asks what CNN reported: real retrieval and
    verifier, and nothing from Wire One may be cited or shown."""
    answerer = Answerer(storm_library.retriever, FixedDraft("Ferries resumed at noon. [1]"))
    a = answerer.ask("According to CNN's report of March 2, 2026, when did the ferries resume?")
    shown = [*a.citations, *a.closest]
    assert shown and all(c.url == "https://edition.cnn.com/storm" for c in shown)
    plain = answerer.ask("When did the ferries resume?")  # without the attribution, Wire One's sentence is found
    assert any(c.url == "https://wire.example/harbour" for c in [*plain.citations, *plain.closest])
