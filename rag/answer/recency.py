"""A question about what happened lately ("this week", "on Sunday", "recently") is not answered from an article
written long before the library's newest one. News libraries hold old pages beside this week's (a search engine
returns a 2016 story on the same subject), and the old page states an answer to an old question: "the Conservative
Party chose Theresa May and Andrea Leadsom as the final two candidates" (2016) for "Which two candidates are in the
final ballot …?" asked in 2022.

"Long before" is the setting `stale_after_days` (0 turns the check off) before the newest dated article the library
holds: a library of one year's news is never judged at all, whatever the date of the question. A question that
names a year ("in 2016", "the 2020 election") is anchored there and is not judged either; nor is an article without
a date, nor a library without dated articles. Such a question's search leaves the old pages out (`Filters.
fresh_from`), so this week's pages on the subject reach the model instead of being crowded out by old ones; when
the search finds nothing else, the old pages are searched and shown beside the refusal, never cited."""

from __future__ import annotations

import re
from datetime import date as Date

_WEEKDAYS = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
# words that place what is asked at the time of asking
_RECENT = re.compile(r"\b(?:(?:this|last|past)\s+(?:week|weekend|month)|this\s+(?:year|season)|recent(?:ly)?|"
                     rf"current(?:ly)?|(?<!\busa\s)today|tonight|latest|newly|(?:on|last|this)\s+{_WEEKDAYS})\b",
                     re.I)  # "USA Today" is an outlet, not a time
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def asks_recent(question: str) -> bool:
    """Does the question ask about the time of asking ("this week", "on Sunday", "recently"), without naming a
    year?"""
    return bool(_RECENT.search(question)) and not _YEAR.search(question)


def day(value: str) -> Date | None:
    """An article's date as stored ("2022-06-17T08:00:00Z", "2022-06-17") as a day; None when it is not ISO."""
    m = _ISO_DAY.match(value.strip())
    if not m:
        return None
    try:
        return Date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
