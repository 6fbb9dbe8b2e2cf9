"""Questions about what happened lately are not answered from articles written long before the library's newest:
the cues and dates pinned exactly, then the real index, embedder and verifier on a library holding a 2016 story
beside 2022 ones."""

from __future__ import annotations

from datetime import date

import pytest
from test_trust import FixedDraft

from rag.answer.pipeline import Answerer
from rag.answer.recency import asks_recent, day, stale
from rag.ingest.articles import make_article
from rag.library import Library


@pytest.mark.parametrize(("question", "recent"), [
    ("Which two candidates are in the final ballot this week?", True),
    ("Who won the race on Sunday?", True),
    ("What did the court recently decide?", True),
    ("Who is currently leading the party?", True),
    ("Which country announced this month that it will join NATO?", True),
    ("Which two candidates were in the final ballot?", False),  # no time of asking
    ("Who won the 2016 race this week?", False),  # a named year anchors it
    ("What happened in the week of the election?", False),
    ("Which state sold the winning ticket, as reported by both CNN and USA Today?", False),  # an outlet's name
    ("What did the mayor say today, according to USA Today?", True),
])
def test_questions_about_the_time_of_asking(question: str, recent: bool) -> None:
    assert asks_recent(question) is recent


def test_article_days_and_staleness() -> None:
    assert day("2022-06-17T08:00:00Z") == date(2022, 6, 17)
    assert day("June 17, 2022") is None and day("2022-02-30") is None and day("") is None
    newest = date(2022, 8, 24)
    assert stale("2021-08-23", newest)  # more than a year before the newest
    assert not stale("2021-08-24", newest) and not stale("2022-01-05", newest)
    assert not stale("", newest) and not stale("2016-07-07", None)  # undated article, undated library


@pytest.fixture(scope="module")
def party_library(tmp_path_factory, minilm) -> Library:
    lib = Library(tmp_path_factory.mktemp("recency"), embedder=minilm)
    lib.add_articles([
        make_article("May and Leadsom to contest leadership", "The Conservative Party chose Home Secretary Theresa "
                     "May and Energy Minister Andrea Leadsom as the final two candidates to succeed Prime Minister "
                     "David Cameron. Party members will vote over the summer.", url="https://news.example/2016/tory",
                     source="News Example", date="2016-07-07"),
        make_article("Heatwave grips Britain", "Britain recorded its hottest day on Tuesday as temperatures passed "
                     "40C. Rail services were cancelled across England.", url="https://news.example/2022/heat",
                     source="News Example", date="2022-07-20"),
    ])
    return lib


def test_a_question_about_this_week_is_not_answered_from_an_old_story(party_library: Library) -> None:
    answerer = Answerer(party_library.retriever, FixedDraft("Theresa May and Andrea Leadsom. [1]"))
    a = answerer.ask("Which two candidates are in the final ballot to succeed the prime minister this week?")
    assert a.refused and a.citations == ()
    assert a.closest and "Leadsom" in a.closest[0].text  # the old sentence is still shown as the closest found


def test_the_check_is_off_at_zero_days(party_library: Library) -> None:
    answerer = Answerer(party_library.retriever, FixedDraft("Theresa May and Andrea Leadsom. [1]"),
                        stale_after_days=0)
    a = answerer.ask("Which two candidates are in the final ballot to succeed the prime minister this week?")
    assert not a.refused and a.citations[0].url == "https://news.example/2016/tory"


@pytest.mark.parametrize("question", [
    "Which two candidates were chosen to succeed David Cameron?",  # no time of asking
    "Which two candidates were in the final ballot to succeed the prime minister in 2016?",  # anchored in 2016
])
def test_the_old_story_answers_questions_not_about_the_time_of_asking(party_library: Library, question: str) -> None:
    answerer = Answerer(party_library.retriever, FixedDraft("Theresa May and Andrea Leadsom. [1]"))
    a = answerer.ask(question)
    assert not a.refused and "Leadsom" in a.text
    assert a.citations[0].url == "https://news.example/2016/tory"


def test_the_library_newest_day_skips_undated_and_misdated_articles(tmp_path, minilm) -> None:
    lib = Library(tmp_path / "dates", embedder=minilm)
    lib.add_articles([make_article("Undated", "The bridge closed for repairs.", url="https://a.example/2",
                                   date="last Tuesday")])
    assert lib.store.newest_date() == ""  # no ISO date
    lib.add_articles([
        make_article("Old", "The bridge opened in spring.", url="https://a.example/1", date="2021-04-02T10:00:00Z"),
        make_article("Misdated", "The bridge will reopen.", url="https://a.example/3", date="2999-01-01"),
    ])
    lib.store.refresh()
    assert lib.store.newest_date() == "2021-04-02"
