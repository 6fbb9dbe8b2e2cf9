"""What kind of answer a question asks for, and whether a sentence holds one: the answerability check
behind extractive answers and refusals."""

from __future__ import annotations

import re
from collections.abc import Mapping

from rag.ingest.sentences import split_spans
from rag.text import STOPWORDS, normalize

NUMBER_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
                "dozen": "12", "twenty": "20", "hundred": "100", "thousand": "1000", "million": "1000000",
                "billion": "1000000000"}
MONTHS = ("january february march april may june july august september october november december "
          "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday "
          "sunday").split()  # not "today", "last year": a relative date does not say when

_OPENING = "\"'“‘("  # what opens a quoted or bracketed name
_QUOTED = re.compile(r"[\"“‘'][^\"”’']+[\"”’'][.,;:!?]?")  # one word in quotes: a title, "“Succession”"
# a story's dateline says where it was filed and by whom, not what happened: "Colombo, Sri Lanka (CNN) …",
# "(CNN) …", "WASHINGTON — …", "SCOTTSDALE, Ariz. -- …"
_DATELINE = re.compile(r"^(?:(?:[A-Z][\w.'’-]*,?\s+){0,4}\((?:CNN|AP|Reuters|AFP)[^)]{0,24}\)|"
                       r"[A-Z][A-Z.'’-]+(?:,?\s+[A-Z][\w.'’-]*){0,3}\s+(?:--|[—–]))\s*(?:--|[—–])?\s*")
_OPENER = re.compile(r"\W*(?:what|which|how|why)\b", re.I)
_TYPES = (
    ("number", re.compile(r"\bhow (many|much|old|long|far|big|large)\b|\bwhat (share|percentage|percent|number|"
                          r"amount|proportion|fraction)\b|\bhow many\b", re.I)),
    ("date", re.compile(r"\bwhen\b|\bwhat (year|date|day|month|time)\b|\bwhich (year|date|day|month)\b", re.I)),
    # "which/what" and up to two words before the noun, none of them a verb: "What did the company say?" asks no name
    ("name", re.compile(r"\bwho\b|\bwhose\b|\bwhom\b|\b(which|what)((?! (?:is|are|was|were|did|does|do|has|have|had|"
                        r"will|would|can|could|should|must|might)\b) [\w-]+){0,2} (person|man|woman|official|leader|"
                        r"company|companies|team|country|countries|city|cities|region|regions|state|states|group|"
                        r"organi[sz]ation|party|platform|newspaper|brand|show|film|movie|town|province|nation|"
                        # someone named by their role or trade, a business, a place or a work: a name answers
                        r"actor|actress|singer|star|player|celebrity|athlete|musician|artist|author|writer|director|"
                        r"member|candidate|champion|politician|lawmaker|senator|governor|judge|rapper|comedian|host|"
                        r"coach|founder|billionaire|executive|airline|automaker|carmaker|retailer|chain|network|"
                        r"university|college|school|agency|bank|band|park|island|borough|airport|landmark|county|"
                        r"district|village|capital|river|lake|mountain|volcano|stadium|planet|painting|song|album|"
                        r"novel|book|character)s?\b|"
                        r"\bname of\b|\bcalled\b|\bwhere\b", re.I)),
)


def expected_type(question: str) -> str:
    """'number' | 'date' | 'name' | 'other': what the question word asks for, read in the sentence that asks (the
    last one that has a question word: "Frost made history when he was elected. How old is Frost?" asks a number),
    and the first question word there ("Who was Wray talking about when he …?" asks a name, not a date). A "who"
    after an opening "what", "which", "how" or "why" is a relative one and asks nothing ("What is the job of the
    official who said …?")."""
    for sentence in reversed([question[a:b] for a, b in split_spans(question)]):
        found = [(m.start(), kind, m.group(0)) for kind, pattern in _TYPES if (m := pattern.search(sentence))]
        if found:
            at, kind, words = min(found)
            if at > 0 and words.lower() in ("who", "whose", "whom") and _OPENER.match(sentence):
                return "other"
            return kind
    return "other"


