"""Questions about what happened lately are not answered from articles written long before the library's newest:
the cues and dates pinned exactly, then the real index, embedder and verifier on a library holding a 2016 story
beside 2022 ones."""

from __future__ import annotations

from datetime import date

import pytest
from test_trust import FixedDraft

from rag.answer.pipeline import Answerer
from rag.answer.recency import asks_recent, day
from rag.answer.retrieve import Filters
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


def test_article_days_and_the_fresh_filter() -> None:
    assert day("2022-06-17T08:00:00Z") == date(2022, 6, 17)
    assert day("June 17, 2022") is None and day("2022-02-30") is None and day("") is None
    fresh = Filters(fresh_from="2021-08-24")  # a year before a library's newest article, 2022-08-24
    dated = {d: make_article("T", "Some text.", url=f"https://a.example/{i}", date=d)
             for i, d in enumerate(("2021-08-23", "2021-08-24T00:10:00Z", "2022-01-05", "", "last Tuesday"))}
    assert [d for d, art in dated.items() if fresh.allows(art)] == ["2021-08-24T00:10:00Z", "2022-01-05", "",
                                                                    "last Tuesday"]  # undated pages are not judged
    assert all(Filters().allows(art) for art in dated.values())


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
    assert all(c.url != "https://news.example/2016/tory" for c in a.closest)  # the old page was not searched


def test_when_no_recent_page_is_left_the_old_ones_are_shown_never_cited(party_library: Library) -> None:
    # the user's own filter keeps only 2016's pages: the recent-page search finds nothing, so they are searched
    answerer = Answerer(party_library.retriever, FixedDraft("Theresa May and Andrea Leadsom. [1]"))
    a = answerer.ask("Which two candidates are in the final ballot to succeed the prime minister this week?",
                     filters=Filters(date_to="2016-12-31"))
    assert a.refused and a.citations == ()
    assert a.closest and a.closest[0].url == "https://news.example/2016/tory"


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


def test_this_weeks_page_answers_where_an_old_one_on_the_subject_would_come_first(tmp_path, minilm) -> None:
    lib = Library(tmp_path / "ballot", embedder=minilm)
    old = ("The Conservative Party chose Theresa May and Andrea Leadsom as the final two candidates in the ballot to "
           "succeed the prime minister. ")
    lib.add_articles([
        make_article("Final two in the ballot to succeed the prime minister", old * 2, url="https://news.example/2016",
                     source="News Example", date="2016-07-07"),
        make_article("Tory race", "Rishi Sunak and Liz Truss will face a ballot of party members after the last round "
                     "of voting by MPs.", url="https://news.example/2022", source="News Example", date="2022-07-20"),
    ])
    question = "Which two candidates are in the final ballot to succeed the prime minister this week?"
    unfiltered = Answerer(lib.retriever, FixedDraft(""), stale_after_days=0).find(question, [])
    assert unfiltered.context[0].article.url == "https://news.example/2016"  # the old page comes first
    answerer = Answerer(lib.retriever, FixedDraft("Rishi Sunak and Liz Truss. [1]"))
    found = answerer.find(question, [])
    assert found.filters is not None and found.filters.fresh_from == "2021-07-20"  # a year before the newest page
    assert {ev.article.url for ev in found.context} == {"https://news.example/2022"}  # the old page: not searched
    a = answerer.ask(question)
    assert not a.refused and a.citations[0].url == "https://news.example/2022" and "Liz Truss" in a.text
    undated = answerer.find("Which two candidates were in the final ballot to succeed the prime minister?", [])
    assert undated.filters is None and "https://news.example/2016" in {ev.article.url for ev in undated.context}
