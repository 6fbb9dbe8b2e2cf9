"""A question's premise about its source: "According to CNN's report of June 12, 2022, …", "…, as CNN reported on
June 12, 2022?". When the question names an outlet the library holds articles from, and a date, and none of that
outlet's articles (of any outlet it names) is dated within a day of it, the report it rests on is not there: the
answer says so instead of answering from another outlet's or another day's story. An outlet whose articles carry
no dates, or a question naming no date, is not judged.

When the premise holds, it also says where to look (`attributed_filter`): a question that attributes its fact to an
outlet ("according to CNN", "reported by The Verge") is answered from that outlet's articles, near its date if it
names one, not from another outlet's story of the same events."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date as Date
from datetime import timedelta

from rag.answer.outlet_names import called, outlet_label
from rag.answer.retrieve import Filters
from rag.store import Store

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_SPOKEN = re.compile(r"\b(" + "|".join(m.capitalize() for m in _MONTHS) + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+"
                     r"(\d{4})\b")
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
SLACK = timedelta(days=1)  # a report dated the day before or after (time zones, a late edition) still counts
# words that attribute a fact to a source; the outlet must stand within NEAR words of one ("according to CNN's
# report", "as CNN reported", "reported by both TechCrunch and The Verge"), so a word that merely equals an outlet's
# name ("what time…" and time.com) filters nothing
_ATTRIBUTION = re.compile(r"^(according|report|reports|reported|reporting|article|articles|story|stories|wrote|"
                          r"published|coverage|covered|says|said)$")
NEAR = 5
LISTED = 4  # ... or right after "and", "or" or a comma, this many words at most after one that does ("CNN, The Verge")


@dataclass(frozen=True)
class MissingReport:
    outlet: str
    day: Date

    def sentence(self) -> str:
        return f"The articles include no {self.outlet} report from {_spoken(self.day)}."


def question_dates(question: str) -> list[Date]:
    """The calendar dates written in the question ("June 12, 2022", "2022-06-12")."""
    out = []
    for month, day, year in _SPOKEN.findall(question):
        out += _valid(int(year), _MONTHS.index(month.lower()) + 1, int(day))
    for year, month, day in _ISO.findall(question):
        out += _valid(int(year), int(month), int(day))
    return out


def named_outlets(question: str, names: list[str]) -> list[str]:
    """Which of the library's outlet names (sources as stored, web hosts) the question names: a label matches one
    word of the question or two or three consecutive ones ("USA Today" → "usatoday"), written as a name is
    (`_mentions`)."""
    spans = {span for span, _ in _mentions(question)}
    return [n for n in names if len(outlet_label(n)) >= 2 and called(outlet_label(n)) & spans]


def _mentions(question: str) -> list[tuple[str, int]]:
    """(label, word position) of every span of one to three words that could name an outlet: it starts with a
    capital ("people" in "how many people died" is no mention of people.com), and a question's first word, capitalised
    anyway, counts only when written in capitals or followed by an attributing word ("CNN reported…")."""
    raw = question.split()
    words = [_norm(w) for w in raw]
    out = []
    for i, w in enumerate(raw):
        start = w.lstrip("\"'“‘(")
        if not start[:1].isupper():
            continue
        if i == 0 and not (_in_capitals(start) or (len(words) > 1 and _ATTRIBUTION.match(words[1]))):
            continue
        out += [("".join(words[i : i + n]), i) for n in (1, 2, 3) if i + n <= len(words)]
    return out


def _in_capitals(word: str) -> bool:
    """Written in capitals: "CNN", "CNN's", "BBC," (not "People" or "I")."""
    bare = word.removesuffix("'s").removesuffix("’s").strip(",.;:?!")
    return len(bare) >= 2 and bare.isupper()


def attributed_filter(question: str, store: Store) -> Filters | None:
    """The question's own source constraint as a retrieval filter: "According to CNN's report of June 12, 2022, …" →
    CNN's articles dated June 11–13, 2022; "Which company, reported by both TechCrunch and The Verge, …" → those two
    outlets' articles. None when it attributes nothing to an outlet the library holds."""
    cues = [i for i, w in enumerate(question.split()) if _ATTRIBUTION.match(_norm(w))]
    if not cues:
        return None
    sources, hosts = store.outlets()
    labels = {spoken: outlet_label(n) for n in {*sources, *hosts} for spoken in called(outlet_label(n))}
    mentions = [(labels[label], i) for label, i in _mentions(question) if len(label) >= 2 and label in labels]
    near = [(label, i) for label, i in mentions if any(abs(i - c) <= NEAR for c in cues)]
    raw = question.split()
    for label, j in mentions:  # a list of outlets ("both USA Today and CNN"): one joined to a near one is near too
        joined = j > 0 and (raw[j - 1].lower() in ("and", "or", "&") or raw[j - 1].endswith(","))
        if joined and any(0 < j - i <= LISTED for _, i in near):
            near.append((label, j))
    near_labels = {label for label, _ in near}
    names = tuple(sorted(n for n in {*sources, *hosts} if outlet_label(n) in near_labels))
    if not names:
        return None
    days = question_dates(question)
    if not days:
        return Filters(names)
    return Filters(names, (min(days) - SLACK).isoformat(), (max(days) + SLACK).isoformat())


def missing_report(question: str, store: Store) -> MissingReport | None:
    """The (outlet, date) report the question names when the library has none like it, else None."""
    days = question_dates(question)
    if not days:
        return None
    sources, hosts = store.outlets()
    by_label: dict[str, set[str]] = {}
    for name in named_outlets(question, [*sources, *hosts]):
        by_label.setdefault(outlet_label(name), set()).add(name)
    # conservative: the premise fails only when no named outlet has a report near a named date (a word that happens
    # to be an outlet's name, "Covid" for a covid.* site, must not refuse a question about CNN's report)
    missing: MissingReport | None = None
    for label, names in by_label.items():
        marks = ",".join("?" * len(names))
        dated = store.query(f"SELECT DISTINCT substr(date, 1, 10) FROM articles WHERE date != '' AND "
                            f"(source IN ({marks}) OR host IN ({marks}))", (*names, *names))
        have = {d for (d,) in dated}
        if not have:
            return None  # its articles carry no dates: nothing to judge by
        for day in days:
            if {(day + k * SLACK).isoformat() for k in (-1, 0, 1)} & have:
                return None
        missing = missing or MissingReport(as_written(question, label), days[0])
    return missing


def as_written(question: str, label: str) -> str:
    """The outlet as the question writes it ("USA Today" for "usatoday", "The New York Times" for "nytimes")."""
    raw = question.split()
    spoken = called(label)
    for n in (4, 3, 2, 1):
        for i in range(len(raw) - n + 1):
            span = raw[i : i + n]
            if "".join(_norm(w) for w in span) in spoken and span[0] != "the":  # "the Guardian" → "Guardian"
                return " ".join(span).removesuffix("'s").removesuffix("’s").strip(",.;:?!\"“”")
    return label


def _norm(word: str) -> str:
    return re.sub(r"[^a-z0-9]", "", word.lower().removesuffix("'s").removesuffix("’s"))


def _valid(year: int, month: int, day: int) -> list[Date]:
    try:
        return [Date(year, month, day)]
    except ValueError:
        return []


def _spoken(day: Date) -> str:
    return f"{_MONTHS[day.month - 1].capitalize()} {day.day}, {day.year}"
