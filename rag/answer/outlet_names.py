"""What readers call the outlets a library holds articles from. An article's outlet is its source as stored ("CNN",
"The Verge") or its web host ("edition.cnn.com"); a question writes the outlet's name ("CNN", "The Verge", "The New
York Times", "the Guardian"). Both become a label (`outlet_label`: letters and digits, lower case) and match when
the labels do, with or without a leading "the" ("the Guardian" for theguardian.com), or through `ALSO_CALLED`: the
names of well-known outlets whose web host is no spelling of them ("The New York Times" for nytimes.com, "The
Associated Press" for apnews.com)."""

from __future__ import annotations

import re

_SECOND_LEVEL = {"co", "com", "org", "net", "gov", "ac", "edu", "ne", "or"}
# host labels that name no outlet: "www", mobile and print editions, and "go" of abcnews.go.com
_NO_OUTLET = {"www", "m", "amp", "edition", "go"}
# label of a web host → how readers name that outlet, when no spelling of the host says so
ALSO_CALLED: dict[str, tuple[str, ...]] = {
    "nytimes": ("The New York Times", "NYT"),
    "wsj": ("The Wall Street Journal",),
    "apnews": ("The Associated Press", "AP"),
    "latimes": ("Los Angeles Times", "LA Times"),
    "ft": ("Financial Times",),
    "washingtonpost": ("WaPo",),
    "bbc": ("BBC News",),
    "npr": ("National Public Radio",),
    "abcnews": ("ABC",),
    "cbsnews": ("CBS",),
    "nbcnews": ("NBC",),
    "foxnews": ("Fox",),
    "cnbc": ("CNBC News",),
    "bloomberg": ("Bloomberg News",),
    "usatoday": ("USA TODAY",),
}


def outlet_label(name: str) -> str:
    """What a question calls an outlet: "cnn.com", "edition.cnn.com" → "cnn"; "bbc.co.uk" → "bbc"; "The Verge" →
    "theverge" (letters and digits only, lower case; a question's "The Verge" or "USA Today" reads the same)."""
    name = name.strip().lower()
    if re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", name):  # a web host
        labels = [x for x in name.split(".") if x not in _NO_OUTLET]
        labels = labels[:-1] or labels  # the top-level domain
        if len(labels) > 1 and labels[-1] in _SECOND_LEVEL:  # "co" of bbc.co.uk
            labels = labels[:-1]
        name = labels[-1] if labels else name
    return re.sub(r"[^a-z0-9]", "", name)


def called(label: str) -> set[str]:
    """Every label a question may write the outlet `label` as: itself, with or without a leading "the" ("guardian"
    for "theguardian"), and its `ALSO_CALLED` names ("newyorktimes", "thenewyorktimes", "nyt" for "nytimes")."""
    out = {label, *(outlet_label(n) for n in ALSO_CALLED.get(label, ()))}
    for x in list(out):
        bare = x.removeprefix("the")
        out |= {bare, "the" + bare} if len(bare) >= 4 else set()
    return out


def also_called_words(labels: set[str]) -> set[str]:
    """The words of the `ALSO_CALLED` names of these outlet labels ("new", "york", "times", "nyt" for "nytimes")."""
    return {w.lower() for label in labels for n in ALSO_CALLED.get(label, ()) for w in n.split()}
