"""The semantic verifier: how likely is it that this sentence answers this question (given what the model drafted)?

A logistic model over a few features of (question, sentence, draft), trained by `rag/answer/train_verifier.py` on
the dev split of the public question sets and stored beside this file as `verifier.json`. Lexical checks (coverage,
answer type, the question's numbers) are features here, not vetoes: a long question whose terms are spread over an
article is not failed because no single sentence covers it. Absent names are the one veto: a question about a person
or organisation that none of the retrieved articles mentions is refused, naming it.
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.answer.answerability import (
    NUMBER_WORDS,
    SUFFIXES,
    _stem,
    expected_type,
    has_answer_type,
    keeps_constraints,
    proper_names,
    stems,
    term_weights,
    weighted_share,
)
from rag.answer.retrieve import Evidence
from rag.ingest.sentences import split_sentences
from rag.text import STOPWORDS, normalize

WEIGHTS = Path(__file__).with_name("verifier.json")
REFUSAL_OVERRULED_AT = 0.5  # a sentence this likely is quoted even when the model said "not in the articles"
CLAIM_FEATURES = ("bias", "likely", "likely_share", "support", "best_likely", "claim_words", "marker_ok", "rank",
                  "type_number", "type_date", "type_name", "cover", "cover_share", "cover_window", "claim_typed")
FEATURES = ("bias", "dense", "score", "cover_sentence", "cover_article", "answer_type", "constraints", "top_rank",
            "draft_refused", "names_sentence", "names_article", "new_words",
            "asks_question", "gap_to_best", "type_number", "type_date", "type_name", "cover_window", "cover_title",
            "dense_rank", "new_names", "new_numbers", "type_and_cover")

_CAPS = re.compile(r"\b[A-Z][\w'’.&-]*(?:\s+(?:of|de|du|la|le|van|von|der|al|bin)?\s*[A-Z][\w'’.&-]*)*")
_NOT_NAMES = set(STOPWORDS) | {
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "according", "did", "does", "do", "is",
    "was", "were", "has", "have", "will", "would", "can", "could", "i", "in", "on", "after", "before", "during",
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
    "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "today", "week",
    "despite", "although", "though", "because", "following", "besides", "approximately", "roughly", "nearly", "amid",
    "over", "more", "some", "this", "these", "last", "since", "while", "unlike", "like", "among", "along", "once",
    "given", "apart", "aside", "earlier", "later", "recently", "yesterday", "tomorrow", "tonight", "ahead", "per",
    "going", "due", "former", "late", "new", "then", "now", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec", "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun", "i'm",
    "i've", "i'd", "i'll", "afterwards", "meanwhile", "also", "still", "yet", "however", "instead",
    "true", "false",  # a quiz's "True or false: …"
    # amounts name nobody: "Twenty-two Republican governors…", "…, Dozens of people were…"
    *NUMBER_WORDS, "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "thirty",
    "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "dozens", "hundreds", "thousands", "millions",
    "billions", "several", "many", "few", "half",
}
# one place under the names news writes it by, either way round: "Britain" in a question, "UK" in the article
_SAME_PLACE = ({"us", "usa", "america"}, {"uk", "u.k", "britain"})
_ALIASES = {w: group - {w} for group in _SAME_PLACE for w in group}
# words that make up names but do not tell one from another ("President", "Cup"): not enough to be a name alone
_GENERIC = {
    "president", "vice", "minister", "prime", "secretary", "general", "king", "queen", "prince", "princess", "pope",
    "senator", "sen", "rep", "pres", "governor", "gov", "mayor", "mr", "mrs", "ms", "dr", "ceo", "chief", "company",
    "inc", "corp", "co", "ltd", "university", "day", "cup", "open", "championship", "award", "awards", "prize",
    "league", "party", "city", "state", "states", "united", "national", "international", "north", "south", "east",
    "west", "new", "republic", "democrats", "democrat", "democratic", "republicans", "republican", "court", "supreme",
    "house", "senate", "congress", "department", "federal", "government", "army", "world", "war", "news", "times",
    "post", "journal", "festival", "games", "olympics", "olympic", "series", "final", "finals", "grand", "st",
    "saint", "lake", "river", "mount", "island", "islands", "county", "province", "region", "council", "ministry",
    "bank", "group", "club", "team", "association", "agency", "office", "service", "services", "foundation", "the",
    "america", "american", "americans", "british", "european", "russian", "ukrainian", "chinese", "covid", "covid-19",
    "organization", "organisation", "airlines", "airline", "airways", "show", "museum", "institute", "school",
    "hospital", "airport", "stadium", "park", "street", "road", "bridge", "center", "centre", "church", "palace",
    "channel", "network", "studio", "studios", "records", "media", "press", "magazine", "daily", "tribune",
    "season", "episode", "edition", "election", "bowl", "film", "movie", "justice", "kingdom", "empire",
    "tory", "tories", "labour", "conservative", "conservatives", "liberal", "liberals", "lgbt", "lgbtq",
}

# what people are called by where they come from describes them ("which Japanese island", "millions of Britons"):
# not a name the articles must mention (the names features still see them)
_DEMONYMS = {w + s for w in (
    "japanese", "briton", "israeli", "palestinian", "iranian", "iraqi", "syrian", "afghan", "pakistani", "indian",
    "german", "french", "italian", "spanish", "portuguese", "dutch", "swiss", "austrian", "belgian", "polish",
    "swedish", "norwegian", "danish", "finnish", "irish", "scottish", "welsh", "english", "greek", "turkish",
    "hungarian", "czech", "romanian", "canadian", "mexican", "cuban", "haitian", "brazilian", "argentine",
    "argentinian", "colombian", "venezuelan", "chilean", "peruvian", "australian", "korean", "taiwanese",
    "vietnamese", "thai", "filipino", "indonesian", "malaysian", "saudi", "egyptian", "african", "nigerian", "kenyan",
    "ethiopian", "sudanese", "asian", "arab", "latino", "hispanic", "muslim", "jewish", "christian", "catholic")
    for s in ("", "s")}  # "American", "British" and the like are _GENERIC: no part of a name at all


def question_names(question: str) -> list[str]:
    """Capitalised names the question mentions, without generic words and function words: "What did Emmanuel
    Macron say about the talks?" → ["Emmanuel Macron"]. The question's first word counts when it is not a function
    word ("Orsanne was rocked by…" names Orsanne; "Which…", "The…" name nothing)."""
    names = []
    for m in _CAPS.finditer(question):
        words = [_name_part(w) for w in re.split(r"\s+", m.group().strip(" .")) if w]
        for n, group in enumerate(_possessive_groups([w for w in words if w])):
            keep = [w for w in group if _plain(w) not in _NOT_NAMES]
            if m.start() == 0 and n == 0 and keep and keep[0] == group[0] and len(_plain(group[0])) < 3:
                keep = keep[1:]
            if keep and keep[-1].endswith(".") and keep[-1].count(".") == 1:  # "Kanye West. Among…": the stop
                keep[-1] = keep[-1][:-1]
            if keep and any(_plain(w) not in _GENERIC and len(_plain(w)) >= 2 for w in keep):
                names.append(" ".join(keep))
    return names


def _name_part(word: str) -> str:
    """The part of a capitalised word that names: "Prize-winning" → "Prize", "U-turn" → "U" (a lower-case part after
    a hyphen describes); "Texas-Mexico", "Coca-Cola" stay whole."""
    head, _, tail = word.rpartition("-")
    return head if head and tail[:1].islower() else word


def _possessive_groups(words: list[str]) -> list[list[str]]:
    """A possessive ends a name, and is not part of it: "Liz Truss’s Tory conference" names "Liz Truss" and "Tory",
    not "Liz Truss’s Tory"."""
    groups: list[list[str]] = [[]]
    for w in words:
        owner = re.sub(r"['’]s$", "", w)
        groups[-1].append(owner)
        if owner != w:
            groups.append([])
    return [g for g in groups if g]


def _plain(word: str) -> str:
    """A word as names are compared: lower case, accents folded ("Mélenchon" = "Melenchon"), ’ as ', no 's."""
    word = unicodedata.normalize("NFKD", word.replace("’", "'"))
    word = "".join(ch for ch in word if not unicodedata.combining(ch))
    return re.sub(r"('s)$", "", word.strip(".,;:!?\"'“”()")).strip(".,;:!?\"'“”()").lower()


def distinctive_words(name: str) -> list[str]:
    words = [_plain(w) for w in name.split()]
    return [w for w in words if w not in _GENERIC and w not in _NOT_NAMES and len(w) >= 2] or words


def word_in(word: str, vocabulary: set[str]) -> bool:
    """The word, or a close spelling variant of a long one ("zelenskyy" for "zelensky"), is in the vocabulary."""
    if word in vocabulary or word.replace(".", "") in vocabulary or _ALIASES.get(word, set()) & vocabulary:
        return True
    return len(word) >= 6 and any(v[:3] == word[:3] and SequenceMatcher(None, v, word).ratio() >= 0.85
                                  for v in vocabulary)


def name_in(name: str, vocabulary: set[str]) -> bool:
    """Is the name in a text's (lower-cased) vocabulary? Its last distinctive word will do ("Macron" for "Emmanuel
    Macron", "Calderwyn" for "NHL Brisa Calderwyn"), spelt as written or as a close variant; of a hyphenated one,
    any part ("Texas" of "Texas-Mexico")."""
    last = distinctive_words(name)[-1]
    if len(last) <= 3 or any(ch.isdigit() for ch in last):  # "EU", "Fed", "Q3", "LVII": too short to tell
        return True
    parts = [w for w in last.split("-") if len(w) >= 3 and w not in _GENERIC] if "-" in last else []
    return word_in(last, vocabulary) or any(word_in(w, vocabulary) for w in parts)


def vocabulary(text: str) -> set[str]:
    """A text's words as names are compared (`_plain`), its initialisms without dots ("u.s." → "us"), and what
    follows an elided article ("alene" of "Coeur d’Alene", which a question's names read as "Coeur" and "Alene")."""
    words = {_plain(w) for w in re.findall(r"[\w'’.&-]+", text)}
    words |= {w.split("'", 1)[1] for w in words if re.match(r"^[a-z]{1,2}'[a-z]{3,}", w)}
    return words | {w.replace(".", "").lower() for w in re.findall(r"\b(?:[A-Za-z]\.){2,}", text)}


@dataclass(frozen=True)
class Question:
    """The question analysed once: its stems with rarity weights, the kind of answer it asks for, its names."""

    text: str
    idf: Mapping[str, float]

    @cached_property
    def weights(self) -> dict[str, float]:
        return term_weights(self.text, self.idf)

    @cached_property
    def stems(self) -> set[str]:
        return stems(self.text)

    @cached_property
    def kind(self) -> str:
        return expected_type(self.text)

    @cached_property
    def names(self) -> list[str]:
        return question_names(self.text)

    def coverage(self, text_stems: set[str]) -> float:
        return weighted_share(self.weights, text_stems)


class Article:
    """What the verifier needs of a retrieved article, computed once per answer."""

    def __init__(self, title: str, text: str, source: str, sentences: Sequence[str] = ()) -> None:
        whole = f"{title}\n{source}\n{text}"
        self.stems = stems(whole)
        self.vocabulary = vocabulary(whole)
        self.title_stems = stems(title)
        self._whole = whole
        self._sentences = list(sentences)
        self._stems: dict[int, set[str]] = {}

    @cached_property
    def names(self) -> set[str]:
        """Its names (`proper_names`), asked for by name questions only."""
        return proper_names(self._whole)

    def window(self, n: int) -> set[str]:
        """The stems of the sentences just before and after sentence n (the context a reader sees around it)."""
        out: set[str] = set()
        for i in (n - 1, n + 1):
            if 0 <= i < len(self._sentences):
                if i not in self._stems:
                    self._stems[i] = stems(self._sentences[i])
                out |= self._stems[i]
        return out


# where a capital letter says nothing of a name: the question's start, a sentence's, and a reported clause's ("Did
# CNN report that Various cities canceled …", a quiz writer's sentence pasted whole)
_OPENS = re.compile(r"(?:^|(?<=([.?!:;]))\s+|\b(?:that|whether)\s+)[\"“‘'(]?([A-Z][\w'’.&-]*)")
_ABBREVIATION = re.compile(r"(?:^|\s)(?:[A-Z][a-z]{0,3}|[A-Z](?:\.[A-Z])*)\.$")  # "Gov.", "St.", "U.S.": no stop
# an attribution that opens the question ("According to both CNN and USA Today, Historic rainfall led to …", "As
# reported by CNN, …"; a date's comma, "June 12, 2022", is inside it): what follows its comma is the quiz writer's
# sentence, pasted with its capital
_ATTRIBUTED = re.compile(r"^(?i:according to|as reported|as [\w'’.]+(?: [\w'’.]+){0,3} reported|going by)\b"
                         r"(?:[^,?]|,\s*\d{4}\b)*,\s+"
                         r"[\"“‘'(]?([A-Z][\w'’.&-]*)")


def clause_openers(text: str) -> set[str]:
    """The words that open the text, one of its sentences, a clause after "that"/"whether", or what follows a leading
    attribution's comma, as written: "Did CNN report that Various cities canceled fireworks?" → {"Did", "Various"};
    "According to both CNN and USA Today, Historic rainfall …" → {"According", "Historic"}. A short capitalised
    word's period ends no sentence: "Gov. Newsom" and "St. Orsanne" open nothing."""
    text = text.strip()
    openers = {m.group(2).strip(".") for m in _OPENS.finditer(text)
               if not (m.group(1) == "." and _ABBREVIATION.search(text[: m.start()]))}
    if attributed := _ATTRIBUTED.match(text):
        openers.add(attributed.group(1).strip("."))
    return openers


def absent_names(q: Question, context: Sequence[Evidence], outlets: frozenset[str] = frozenset()) -> list[str]:
    """The question's names that no retrieved article (title, source, text) mentions. Names of outlets the library
    holds articles from (`outlets`: words of sources and web hosts) are never absent: "CNN's report" asks for a
    kind of source, not a fact; nor are people named by where they come from ("Japanese", "Britons"), nor one
    place under another of its names ("Britain" where articles write "UK"). A name that is only the question's
    first word ("Legendary director…", "Orsanne was rocked…"), or one that opens a sentence of it, a reported clause
    ("… report that Various cities …") or what follows a leading attribution ("According to both CNN and USA Today,
    Historic rainfall …": `clause_openers`), counts only when the index has never seen the word."""
    vocab: set[str] = set()
    for art in {ev.article.id: ev.article for ev in context}.values():
        vocab |= vocabulary(f"{art.title}\n{art.source}\n{art.text}") | set(re.split(r"[^a-z0-9]+", art.url.lower()))
    # a distinctive word the whole index has never seen ("Bellvik" in "Bellvik Kingdom") marks the name absent too
    known = q.idf or None

    def unheard(n: str) -> bool:
        return known is not None and any(len(w) >= 4 and any(p not in known for p in normalize(w).split())
                                         and not word_in(w, vocab) for w in distinctive_words(n))

    openers = clause_openers(q.text)
    out = []
    for n in q.names:
        if all(w in outlets or w in _DEMONYMS for w in distinctive_words(n)):
            continue
        if " " not in n and any(re.fullmatch(re.escape(n) + r"(?:['’]s?|-.*)?", w) for w in openers):
            if unheard(n):
                out.append(n)
        elif not name_in(n, vocab) or unheard(n):
            out.append(n)
    return out


def features(q: Question, context: Sequence[Evidence], draft_refused: bool,
             articles: dict[str, Article] | None = None) -> np.ndarray:
    """One row of FEATURES per context sentence (best first). The model's draft enters only as whether it said
    "not in the articles": which sentence it agrees with is the decision's business (`Verifier.keep_threshold`),
    not evidence that the sentence answers (a tiny model's wrong name would vouch for itself)."""
    articles = articles if articles is not None else {}
    best = context[0].score if context else 0.0
    by_dense = {id(ev): i for i, ev in enumerate(sorted(context, key=lambda e: -e.dense))}
    rows = []
    for rank, ev in enumerate(context):
        text = ev.sentence.text
        art = articles.get(ev.article.id)
        if art is None:
            sents = [s.text for s in split_sentences(ev.article.id, ev.article.text)]
            art = articles[ev.article.id] = Article(ev.article.title, ev.article.text, ev.article.source, sents)
        s_stems = stems(text)
        s_vocab = vocabulary(text)
        names = q.names
        typed = float(has_answer_type(text, q.text, art.names if q.kind == "name" else None))
        cover = q.coverage(s_stems)
        words = text.split()
        rows.append([
            1.0, ev.dense, ev.score, q.coverage(s_stems), q.coverage(art.stems),
            typed, float(keeps_constraints(q.text, text)), 1.0 / (1 + rank),
            float(draft_refused),
            sum(name_in(n, s_vocab) for n in names) / len(names) if names else 1.0,
            sum(name_in(n, art.vocabulary) for n in names) / len(names) if names else 1.0,
            math.log1p(len(s_stems - q.stems)), float(text.rstrip(" .…\"'”’)").endswith("?")), ev.score - best,
            float(q.kind == "number"), float(q.kind == "date"), float(q.kind == "name"),
            q.coverage(s_stems | art.window(ev.sentence.n)), q.coverage(art.title_stems), 1.0 / (1 + by_dense[id(ev)]),
            math.log1p(sum(1 for w in words[1:] if w[:1].isupper() and _stem(normalize(w) or "_") not in q.stems)),
            math.log1p(sum(1 for w in words if any(ch.isdigit() for ch in w) and normalize(w) not in q.text.lower())),
            typed * cover,
        ])
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


def claim_answers(claim: str, q: Question) -> bool:
    """Does a model claim hold something of the kind the question asks for, beyond the question's own words: a name
    for "who", a number for "how many", a date for "when", some word of its own otherwise? "The home of Super Bowl
    2021." names nothing new, so it does not answer "Where was Super Bowl 2021?"; "“Succession” won." answers "Which
    show won?"."""
    if q.kind == "name":  # not a company's legal suffix: "The LEGO Group." names no one for "Who is the CEO of Lego?"
        return any(w[:1].isupper() and _plain(w) not in _NOT_NAMES and _plain(w) not in SUFFIXES
                   and not stems(w) <= q.stems for w in (w.lstrip("\"'“‘(") for w in claim.split()))
    if q.kind == "number":
        return any((any(ch.isdigit() for ch in w) or w in NUMBER_WORDS) and w not in normalize(q.text).split()
                   for w in normalize(claim).split())
    if q.kind == "date":
        return has_answer_type(claim, q.text)
    return bool(stems(claim) - q.stems)


def claim_features(q: Question, claim_words: int, typed: bool, sentence: int, support: float, cited: bool,
                   likely: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One row of CLAIM_FEATURES: a model claim resting on context sentence `sentence` (its support, whether the
    model's own marker pointed there), seen against how likely that sentence and the likeliest one answer, how
    much of the question that sentence is about (`rows`: the sentences' FEATURES), and whether the claim itself holds
    an answer of the asked kind (`typed`: `claim_answers`)."""
    best = float(likely.max(initial=0.0))
    p = float(likely[sentence])
    cover = rows[:, FEATURES.index("cover_sentence")]
    return np.array([1.0, p, p / best if best else 0.0, support, best, math.log1p(claim_words), float(cited),
                     1.0 / (1 + int((likely > p).sum())), float(q.kind == "number"), float(q.kind == "date"),
                     float(q.kind == "name"), cover[sentence], cover[sentence] / cover.max() if cover.max() else 0.0,
                     rows[sentence, FEATURES.index("cover_window")], float(typed)])


def _logistic(rows: np.ndarray, weights: Sequence[float], mean: Sequence[float], scale: Sequence[float]) -> np.ndarray:
    x = (rows - np.asarray(mean)) / np.asarray(scale)
    x[..., 0] = 1.0
    return 1.0 / (1.0 + np.exp(-(x @ np.asarray(weights))))


@dataclass(frozen=True)
class Verifier:
    """Two logistic models fitted on the dev split, and their thresholds: how likely a sentence answers the
    question (FEATURES), and how likely a model claim resting on a sentence is right (CLAIM_FEATURES)."""

    weights: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    answer_at: Mapping[str, float]  # per kind of question (number, date, name, other): quote a sentence this likely
    claim_weights: tuple[float, ...] = ()
    claim_mean: tuple[float, ...] = ()
    claim_scale: tuple[float, ...] = ()
    claim_at: float = 0.5  # keep a model claim at least this likely to be right
    defer_share: float = 0.0  # ... unless its sentence is less than this share as likely as an answer-worthy best one
    requote_below: float = 0.0  # kept claims resting on one sentence, none this likely right: quote it

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> Verifier:
        """The weights in `path`, read once per process (an Answerer is made for every question)."""
        return _load(Path(path))

    @classmethod
    def from_file(cls, path: Path) -> Verifier:
        data = json.loads(path.read_text())
        if tuple(data["features"]) != FEATURES or tuple(data["claim_features"]) != CLAIM_FEATURES:
            raise ValueError(f"{path} was trained on other features; retrain: python -m rag.evals.train_verifier")
        return cls(tuple(data["weights"]), tuple(data["mean"]), tuple(data["scale"]), dict(data["answer_at"]),
                   tuple(data["claim_weights"]), tuple(data["claim_mean"]), tuple(data["claim_scale"]),
                   data["claim_at"], data.get("defer_share", 0.0), data.get("requote_below", 0.0))

    def cautious(self, caution: float) -> Verifier:
        """The same verifier asking `caution` more likelihood of every quote and every kept claim: it refuses more,
        and drops more right answers with the wrong ones (the README gives the trade, measured on the test split)."""
        if not caution:
            return self
        return replace(self, answer_at={k: min(1.0, at + caution) for k, at in self.answer_at.items()},
                       claim_at=min(1.0, self.claim_at + caution))

    def quote_threshold(self, kind: str, model_refused: bool) -> float:
        """How likely the best sentence must be to be quoted; when the model itself said "not in the articles",
        at least REFUSAL_OVERRULED_AT (the verifier saw too few such drafts to learn that weight)."""
        at = self.answer_threshold(kind)
        return max(at, REFUSAL_OVERRULED_AT) if model_refused else at

    def keeps(self, claim_row: np.ndarray, kind: str) -> bool:
        """Keep a model claim: likely enough to be right, and not resting on a sentence far less likely to answer
        than the best one when that best one is itself good enough to quote."""
        share = claim_row[CLAIM_FEATURES.index("likely_share")]
        best = claim_row[CLAIM_FEATURES.index("best_likely")]
        if share < self.defer_share and best >= self.answer_threshold(kind):
            return False
        return self.claim_probability(claim_row) >= self.claim_at

    def requotes(self, claim_probabilities: Sequence[float], one_sentence: bool) -> bool:
        """Quote the sentence the kept claims rest on instead of them, when they all rest on one (`one_sentence`) and
        none is `requote_below` likely to be right: the sentence's own words cannot misstate it, and a tiny model's
        rewording of the right sentence is often wrong ("Serena Williams." for "Who won the women's singles at
        Wimbledon in 2018?", resting on "Angelique Kerber has won …, beating Serena Williams in the final.")."""
        return one_sentence and bool(claim_probabilities) and max(claim_probabilities) < self.requote_below

    def claim_probability(self, row: np.ndarray) -> float:
        return float(_logistic(row.reshape(1, -1), self.claim_weights, self.claim_mean, self.claim_scale)[0])

    def answer_threshold(self, kind: str) -> float:
        """How likely a sentence must be to be quoted as the answer to a question of this kind (calibrated per
        kind: a "why" question's best sentence scores lower than a "who" question's)."""
        return self.answer_at.get(kind, self.answer_at.get("other", 0.5))

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros(0)
        return _logistic(rows, self.weights, self.mean, self.scale)


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> Verifier:
    return Verifier.from_file(path)
