"""RealTimeQA 2022 (Kasai et al.): CNN news-quiz questions over 22 weeks (June–November 2022).

Files in `<evaldata>/realtimeqa-2022/`, per week YYYYMMDD: `_qa.jsonl` (questions with 4 choices and the index of
the right one), `_gold.jsonl` (the full text of the CNN article each quiz question links to), `_gcs.jsonl` (web-search
results per question: full article texts, used as distractors; one week has none upstream).

An item: the open answer is the right choice's text; evidence is the gold article's URL; the corpus is the gold
articles plus the question's search results (>= MIN_DISTRACTOR_CHARS, not a copy of any gold page). Questions
whose gold page holds only CNN's ad-feedback form are left out (194 of 206 remain). Split: by quiz week
(`splits.by_week`).
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from rag.errors import RagError
from rag.evals.datasets import splits
from rag.evals.datasets.common import Item, read_jsonl, require, squash
from rag.evals.questions import Question
from rag.ingest.articles import Article
from rag.ingest.sentences import split_spans

DESCRIPTION = ("RealTimeQA 2022 (Kasai et al.): CNN news-quiz questions, open answer = the right choice; evidence = "
               "the URL of the gold CNN article; corpus = gold articles plus web-search distractors. Questions whose "
               "gold page holds only an ad form are left out.")
FOLDER = "realtimeqa-2022"
MIN_DISTRACTOR_CHARS = 500  # shorter search results are mostly cookie banners and ad forms
# CNN pages scraped by RealTimeQA sometimes hold only this ad-feedback form instead of the article.
_CNN_AD_FORM = ("1. How relevant is this ad to you?\n\nVideo player was slow to load content Video content never "
                "loaded Ad froze or did not finish loading Video content did not start after ad Audio on ad was too "
                "loud Other issues")
_QUOTES = "\"'“”‘’"


def _qa_files(root: Path) -> list[Path]:
    folder = require(root / FOLDER)
    qa_files = sorted(folder.glob("*_qa.jsonl"))
    if not qa_files:
        raise RagError(f"No *_qa.jsonl files in {folder}; restore the shared evaldata folder.")
    return qa_files


def items(root: Path) -> list[Item]:
    qa_files = _qa_files(root)
    folder = root / FOLDER
    gold: dict[str, list[dict]] = {}
    search: dict[str, list[dict]] = {}
    for qa in qa_files:
        week = qa.name.removesuffix("_qa.jsonl")
        for rec in read_jsonl(folder / f"{week}_gold.jsonl"):
            gold[rec["question_id"]] = [r for r in rec["search_result"] if _usable_gold(r.get("text") or "")]
        if (folder / f"{week}_gcs.jsonl").exists():  # one week has no search results upstream
            for rec in read_jsonl(folder / f"{week}_gcs.jsonl"):
                search[rec["question_id"]] = rec["search_result"]
    gcs_titles = {_url_key(r["url"]): r["title"] for results in search.values() for r in results if r.get("title")}
    gold_keys = {_url_key(r["url"]) for results in gold.values() for r in results}
    gold_texts = {squash(r["text"]) for results in gold.values() for r in results}
    out: list[Item] = []
    for qa in qa_files:
        split = splits.by_week(qa.name.removesuffix("_qa.jsonl"))
        for rec in read_jsonl(qa):
            qid = rec["question_id"]
            if not gold.get(qid):
                continue
            answer = _unquote(rec["choices"][int(rec["answer"][0])])
            golds = tuple(_gold_article(r, rec, gcs_titles) for r in gold[qid])
            distractors = tuple(search_article(r) for r in search.get(qid, ())
                                if len(r.get("text") or "") >= MIN_DISTRACTOR_CHARS
                                and _url_key(r["url"]) not in gold_keys and squash(r["text"]) not in gold_texts)
            question = Question(f"realtimeqa-{qid}", rec["question_sentence"].strip(), (answer,), True,
                                tuple(dict.fromkeys(a.url for a in golds)), category="realtimeqa")
            out.append(Item(question, golds + distractors, split))
    return out


WEB_DESCRIPTION = ("RealTimeQA 2022's USA Today and The Week quiz questions (no gold article) over their web-search "
                   "results: answerable when one of its own results states the answer (evidence = those results), "
                   "unanswerable when no result of any question does, nor holds all of its words.")


def web_items(root: Path) -> list[Item]:
    """`realtimeqa-web`: the quiz questions that have no gold article (USA Today's and The Week's), each over the web
    pages a search engine returned for it that week, as a user's library of web news would hold them. A question is
    answerable when one of its own results states the answer (the accuracy metric's test); unanswerable when no
    result of any question in the set states it or holds all of the answer's words (a paraphrase would); the rest
    (an answer stated only in another question's results) is left out. Split by quiz week, like `realtimeqa`."""
    from rag.evals.run import contains_answer
    from rag.text import STOPWORDS, normalize

    folder = root / FOLDER
    asked: list[tuple[dict, tuple[Article, ...], str]] = []
    for qa in _qa_files(root):
        week = qa.name.removesuffix("_qa.jsonl")
        with_gold = {rec["question_id"] for rec in read_jsonl(folder / f"{week}_gold.jsonl")
                     if any(_usable_gold(r.get("text") or "") for r in rec["search_result"])}
        search = {rec["question_id"]: rec["search_result"] for rec in read_jsonl(folder / f"{week}_gcs.jsonl")} \
            if (folder / f"{week}_gcs.jsonl").exists() else {}
        for rec in read_jsonl(qa):
            results = tuple(search_article(r) for r in search.get(rec["question_id"], ())
                            if len(r.get("text") or "") >= MIN_DISTRACTOR_CHARS)
            if rec["question_id"] not in with_gold and results and rec.get("answer"):
                asked.append((rec, results, splits.by_week(week)))
    every = {a.id: f"{a.title}\n{a.text}" for _, results, _ in asked for a in results}
    normal = {aid: normalize(text) for aid, text in every.items()}  # once: each page is checked against every answer
    words = {aid: set(text.split()) for aid, text in normal.items()}
    out: list[Item] = []
    for rec, results, split in asked:
        answer = _unquote(rec["choices"][int(rec["answer"][0])])
        qid = f"realtimeqa-web-{rec['question_id']}"
        stating = tuple(a.url for a in results if contains_answer(f"{a.title}\n{a.text}", (answer,)))
        if stating:
            question = Question(qid, rec["question_sentence"].strip(), (answer,), True, stating,
                                category=rec.get("question_source", ""))
            out.append(Item(question, results, split))
            continue
        needed = {w for w in normalize(answer).split() if w not in STOPWORDS} or set(normalize(answer).split())
        if any(needed <= w for w in words.values()) or any(contains_answer(every[aid], (answer,), normal[aid])
                                                            for aid in every):
            continue
        out.append(Item(Question(qid, rec["question_sentence"].strip(), (), False, (),
                                 category=rec.get("question_source", "")), results, split))
    return out


def search_articles(root: Path) -> Iterator[Article]:
    """Every web-search result article, week by week in file order (repeats included): the bench's news text."""
    folder = require(root / FOLDER)
    for path in sorted(folder.glob("*_gcs.jsonl")):
        for rec in read_jsonl(path):
            for r in rec.get("search_result") or []:
                if r.get("url") and r.get("text"):
                    yield search_article(r)


def quiz_questions(root: Path) -> list[str]:
    """Every quiz question's text in file order, with or without a gold article: real news questions."""
    return [rec["question_sentence"].strip() for qa in _qa_files(root) for rec in read_jsonl(qa)]


def _usable_gold(text: str) -> bool:
    return bool(text.strip()) and text.strip() != _CNN_AD_FORM


def _gold_article(r: dict, qa: dict, gcs_titles: dict[str, str]) -> Article:
    title = gcs_titles.get(_url_key(r["url"])) or _first_line(r["text"])
    date = _iso_date(r.get("publish_date") or qa.get("question_date") or "")
    return Article(_url_id(r["url"]), re.sub(r"\s+[-|]\s+CNN.*$", "", title), r["text"], date, "CNN", r["url"])


def search_article(r: dict) -> Article:
    host = urlsplit(r["url"]).netloc.removeprefix("www.")
    return Article(_url_id(r["url"]), r.get("title") or "", r["text"], _iso_date(r.get("publish_date") or ""), host,
                   r["url"])


def _url_id(url: str) -> str:
    return "rtqa-" + hashlib.sha1(url.encode()).hexdigest()[:16]


def _url_key(url: str) -> str:
    """The same page under small URL variations (scheme, www., utm_ tracking, fragment, index.html) gets one key."""
    parts = urlsplit(url)
    path = parts.path.removesuffix("index.html").rstrip("/")
    query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("utm_"))
    return parts.netloc.removeprefix("www.").lower() + path + (f"?{query}" if query else "")


def _first_line(text: str, words: int = 12) -> str:
    """The opening words of the first line that is not a dateline such as "New York CNN —"."""
    lines = [line for line in text.splitlines() if line.strip() and not line.rstrip().endswith("—")]
    return " ".join(lines[0].split()[:words]) if lines else ""


def _iso_date(date: str) -> str:
    return date.replace("/", "-") if re.fullmatch(r"\d{4}/\d{2}/\d{2}", date) else date


def _unquote(choice: str) -> str:
    choice = choice.strip()
    if len(choice) >= 2 and choice[0] in _QUOTES and choice[-1] in _QUOTES:
        return choice[1:-1].strip()
    return choice


@dataclass(frozen=True)
class QuizClaim:
    """What a CNN quiz states about one question: its evidence's sentence that holds the answer, with the answer
    and the quiz's wrong choices."""

    sentence: str
    answer: str
    wrong: tuple[str, ...]


def quiz_claims(root: Path) -> dict[str, QuizClaim]:
    """By question id ("realtimeqa-<id>"): the first sentence of the quiz's own evidence text (html dropped) that
    holds the right choice, for the questions whose evidence has one (the quiz writer's summary of the article)."""
    out: dict[str, QuizClaim] = {}
    for qa in _qa_files(root):
        for rec in read_jsonl(qa):
            evidence = html.unescape(re.sub(r"<[^>]+>", "", rec.get("evidence") or ""))
            if not rec.get("answer") or not evidence.strip():
                continue
            choices = [_unquote(c) for c in rec["choices"]]
            right = int(rec["answer"][0])
            answer = choices[right]
            for a, b in split_spans(evidence):
                sentence = " ".join(evidence[a:b].split())
                if answer and re.search(rf"(?<!\w){re.escape(answer)}(?!\w)", sentence, re.I):
                    wrong = tuple(c for i, c in enumerate(choices) if i != right and c)
                    out[f"realtimeqa-{rec['question_id']}"] = QuizClaim(sentence, answer, wrong)
                    break
    return out
