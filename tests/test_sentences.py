"""Sentence splitting on tricky news text, with the expected sentences written out, and exact offsets."""

from __future__ import annotations

import re

import pytest

from rag.ingest.articles import load_file
from rag.ingest.sentences import split_sentences, split_spans


def texts(text: str) -> list[str]:
    return [s.text for s in split_sentences("a", text)]


CASES = [
    pytest.param(
        '"We will not back down," he said. The talks resume on Monday.',
        ['"We will not back down," he said.', "The talks resume on Monday."],
        id="quote-comma-he-said",
    ),
    pytest.param(
        "“We will win,” he said. “It is only a matter of time.”",
        ["“We will win,” he said.", "“It is only a matter of time.”"],
        id="curly-quotes",
    ),
    pytest.param(
        '"Is it over?" she asked. "No."',
        ['"Is it over?" she asked.', '"No."'],
        id="question-inside-quote-then-lowercase",
    ),
    pytest.param(
        'He said "Stop." Then he left.',
        ['He said "Stop."', "Then he left."],
        id="period-inside-closing-quote",
    ),
    pytest.param(
        "The U.S. economy grew in Jan. last year. The U.K. economy shrank.",
        ["The U.S. economy grew in Jan. last year.", "The U.K. economy shrank."],
        id="us-uk-jan",
    ),
    pytest.param(
        "Dr. Smith met Gov. Jones at 3 p.m. on Friday. They talked.",
        ["Dr. Smith met Gov. Jones at 3 p.m. on Friday.", "They talked."],
        id="dr-gov-pm",
    ),
    pytest.param(
        "Talks resume Jan. 5 in Geneva. Sen. Warren objected.",
        ["Talks resume Jan. 5 in Geneva.", "Sen. Warren objected."],
        id="jan-digit-sen",
    ),
    pytest.param(
        "The U.N. Security Council met on Oct. 12. It adjourned.",
        ["The U.N. Security Council met on Oct. 12.", "It adjourned."],
        id="un-oct",
    ),
    pytest.param(
        "Prof. Ng, of Stanford Univ., spoke. J. K. Rowling agreed. Apple Inc. declined to comment.",
        ["Prof. Ng, of Stanford Univ., spoke.", "J. K. Rowling agreed.", "Apple Inc. declined to comment."],
        id="prof-univ-initials-inc",
    ),
    pytest.param(
        "Russia controls about 20% of Ukraine. Growth was 3.5 percent. The deal is worth $1.9bn, officials said.",
        ["Russia controls about 20% of Ukraine.", "Growth was 3.5 percent.",
         "The deal is worth $1.9bn, officials said."],
        id="numbers-percent-decimal-money",
    ),
    pytest.param(
        "Output grew 0.5 pct (vs. 0.3 pct forecast). Economists were pleased. It cost $5. Prices rose 1.2%.",
        ["Output grew 0.5 pct (vs. 0.3 pct forecast).", "Economists were pleased.", "It cost $5.",
         "Prices rose 1.2%."],
        id="vs-and-money-at-end",
    ),
    pytest.param(
        "WASHINGTON (Reuters) - The U.S. Senate voted on Tuesday. Gov. Gavin Newsom signed it.",
        ["WASHINGTON (Reuters) - The U.S. Senate voted on Tuesday.", "Gov. Gavin Newsom signed it."],
        id="dateline-reuters",
    ),
    pytest.param(
        "LONDON, Jan. 5 (Reuters) - Shares fell 1.2% on Monday. Analysts were surprised.",
        ["LONDON, Jan. 5 (Reuters) - Shares fell 1.2% on Monday.", "Analysts were surprised."],
        id="dateline-with-date",
    ),
    pytest.param(
        "KYIV, Ukraine (AP) — Russia fired 40 drones overnight. Ukraine said it shot down 35.",
        ["KYIV, Ukraine (AP) — Russia fired 40 drones overnight.", "Ukraine said it shot down 35."],
        id="dateline-ap-em-dash",
    ),
    pytest.param(
        "By Jane Doe\nWASHINGTON (Reuters) - Prices rose 20% in Jan. 2024. The Fed held rates.",
        ["By Jane Doe", "WASHINGTON (Reuters) - Prices rose 20% in Jan. 2024.", "The Fed held rates."],
        id="byline-own-line",
    ),
    pytest.param(
        "Markets Rally Again\n\nStocks rose on Monday. Bonds fell.\n\nWhat Comes Next\n\nNobody knows.",
        ["Markets Rally Again", "Stocks rose on Monday.", "Bonds fell.", "What Comes Next", "Nobody knows."],
        id="headings-never-join-prose",
    ),
    pytest.param(
        "Key points:\n- Stocks rose 2.5%.\n- Bonds fell\n* Oil was flat.",
        ["Key points:", "- Stocks rose 2.5%.", "- Bonds fell", "* Oil was flat."],
        id="bullet-list-lines",
    ),
    pytest.param(
        "It rose to 3.5 percent. Then it fell...  Then it rose again! Is this real?! Yes.",
        ["It rose to 3.5 percent.", "Then it fell...", "Then it rose again!", "Is this real?!", "Yes."],
        id="ellipsis-exclamation",
    ),
    pytest.param(
        "(Reporting by Jane Doe; Editing by John Smith)",
        ["(Reporting by Jane Doe; Editing by John Smith)"],
        id="reporting-credit",
    ),
    pytest.param("---\n***\n...", [], id="punctuation-only-lines-are-not-sentences"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_split_worked_examples(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Steps:\n1. Stocks rose.\n2. Bonds fell.", ["Steps:", "1. Stocks rose.", "2. Bonds fell."]),
        ("10. Tenth point here.", ["10. Tenth point here."]),
    ],
    ids=["numbered-list", "two-digit-number"],
)
def test_numbered_list_item_is_one_sentence(text: str, expected: list[str]) -> None:
    # "1." at the start of a line is a list marker, not a sentence of its own.
    assert texts(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The match ended 2-1. Ødegaard scored twice.", ["The match ended 2-1.", "Ødegaard scored twice."]),
        ("Talks stalled. Émile Zola Street was closed.", ["Talks stalled.", "Émile Zola Street was closed."]),
        ("Президент выступил. Переговоры продолжаются.", ["Президент выступил.", "Переговоры продолжаются."]),
    ],
    ids=["o-slash", "e-acute", "cyrillic"],
)
def test_sentence_may_start_with_non_ascii_capital(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


def test_sentence_ids_and_ordinals() -> None:
    sents = split_sentences("art1", "One here. Two here.\nThree here.")
    assert [(s.n, s.id) for s in sents] == [(0, "art1:0"), (1, "art1:1"), (2, "art1:2")]
    assert [(s.start, s.end) for s in sents] == [(0, 9), (10, 19), (20, 31)]


def test_offsets_skip_leading_whitespace_exactly() -> None:
    text = "First one.   Second one.\n   Third one."
    assert split_spans(text) == [(0, 10), (13, 24), (28, 38)]


@pytest.fixture(scope="module")
def seed_article(seed_file):
    arts, skipped = load_file(seed_file)
    assert skipped == []
    assert len(arts) == 1
    return arts[0]


def test_seed_offsets_slice_exactly(seed_article) -> None:
    text = seed_article.text
    sents = split_sentences(seed_article.id, text)
    assert len(sents) == 38
    prev_end = 0
    for i, s in enumerate(sents):
        assert s.n == i
        assert text[s.start : s.end] == s.text
        assert s.start >= prev_end
        assert s.text == s.text.strip() and s.text
        prev_end = s.end
    # Together the sentences cover every non-space character of the article, in order.
    assert "".join(re.sub(r"\s", "", s.text) for s in sents) == re.sub(r"\s", "", text)


def test_seed_specific_sentences(seed_article) -> None:
    by_text = {s.text: s for s in split_sentences(seed_article.id, seed_article.text)}
    for expected in [
        "Renewed Calls for Peace Talks Amid Escalating Conflict",
        "According to reports, Russia currently controls approximately 20% of Ukrainian land.",
        'Peskov acknowledged the challenges of achieving breakthroughs in the current situation, stating that '
        '"it\'s hardly possible" for any major agreements to be reached.',
        "The Ukrainian delegation will be led by former Defense Minister Rustem Umerov, who now serves as "
        "secretary of the National Security and Defense Council.",
        "Five others were injured in the attack.",
    ]:
        assert expected in by_text, expected
        s = by_text[expected]
        assert seed_article.text[s.start : s.end] == expected


def test_seed_boilerplate_and_title_are_not_sentences(seed_article) -> None:
    sents = [s.text for s in split_sentences(seed_article.id, seed_article.text)]
    assert seed_article.title == "Zelensky Proposes New Meeting with Putin"
    assert not any("Post a Comment" in s or "Previous Post" in s or "Next Post" in s for s in sents)
    assert seed_article.title not in sents