def _stem(word: str) -> str:
    word = NUMBER_WORDS.get(word, word)
    if word.isdigit():
        return word
    for suffix in ("ians", "ian", "ia", "ies", "es", "s", "n"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word[:5]


def stems(text: str) -> set[str]:
    return {_stem(w) for w in normalize(text).split() if w not in STOPWORDS}


def term_weights(question: str, idf: Mapping[str, float] | None = None) -> dict[str, float]:
    """The question's content-word stems, each weighted by its rarity (idf) when given, else 1."""
    weights: dict[str, float] = {}
    for w in normalize(question).split():
        if w not in STOPWORDS:
            st = _stem(w)
            weights[st] = max(weights.get(st, 0.0), idf.get(w, 1.0) if idf else 1.0)
    return weights


def weighted_share(weights: Mapping[str, float], have: set[str]) -> float:
    total = sum(weights.values())
    return sum(v for st, v in weights.items() if st in have) / total if total else 0.0


def coverage(question: str, sentence: str, idf: Mapping[str, float] | None = None) -> float:
    """Share of the question's content-word stems found in the sentence, weighted by rarity (idf) when given:
    a name in the question counts more than "said" or "role"."""
    return weighted_share(term_weights(question, idf), stems(sentence))


def numbers(text: str) -> set[str]:
    """Numbers written with digits (years, quarters, counts): 2021, 3.5, q1 → {"2021", "3.5", "1"}."""
    return set(re.findall(r"\d+(?:[.,]\d+)?", text))


def codes(text: str) -> set[str]:
    """Names that mix letters and digits: "Pixel 5a", "Q3", "PS5", "G7" → {"5a", "q3", "ps5", "g7"}."""
    return {w for w in normalize(text).split() if re.search(r"\d", w) and re.search(r"[a-z]", w)}


_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
# a date the question is asked at or about ("CNN's report of June 12, 2022", "in June 2022", "2022-06-12"): when,
# not which edition ("June 12" numbers no name)
_WHEN = re.compile(r"\b(?:" + "|".join(MONTHS[:12]) + r")\.?\s+(?:\d{1,2}(?:st|nd|rd|th)?,?\s+)?\d{4}\b|"
                   r"\b\d{4}-\d{2}-\d{2}\b", re.I)
_NUMBERED = re.compile(r"\d+(?:st|nd|rd|th|[a-z])?")  # "2" of Splatoon 2, "92nd", "5a" of Pixel 5a


_ORDINALS = {w: n for n, w in enumerate("first second third fourth fifth sixth seventh eighth ninth tenth eleventh "
                                        "twelfth".split(), 1)}


def _editions(words: list[str]) -> set[tuple[str, int]]:
    """The numbered things a text names, as (what, number): "the first season" → ("season", 1), "Season 10" →
    ("season", 10), "the 10th season" → ("season", 10)."""
    out = set()
    for i, w in enumerate(words[:-1]):
        ordinal = re.fullmatch(r"(\d{1,3})(?:st|nd|rd|th)", w)
        n = _ORDINALS.get(w) or (int(ordinal.group(1)) if ordinal else 0)
        if n:  # what it numbers is one of the next three words: "the tenth and final season"
            out |= {(v, n) for v in words[i + 1 : i + 4]}
        elif re.fullmatch(r"\d{1,3}", words[i + 1]):
            out.add((w, int(words[i + 1])))
    return out


def another_ordinal(question: str, sentence: str) -> bool:
    """Does the sentence name another numbered one of something the question numbers with an ordinal word, and not
    the question's own? "Season 10" for "the first season of The Blacklist"."""
    words = normalize(question).split()
    if not any(w in _ORDINALS for w in words):
        return False
    asked = {(what, n) for what, n in _editions(words)
             if what not in STOPWORDS and what not in _ORDINALS and what not in ("time", "times")}
    if not asked:
        return False
    said = _editions(normalize(sentence).split())
    return any(what == w and n != m for what, n in asked for w, m in said) and not asked & said


def another_edition(question: str, sentence: str) -> bool:
    """Is the sentence about another numbered one of what the question names, and silent on the question's own?
    "Splatoon 1" for "Splatoon 2", "the 90th Academy Awards" for "the 92nd", "Pixel 4a" for "Pixel 5a", "Season 10"
    for "Season 11". A number counts when it is part of a name (the word it numbers is capitalised in the question:
    "his 62nd home run" names nothing, and "61 home runs" is no other edition of it). Years are left to
    `another_year`, which is narrower: a sentence that answers often names another year in passing ("Norway set the
    record … surpassing the 37 medals the United States won at the 2010 Games" for 2018)."""
    q = re.findall(r"[A-Za-z0-9]+", _WHEN.sub(" ", question))
    s = [w.lower() for w in re.findall(r"[A-Za-z0-9]+", sentence)]
    for i, word in enumerate(q):
        w = word.lower()
        if not _NUMBERED.fullmatch(w) or _YEAR.fullmatch(w) or w in s:
            continue
        # the name it numbers: the word before ("Season 11", "Pixel 5a"), or after an ordinal ("92nd Academy")
        before = q[i - 1].lower() if i and q[i - 1][:1].isupper() else ""
        after = q[i + 1].lower() if not w.isdigit() and i + 1 < len(q) and q[i + 1][:1].isupper() else ""
        for j, v in enumerate(s):
            if not _NUMBERED.fullmatch(v) or _YEAR.fullmatch(v) or v.isdigit() != w.isdigit():
                continue
            if (before and j and s[j - 1] == before) or (after and j + 1 < len(s) and s[j + 1] == after):
                return True
    return another_ordinal(question, sentence)


_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")


def another_year(question: str, sentence: str) -> bool:
    """Is the sentence about another year's edition of what the question names, and silent on the question's year?
    "Wimbledon 2019 – women's singles: …" for "Who won the women's singles Wimbledon in 2021?", "2022 World Cup
    History" for "Who won the World Cup Final in 2018?". The name is a capitalised word of the question within four
    words of its year; the sentence's first mention of it must carry another year (next to it, or one word away), so
    a year named in passing later on does not count: "Norway set the record for most medals at a single Winter
    Olympics, surpassing the 37 medals the United States won at the 2010 Winter Olympics" answers 2018's. A date
    ("June 12, 2022") is when, not which edition; a year that is part of a title ("Cyberpunk 2077") is the same in
    both."""
    q = [_possessive(w) for w in _WORD.findall(_WHEN.sub(" ", question))]
    years = {w for w in q if _YEAR.fullmatch(w)}
    s = [_possessive(w) for w in _WORD.findall(_WHEN.sub(" ", sentence))]
    if not years or years & set(s):
        return False
    names = {w.lower() for i, w in enumerate(q) for j, y in enumerate(q)
             if y in years and 0 < abs(i - j) <= 4 and w[:1].isupper() and not _YEAR.fullmatch(w)
             and w.lower() not in STOPWORDS}
    for name in names:
        first = next((i for i, w in enumerate(s) if w.lower() == name), None)
        if first is not None and any(_YEAR.fullmatch(s[k]) for k in range(max(0, first - 2), first + 3)
                                     if k < len(s) and k != first):
            return True
    return False


def _possessive(word: str) -> str:
    return re.sub(r"['’]s$", "", word)


# "Who is the CEO of Google?", "Who's the new president of FIFA?": who holds an office now
_HOLDER = re.compile(r"\bwho(?: is|'s|’s| will be| currently is) (?:the |a )?(?:[\w.&-]+(?: [\w.&-]+){0,2}['’]s )?"
                     r"(?:current |new |incoming |next )?"
                     r"((?:[a-z-]+ ){0,2}?[a-z-]+?)(?: of| at| for| in|\?|$)", re.I)
_FORMER = r"(?:former|ex|outgoing|late|then|previous|departing|retired|retiring)"  # an acting one holds it now
_LEFT = r"(?:stepp(?:ed|ing) down as|steps down as|resign(?:ed|s)? as|ousted as|fired as|replaced as)"


def former_holder(question: str, sentence: str) -> bool:
    """Does the sentence name the office the question asks about ("Who is the president of FIFA?") only as someone's
    former one ("Sepp Blatter, the former president of FIFA, …", "… stepping down as CEO")? Such a sentence does not
    say who holds it now."""
    m = _HOLDER.search(question)
    role = m.group(1).split()[-1].lower() if m else ""
    if not role or role in STOPWORDS or re.search(rf"\b{_FORMER}\b", question, re.I):  # asks after a former one
        return False
    text = " ".join(sentence.lower().replace("-", " ").split())
    mentions = re.findall(rf"\b{re.escape(role)}s?\b", text)
    past = re.findall(rf"\b(?:{_FORMER}|{_LEFT})\s+(?:[\w.&'’]+\s+){{0,3}}?{re.escape(role)}s?\b", text)
    return bool(past) and len(past) >= len(mentions)


_WON = re.compile(r"\b(?:won|wins?|winners?|awarded|named|crowned|champions?|beat|defeated)\b", re.I)
_CONTENDERS = re.compile(r"\b(?:semi-?finalists?|finalists?|nominees?|nominated|nominations?|shortlist(?:ed)?|"
                         r"contenders?|candidates?|runners?-up)\b", re.I)


def only_contenders(question: str, sentence: str) -> bool:
    """Does the sentence name only who was in the running ("Here are the four finalists for 2021 National Teacher of
    the Year", "2017 Walter Camp Award semifinalist") for a question about who won or was named? It does not say."""
    return bool(_WON.search(question) and _CONTENDERS.search(sentence) and not _WON.search(sentence))


def keeps_constraints(question: str, sentence: str) -> bool:
    """A question about "2021" is not answered by a sentence about 2023, nor one about the Pixel 5a by a sentence
    about the Pixel 4a: the question's numbers and letter-digit names must be there."""
    return numbers(question) <= numbers(sentence) and codes(question) <= set(normalize(sentence).split())


_GENERIC_COUNTS = {"people", "persons", "person", "others", "times", "percent", "of", "more", "other"}


def counted_noun(question: str) -> str:
    """What "how many" counts: "How many glide bombs were dropped?" → "bomb" (the stem of the last word of the
    noun phrase); "" when the count is generic (people, times) or there is no noun ("How many were hurt?")."""
    m = re.search(r"\bhow many ((?:[a-z'-]+ ){0,3}?)(?:(?:were|was|are|is|did|do|does|have|has|had|will|would|can|"
                  r"could|of|in|on|at|from|for|to)\b|$)", normalize(question) + " ", re.I)
    phrase = m.group(1).split() if m else []
    while phrase and phrase[-1].endswith("ed"):  # "how many people died" / "protesters arrested": a verb
        phrase.pop()
    if not phrase or any(w in _GENERIC_COUNTS for w in phrase) or phrase[-1] in STOPWORDS:
        return ""
    return _stem(phrase[-1])


def _same_stem(stem: str, word: str) -> bool:
    other = _stem(word)
    return other == stem or (min(len(other), len(stem)) >= 3 and (other.startswith(stem) or stem.startswith(other)))


def without_dateline(sentence: str) -> str:
    """The sentence without the dateline that opens a story ("Tokyo, Japan (CNN) Japan's Sakurajima volcano …" →
    "Japan's Sakurajima volcano …")."""
    return _DATELINE.sub("", sentence, count=1)


def _letters(word: str) -> str:
    """A word's letters and digits, lower case: "U.S." → "us"."""
    return re.sub(r"[^a-z0-9]", "", word.lower())


# a company's legal suffix names no one: "CEO, the LEGO Group." does not say who Lego's chief executive is
SUFFIXES = {"group", "company", "inc", "corp", "co", "ltd", "plc", "llc"}


def _names_another(word: str, q: set[str], asked: set[str], among: set[str] | None = None) -> bool:
    """Does a capitalised word name something the question does not? Not "U.S." or "US" for a question's "U.S."
    (its letters are a question word's, `asked`, and single letters name nothing), nor "Sunday's" (a day; its "s"
    is none). `among`: only these words (and no stopword) count, for a word whose capital says nothing."""
    if _letters(word) in asked:
        return False
    return any(len(p) > 1 and p not in MONTHS and p not in SUFFIXES and _stem(p) not in q
               and (among is None or (p in among and p not in STOPWORDS)) for p in normalize(word).split())


def proper_names(text: str) -> set[str]:
    """The words a text capitalises inside a sentence and never writes in lower case (lower-cased): its names."""
    inside = {w.lower() for w in re.findall(r"(?<=[a-z0-9,;] )[A-Z][A-Za-z]+", text)}
    return inside - {w.lower() for w in re.findall(r"[A-Za-z]+", text) if w[0].islower()}


def has_answer_type(sentence: str, question: str, names: set[str] | None = None) -> bool:
    """Does the sentence contain something of the kind the question asks for, beyond the question's words?
    A sentence that itself asks a question answers nothing; where a story was filed (its dateline) answers nothing
    either ("Colombo, Sri Lanka (CNN) …" does not say which country someone fled to). `names`: its article's
    (`proper_names`), when known: a first word among them is a name too."""
    if sentence.rstrip(" .…\"'”’)").endswith("?"):
        return False
    sentence = without_dateline(sentence)
    kind = expected_type(question)
    q = stems(question)
    raw = sentence.split()
    if kind == "number":
        norm = normalize(sentence).split()
        slots = [i for i, w in enumerate(norm) if _stem(w) not in q and (w.isdigit() or w in NUMBER_WORDS)]
        noun = counted_noun(question)
        if noun:  # "how many prisoners": a number that counts prisoners, not "two rounds"
            return any(_same_stem(noun, w) for i in slots for w in norm[i + 1 : i + 6])
        return bool(slots)
    if kind == "date":
        norm = normalize(sentence).split()
        return any(w in MONTHS or re.fullmatch(r"(1[89]|20)\d\d", w) for w in norm if _stem(w) not in q)
    if kind == "name":  # a capitalised word past the first, or a first one in quotes ("“Succession” earned …"); a
        # day or a month names nobody ("The shows on Tuesday earned …" does not say which show)
        caps = [w.lstrip(_OPENING) for i, w in enumerate(raw) if i > 0 or _QUOTED.fullmatch(w)]
        asked = {_letters(w) for w in question.split()}
        if any(_names_another(w, q, asked) for w in caps if w[:1].isupper()):
            return True
        # a first word's capital says nothing: it names someone when its article uses it as a name elsewhere
        # ("Yellowstone National Park closes entrances …" names the park; "Officials said …" names no one)
        first = raw[0].lstrip(_OPENING) if raw else ""
        return names is not None and first[:1].isupper() and _names_another(first, q, asked, among=names)
    return len(stems(sentence) - q) >= 2
