"""The eval runner: build (and cache) an index of a question set's corpus, ask every question through the
same API users call, score answers, citations and refusals, write a report, and gate on thresholds."""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
import tomllib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.answer.conversation import Turn
from rag.answer.records import Answer
from rag.errors import RagError
from rag.text import normalize

CACHE = Path(".cache/evalindex")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    answerable: bool
    evidence: tuple[str, ...] = ()
    history: tuple[Turn, ...] = ()
    category: str = ""


@dataclass(frozen=True)
class QuestionSet:
    name: str
    folder: Path
    questions: tuple[Question, ...]
    corpus: Path  # corpus.jsonl or a folder of article files
    thresholds: dict[str, float] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class Result:
    id: str
    question: str
    category: str
    answerable: bool
    answer: str
    refused: bool
    mode: str
    correct: bool
    f1: float
    length: int
    retrieval_hit: bool | None
    cited: int
    cited_ok: int
    evidence_cited: bool | None
    seconds: float
    gold: tuple[str, ...]
    citations: tuple[str, ...]
    draft: str = ""


def load_set(folder: Path) -> QuestionSet:
    folder = Path(folder)
    qfile = folder / "questions.jsonl"
    if not qfile.exists():
        raise RagError(f"{folder} is not a question set: it has no questions.jsonl (see README, 'Question sets').")
    meta = tomllib.loads((folder / "set.toml").read_text()) if (folder / "set.toml").exists() else {}
    questions = []
    for n, line in enumerate(qfile.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            if not isinstance(r, dict):
                raise TypeError("each line must be a JSON object")
            answers = r.get("answers") or []
            if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
                raise TypeError('"answers" must be a list of strings')
            if not isinstance(r.get("answerable", True), bool):
                raise TypeError('"answerable" must be true or false')
            questions.append(Question(
                str(r["id"]), r["question"], tuple(r.get("answers") or ()), bool(r.get("answerable", True)),
                tuple(r.get("evidence") or ()),
                tuple(Turn(h["question"], h["answer"]) for h in r.get("history") or ()), r.get("category", "")))
        except (KeyError, TypeError, json.JSONDecodeError) as e:
            raise RagError(f"{qfile}:{n}: bad question record ({e}); each needs id, question, answers, "
                           "answerable") from e
    corpus = folder / meta["corpus"] if "corpus" in meta else folder / "corpus.jsonl"
    if not corpus.exists():
        raise RagError(f"The corpus of {folder} is missing: expected {corpus}")
    return QuestionSet(meta.get("name", folder.name), folder, tuple(questions), corpus.resolve(),
                       {k: float(v) for k, v in meta.get("thresholds", {}).items()}, meta.get("description", ""))


def corpus_hash(corpus: Path, extra: str = "") -> str:
    h = hashlib.sha1(extra.encode())
    files = sorted(p for p in corpus.rglob("*") if p.is_file()) if corpus.is_dir() else [corpus]
    for p in files:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


# ---- scoring ---------------------------------------------------------------------------------
def contains_answer(text: str, golds: tuple[str, ...]) -> bool:
    t = f" {normalize(text)} "
    return any(f" {normalize(g)} " in t for g in golds if normalize(g))


def token_f1(text: str, golds: tuple[str, ...]) -> float:
    pred = normalize(text).split()
    best = 0.0
    for g in golds:
        gold = normalize(g).split()
        common = sum(min(pred.count(w), gold.count(w)) for w in set(gold))
        if common:
            p, r = common / len(pred), common / len(gold)
            best = max(best, 2 * p * r / (p + r))
    return best


def _evidence_match(q: Question, article_id: str, url: str, sentence: str) -> bool:
    for ev in q.evidence:
        if ev in (article_id, url) or (len(ev) > 30 and (normalize(ev) in normalize(sentence)
                                                         or normalize(sentence) in normalize(ev))):
            return True
    return False


def score(q: Question, a: Answer, seconds: float, retrieved: list[tuple[str, str, str]]) -> Result:
    cites = a.citations
    ok = [c for c in cites if contains_answer(c.text, q.answers) or _evidence_match(q, c.article_id, c.url, c.text)]
    hit = any(_evidence_match(q, aid, url, text) or contains_answer(text, q.answers) for aid, url, text in retrieved) \
        if q.answerable and (q.evidence or q.answers) else None
    ev_cited = any(_evidence_match(q, c.article_id, c.url, c.text) for c in cites) \
        if q.answerable and q.evidence and not a.refused else None
    return Result(q.id, q.question, q.category, q.answerable, a.text, a.refused, a.mode,
                  q.answerable and not a.refused and contains_answer(a.text, q.answers),
                  0.0 if a.refused else token_f1(a.text, q.answers), len(a.text.split()), hit, len(cites), len(ok),
                  ev_cited, round(seconds, 3), q.answers, tuple(c.sentence_id for c in cites), a.draft)


def summarize(results: list[Result]) -> dict[str, float]:
    ans = [r for r in results if r.answerable]
    una = [r for r in results if not r.answerable]
    answered = [r for r in results if not r.refused]
    cited = [r for r in answered if r.cited]
    hits = [r.retrieval_hit for r in ans if r.retrieval_hit is not None]
    ev = [r.evidence_cited for r in ans if r.evidence_cited is not None]
    secs = sorted(r.seconds for r in results)
    out: dict[str, float] = {"questions": len(results), "answerable": len(ans), "unanswerable": len(una)}
    if ans:
        out["accuracy"] = sum(r.correct for r in ans) / len(ans)
        out["f1"] = sum(r.f1 for r in ans) / len(ans)
        out["false_refusal"] = sum(r.refused for r in ans) / len(ans)
    if hits:
        out["retrieval_recall"] = sum(hits) / len(hits)
    answered_ans = [r for r in answered if r.answerable]
    if answered_ans and any(r.cited for r in answered_ans):
        out["citation_precision"] = sum(r.cited_ok for r in answered_ans) / max(1, sum(r.cited for r in answered_ans))
    if ev:
        out["citation_recall"] = sum(ev) / len(ev)
    if answered:
        out["cited_share"] = len(cited) / len(answered)
        out["answer_words"] = statistics.mean(r.length for r in answered)
    if una:
        out["refusal"] = sum(r.refused for r in una) / len(una)
    if secs:
        out["latency_p50"] = secs[len(secs) // 2]
        out["latency_p95"] = secs[min(len(secs) - 1, int(len(secs) * 0.95))]
    return {k: round(v, 4) for k, v in out.items()}


HIGHER_IS_BETTER = {"accuracy", "f1", "retrieval_recall", "citation_precision", "citation_recall", "cited_share",
                    "refusal"}


def gate(summary: dict[str, float], thresholds: dict[str, float]) -> list[str]:
    """Metrics that fall below (or, for rates that should be low, rise above) the set's thresholds."""
    failures = []
    for metric, limit in thresholds.items():
        value = summary.get(metric)
        if value is None:
            failures.append(f"{metric} was not measured (misspelt, or no question produced it)")
            continue
        bad = value < limit if metric in HIGHER_IS_BETTER else value > limit
        if bad:
            failures.append(f"{metric} = {value} (threshold {limit})")
    return failures


# ---- running ---------------------------------------------------------------------------------
AskFn = Callable[[Question], tuple[Answer, list[tuple[str, str, str]]]]


def run(qs: QuestionSet, ask: AskFn, limit: int = 0, progress: bool = True) -> list[Result]:
    questions = qs.questions[:limit] if limit else qs.questions
    results = []
    for i, q in enumerate(questions, 1):
        t0 = time.perf_counter()
        answer, retrieved = ask(q)
        results.append(score(q, answer, time.perf_counter() - t0, retrieved))
        if progress:
            r = results[-1]
            mark = "R" if r.refused else ("✓" if r.correct else ("·" if not r.answerable else "✗"))
            print(f"\r{i}/{len(questions)} {mark} {r.seconds:5.1f}s {q.question[:60]:60}", end="", file=sys.stderr)
    if progress:
        print(file=sys.stderr)
    return results


def ours(index_dir: Path, model: str) -> AskFn:
    from rag.assistant import Assistant
    from rag.settings import Settings

    assistant = Assistant(Settings.from_env(index_dir=index_dir, model=model))

    def ask(q: Question) -> tuple[Answer, list[tuple[str, str, str]]]:
        answer = assistant.ask(q.question, list(q.history))
        store = assistant.library.store
        retrieved = []
        for sid in answer.retrieved:
            s = store.sentence(sid)
            art = store.articles[s.article_id]
            retrieved.append((art.id, art.url, s.text))
        return answer, retrieved

    return ask


def build_index(qs: QuestionSet, settings_chunks: tuple[int, int] = (5, 2)) -> Path:
    from rag.library import Library

    key = corpus_hash(qs.corpus, f"{settings_chunks}")
    index_dir = CACHE / f"{qs.name}-{key}"
    if not (index_dir / "CURRENT").exists():
        print(f"building the index of {qs.name} in {index_dir} ...", file=sys.stderr)
        lib = Library(index_dir, chunk_sentences=settings_chunks[0], chunk_overlap=settings_chunks[1])
        summary = lib.ingest([qs.corpus])
        print(summary.lines()[0], file=sys.stderr)
    return index_dir


def resolve_set(name_or_dir: str, limit: int) -> QuestionSet:
    from rag import evalsets

    path = Path(name_or_dir)
    if path.is_dir():
        return load_set(path)
    if name_or_dir == "seed":
        return load_set(Path(__file__).resolve().parents[1] / "evals" / "seed")
    if name_or_dir in evalsets.BUILTIN:
        out = CACHE / "sets" / f"{name_or_dir}-{limit or 'all'}"
        evalsets.build_set(name_or_dir, out, limit)  # rebuilt each run (seconds): an adapter change must show
        qs = load_set(out)
        local = Path(__file__).resolve().parents[1] / "evals" / f"{name_or_dir}.toml"
        if local.exists():  # thresholds for the built-in sets live in the repository
            meta = tomllib.loads(local.read_text())
            key = str(limit or "all")
            qs = QuestionSet(qs.name, qs.folder, qs.questions, qs.corpus,
                             {k: float(v) for k, v in meta.get("thresholds", {}).get(key, {}).items()},
                             qs.description)
        return qs
    raise RagError(f"No question set {name_or_dir!r}: give a folder, or one of: seed, {', '.join(evalsets.BUILTIN)}")


def write_report(out: Path, qs: QuestionSet, pipeline: str, results: list[Result], summary: dict[str, float],
                 failures: list[str]) -> None:
    from rag.report import write

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.jsonl", "w") as f:
        for r in results:
            f.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")
    (out / "summary.json").write_text(json.dumps({"set": qs.name, "pipeline": pipeline, "summary": summary,
                                                  "failures": failures}, indent=1))
    by_cat: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_cat[r.category or "all"].append(r)
    write(out, qs.name, pipeline, summary, {c: summarize(rs) for c, rs in sorted(by_cat.items())},
          [r.seconds for r in results], failures)


def main(args: argparse.Namespace) -> int:
    from rag.settings import Settings

    settings = Settings.from_env(model=args.model)
    qs = resolve_set(args.set_dir, args.limit)
    index_dir = build_index(qs, (settings.chunk_sentences, settings.chunk_overlap))
    if args.pipeline == "llamaindex":
        from rag.llamaindex import baseline_ask

        ask = baseline_ask(index_dir, settings)
    else:
        ask = ours(index_dir, settings.model)
    results = run(qs, ask, args.limit)
    summary = summarize(results)
    failures = [] if args.no_gate else gate(summary, qs.thresholds)
    out = Path(args.report) / f"{qs.name}-{args.pipeline}"
    write_report(out, qs, args.pipeline, results, summary, failures)
    print(f"\n{qs.name} ({args.pipeline}, {settings.model}): {len(results)} questions; report in {out}/")
    for k, v in summary.items():
        limit = qs.thresholds.get(k)
        print(f"  {k:20} {v:>8}" + (f"   (threshold {limit})" if limit is not None else ""))
    for f in failures:
        print(f"FAIL {f}")
    return 1 if failures else 0
