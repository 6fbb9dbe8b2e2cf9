"""Questions that name several outlets ("Which company, reported by both TechCrunch and The Verge, …", "According to
both CNN and USA Today, …"): the answer rests on one outlet's sentence, and the reader asked about both. Each named
outlet the answer does not cite yet is searched on its own, and a sentence of its articles that says the same as the
answer's first cited sentence is cited too, so the reader sees each outlet say it (`agreeing`): embedding cosine at
least `SAME_AT`, and every amount restated ("Ghana has confirmed its first cases of the deadly Marburg virus … after
two people …" for "Ghana has confirmed its first two cases of the highly infectious Marburg virus disease"; not "On
Sept. 9, 2015, Queen Elizabeth II became …" for "… ascended to the throne on February 6, 1952"). A sentence that
merely shares the answer's word is not enough ("Hide Caption …: The Queen stands next to Prince Charles …" does not
back "The Queen." as who plays Princess Diana). When none is found the answer says nothing of it: a search that
misses a sentence is no evidence that the outlet never reported it.

The pieces here are pure; `Answerer._corroborate` does the searching."""

from __future__ import annotations

from collections.abc import Sequence

from rag.answer.amounts import restates_amounts
from rag.answer.outlet_names import outlet_label
from rag.answer.retrieve import Filters
from rag.store.store import url_host

# cosine of two sentences (the MiniLM embedder) from which they say the same thing: on the outlets set's dev split,
# 0.86-0.95 were one fact in two outlets' words, 0.66-0.70 often another fact of the same story
SAME_AT = 0.8


def outlet_groups(filters: Filters) -> dict[str, tuple[str, ...]]:
    """The filter's outlets by what a question calls them: ("CNN", "edition.cnn.com", "usatoday.com") →
    {"cnn": ("CNN", "edition.cnn.com"), "usatoday": ("usatoday.com",)}."""
    groups: dict[str, tuple[str, ...]] = {}
    for name in filters.sources:
        label = outlet_label(name)
        groups[label] = (*groups.get(label, ()), name)
    return groups


def cited_outlets(sources_and_urls: list[tuple[str, str]]) -> set[str]:
    """The labels of the outlets (source, and the URL's host) of the cited articles."""
    out = set()
    for source, url in sources_and_urls:
        out |= {outlet_label(x) for x in (source, url_host(url)) if x}
    return out


def agreeing(question: str, cited: str, texts: Sequence[str], same: Sequence[float]) -> int | None:
    """Which of another outlet's sentences (`texts`) says the same as the answer's cited sentence: the most alike
    (`same`: cosines with it) of those at least `SAME_AT` alike that restate its amounts beyond the question's;
    None when none does."""
    alike = [i for i, text in enumerate(texts) if same[i] >= SAME_AT and restates_amounts(question, cited, text)]
    return max(alike, key=lambda i: same[i]) if alike else None
