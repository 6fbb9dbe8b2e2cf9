"""Turn the external evaluation data (read-only, outside the repository) into question-set folders at run time.

A question set is a folder with `questions.jsonl`, `corpus.jsonl` (one article per line) and `set.toml`.
The data lives in ../shared/evaldata (see its README.md); its licences forbid copying it into this repository,
so the sets are built on demand:  python -m rag.evalsets NAME OUT_DIR [--limit N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from rag.errors import RagError
from rag.ingest.articles import Article

BUILTIN = ("realtimeqa", "quail", "rgb", "rgb-refusal")
MIN_DISTRACTOR_CHARS = 500
# CNN pages scraped by RealTimeQA sometimes hold only this ad-feedback form instead of the article.
_CNN_AD_FORM = ("1. How relevant is this ad to you?\n\nVideo player was slow to load content Video content never "
                "loaded Ad froze or did not finish loading Video content did not start after ad Audio on ad was too "
                "loud Other issues")
_QUOTES = "\"'“”‘’"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    answerable: bool
    evidence: tuple[str, ...]  # article ids, or article urls (RealTimeQA)
    category: str


@dataclass(frozen=True)
class Item:
    """One question with the corpus articles it brings along (its evidence and its distractors)."""

    question: Question
    articles: tuple[Article, ...]


@dataclass(frozen=True)
class _Source:
    description: str
    items: Callable[[Path], list[Item]]


def evaldata_dir() -> Path:
    """The external data folder: $RAG_EVALDATA, else ../shared/evaldata next to the repository."""
    env = os.environ.get("RAG_EVALDATA")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "evaldata"
    if not path.is_dir():
        raise RagError(f"Evaluation data not found at {path}. Put the shared evaldata folder there, "
                       "or set RAG_EVALDATA=/path/to/evaldata.")
    return path


def build_set(name: str, out_dir: Path, limit: int = 0) -> Path:
    """Write question set `name` into out_dir; limit > 0 keeps a fixed sample of that many questions."""
    items = sample_items(name, limit)  # checks the name and the limit
    source = _SOURCES[name]
    corpus: dict[str, Article] = {}
    for item in items:
        for art in item.articles:
            corpus.setdefault(art.id, art)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_jsonl(out_dir / "questions.jsonl", (_question_record(it.question) for it in items))
    _write_jsonl(out_dir / "corpus.jsonl", ({k: v for k, v in asdict(a).items() if v} for a in corpus.values()))
    description = source.description + (f" Fixed sample of {len(items)} questions." if limit else "")
    (out_dir / "set.toml").write_text(f"name = {_toml_str(name)}\ndescription = {_toml_str(description)}\n"
                                      f'corpus = "corpus.jsonl"\n\n[thresholds]\n', encoding="utf-8")
    return out_dir


def sample_items(name: str, limit: int = 0) -> list[Item]:
    """The questions of set `name` with the articles each brings; limit > 0 keeps the fixed sample build_set keeps."""
    if name not in _SOURCES:
        raise RagError(f"Unknown question set {name!r}; choose one of: {', '.join(BUILTIN)}.")
    if limit < 0:
        raise RagError(f"--limit must be 0 (all questions) or more, not {limit}.")
    return _sample(_SOURCES[name].items(evaldata_dir()), limit)


def _sample(items: list[Item], limit: int) -> list[Item]:
    """A fixed sample: the `limit` questions whose id hashes lowest, in their original order.

    Stable across Python versions, and a smaller sample is always part of a larger one.
    """
    if not limit or limit >= len(items):
        return items
    keep = set(sorted(range(len(items)), key=lambda i: hashlib.sha1(items[i].question.id.encode()).digest())[:limit])
    return [it for i, it in enumerate(items) if i in keep]


def _question_record(q: Question) -> dict[str, object]:
    return {"id": q.id, "question": q.question, "answers": list(q.answers), "answerable": q.answerable,
            "evidence": list(q.evidence), "history": [], "category": q.category}


def _write_jsonl(path: Path, records: Iterable[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string without surrogates is a valid TOML basic string


def _read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _require(path: Path) -> Path:
    if not path.exists():
        raise RagError(f"Missing evaluation data file {path}; restore the shared evaldata folder.")
    return path


# --- RealTimeQA -------------------------------------------------------------------------------------------------


def _realtimeqa(root: Path) -> list[Item]:
    folder = _require(root / "realtimeqa-2022")
    qa_files = sorted(folder.glob("*_qa.jsonl"))
    if not qa_files:
        raise RagError(f"No *_qa.jsonl files in {folder}; restore the shared evaldata folder.")
    gold: dict[str, list[dict]] = {}
    search: dict[str, list[dict]] = {}
    for qa in qa_files:
        week = qa.name.removesuffix("_qa.jsonl")
        for rec in _read_jsonl(folder / f"{week}_gold.jsonl"):
            gold[rec["question_id"]] = [r for r in rec["search_result"] if _usable_gold(r.get("text") or "")]
        if (folder / f"{week}_gcs.jsonl").exists():  # one week has no search results upstream
            for rec in _read_jsonl(folder / f"{week}_gcs.jsonl"):
                search[rec["question_id"]] = rec["search_result"]
    gcs_titles = {_url_key(r["url"]): r["title"] for results in search.values() for r in results if r.get("title")}
    gold_keys = {_url_key(r["url"]) for results in gold.values() for r in results}
    gold_texts = {_squash(r["text"]) for results in gold.values() for r in results}
    items: list[Item] = []
    for qa in qa_files:
        for rec in _read_jsonl(qa):
            qid = rec["question_id"]
            if not gold.get(qid):
                continue
            answer = _unquote(rec["choices"][int(rec["answer"][0])])
            golds = tuple(_gold_article(r, rec, gcs_titles) for r in gold[qid])
            distractors = tuple(_search_article(r) for r in search.get(qid, ())
                                if len(r.get("text") or "") >= MIN_DISTRACTOR_CHARS
                                and _url_key(r["url"]) not in gold_keys and _squash(r["text"]) not in gold_texts)
            question = Question(f"realtimeqa-{qid}", rec["question_sentence"].strip(), (answer,), True,
                                tuple(dict.fromkeys(a.url for a in golds)), "realtimeqa")
            items.append(Item(question, golds + distractors))
    return items


def _usable_gold(text: str) -> bool:
    return bool(text.strip()) and text.strip() != _CNN_AD_FORM


def _gold_article(r: dict, qa: dict, gcs_titles: dict[str, str]) -> Article:
    title = gcs_titles.get(_url_key(r["url"])) or _first_line(r["text"])
    date = _iso_date(r.get("publish_date") or qa.get("question_date") or "")
    return Article(_url_id(r["url"]), re.sub(r"\s+[-|]\s+CNN.*$", "", title), r["text"], date, "CNN", r["url"])


def _search_article(r: dict) -> Article:
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


def _squash(text: str) -> str:
    return " ".join(text.split())


# --- QuAIL ------------------------------------------------------------------------------------------------------


def _quail(root: Path) -> list[Item]:
    tree = ET.parse(_require(root / "quail" / "quail_1.3_dev.xml"))
    items: list[Item] = []
    for text in tree.getroot().iterfind("text"):
        if text.get("domain") != "news":
            continue
        tid = text.get("id", "")
        article = Article(tid, _xml_text(text, "metadata/title"), (text.findtext("text_body") or "").strip(),
                          source="VOA News", url=_xml_text(text, "metadata/url"))
        for q in text.iterfind("questions/q"):
            kind = q.get("type", "")
            answerable = kind != "Unanswerable"
            correct = [_squash(a.text or "") for a in q.iterfind("a") if a.get("correct") == "True"]
            question = Question(f"quail-{tid}-{q.get('id')}", _squash(q.text or ""),
                                tuple(correct) if answerable else (), answerable, (tid,) if answerable else (), kind)
            items.append(Item(question, (article,)))
    return items


def _xml_text(elem: ET.Element, path: str) -> str:
    return _squash(elem.findtext(path) or "")


# --- RGB --------------------------------------------------------------------------------------------------------


def _rgb_items(root: Path, refusal: bool) -> list[Item]:
    records = list(_read_jsonl(_require(root / "rgb" / "en_fact.json")))  # JSON lines, despite the .json name
    ids: dict[str, str] = {}  # snippet text -> id of its first occurrence; some snippets repeat across questions

    def snippets(qid: object, kind: str, texts: list[str]) -> tuple[Article, ...]:
        return tuple(Article(ids.setdefault(t, f"rgb-{qid}-{kind}{i}"), "", t) for i, t in enumerate(texts))

    # One corpus serves all questions, so in the refusal set no snippet may answer any question: drop the
    # negatives that are another question's positive or contain any question's answer (e.g. related World Cup
    # questions answer each other).
    # RGB marks a negative by exact string match, so many "negatives" still answer in other words ("released May
    # 2012" for "May 15, 2012", "director Cristophe Gans"): also drop those holding a key of their own question's
    # answer (its year, else its last long word).
    positives = {t for rec in records for t in rec["positive"]}
    all_answers = {a.casefold() for rec in records for a in _flatten(rec["answer"])}

    def answers_something(text: str, own: tuple[str, ...]) -> bool:
        folded = text.casefold()
        keys = {k for a in own for k in _answer_keys(a.casefold())}
        return (text in positives or any(a in folded for a in all_answers)
                or any(re.search(rf"\b{re.escape(k)}\b", folded) for k in keys))

    items: list[Item] = []
    for rec in records:
        positive = snippets(rec["id"], "p", rec["positive"])
        negative = snippets(rec["id"], "n", rec["negative"])
        qid, query = f"rgb-{rec['id']}", rec["query"].strip()
        if refusal:
            safe = tuple(a for a in negative if not answers_something(a.text, _flatten(rec["answer"])))
            items.append(Item(Question(qid, query, (), False, (), "unanswerable"), safe))
        else:
            question = Question(qid, query, _flatten(rec["answer"]), True, tuple(dict.fromkeys(a.id for a in positive)),
                                "rgb")
            items.append(Item(question, positive + negative))
    return items


def _answer_keys(answer: str) -> set[str]:
    """What a text must hold to (possibly) give this answer in other words: its years, else its last word of
    4+ characters, else the whole answer."""
    years = set(re.findall(r"\b(?:1[89]|20)\d\d\b", answer))
    if years:
        return years
    words = [w for w in re.findall(r"[^\W_][\w'-]*", answer) if len(w) >= 4]
    return {words[-1]} if words else {answer}


def _flatten(answer: object) -> tuple[str, ...]:
    """RGB answers are a string, a list of strings, or a list of lists of alternatives."""
    if isinstance(answer, str):
        return (answer.strip(),) if answer.strip() else ()
    if isinstance(answer, list):
        return tuple(dict.fromkeys(s for part in answer for s in _flatten(part)))
    return ()


_SOURCES: dict[str, _Source] = {
    "realtimeqa": _Source(
        "RealTimeQA 2022 (Kasai et al.): CNN news-quiz questions, open answer = the right choice; evidence = the "
        "URL of the gold CNN article; corpus = gold articles plus web-search distractors. Questions whose gold "
        "page holds only an ad form are left out.", _realtimeqa),
    "quail": _Source(
        "QuAIL v1.3 dev, news domain (Rogers et al.; CC BY-NC-SA 4.0): 30 VOA texts and their questions; "
        "multiple-choice answers, 'Unanswerable' questions marked unanswerable; evidence = text id.", _quail),
    "rgb": _Source(
        "RGB en_fact (Chen et al.; CC BY-NC-SA 4.0): news-event questions; corpus = positive and negative "
        "snippets; evidence = positive snippet ids.", lambda root: _rgb_items(root, refusal=False)),
    "rgb-refusal": _Source(
        "RGB en_fact refusal protocol (Chen et al.; CC BY-NC-SA 4.0): corpus = only the negative snippets "
        "(minus those that answer any question), so every question must be refused.",
        lambda root: _rgb_items(root, refusal=True)),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.evalsets", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=BUILTIN)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="keep a fixed sample of N questions (0 = all)")
    args = parser.parse_args(argv)
    try:
        out = build_set(args.name, args.out_dir, args.limit)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    questions = list(_read_jsonl(out / "questions.jsonl"))
    n_articles = sum(1 for _ in _read_jsonl(out / "corpus.jsonl"))
    answerable = sum(1 for q in questions if q["answerable"])
    print(f"{args.name}: {len(questions)} questions ({answerable} answerable), {n_articles} corpus articles -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
