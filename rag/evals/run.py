"""The eval runner (`rag eval`): build (and cache) an index of a question set's corpus, ask every question through
the same API users call, score answers, citations, refusals and retrieval, summarize, write a report, and gate on
the set's thresholds.

Metrics (summary.json/md): see `summarize`. Latency percentiles use `percentile` (linear interpolation, numpy's
default), the one percentile of the evals and the bench.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.answer.amounts import quantities
from rag.answer.records import Answer
from rag.errors import RagError
from rag.evals.questions import Question, QuestionSet, load_set
from rag.generate import Generator
from rag.settings import Settings
from rag.text import normalize

ROOT = Path(__file__).resolve().parents[2]  # the repository
CACHE = Path(".cache/evalindex")
RECALL_AT = (1, 3, 5, 10)  # recall@k of the evidence among the first k retrieved units

Retrieved = list[tuple[str, str, str]]  # (article id, article url, text) of each retrieved unit, best first
AskFn = Callable[[Question], tuple[Answer, Retrieved]]


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
    retrieval_hit: bool | None  # None: not measured (unanswerable, or nothing to look for)
    cited: int
    cited_ok: int
    evidence_cited: bool | None
    seconds: float
    gold: tuple[str, ...]
    citations: tuple[str, ...]
    draft: str = ""  # the model's raw draft (Answer.draft); "" when the pipeline gives none
    retrieval_rank: int | None = None  # 1-based position of the first retrieved unit that hits; None: no hit
    prompt_key: str = ""  # Answer.prompt_key: which prompt the draft answers (`rag eval --replay` matches it)


# ---- scoring ---------------------------------------------------------------------------------
# the same place under the names news writes it by; a gold answer "United Kingdom" is answered by "the UK"
_SAME_PLACE = {"united kingdom": ("uk", "u k", "britain", "great britain"),
               "united states": ("us", "u s", "usa", "u s a", "america")}
_VERDICTS = {"yes", "no"}  # a yes/no question's gold answer
_PARTS = re.compile(r"\s+(?:and|&)\s+|,\s+")  # "Russia and China", "Houston Astros & Philadelphia Phillies"
_AMOUNT_WORDS = {"million", "billion", "thousand", "bn", "percent", "about", "approximately", "around", "nearly",
                 "almost", "over", "more", "than", "least", "at", "up", "to", "us", "usd"}


def contains_answer(text: str, golds: tuple[str, ...], normalized: str | None = None) -> bool:
    """Does `text` state one of the gold answers: the gold's words in order (after `normalize`), or, said another
    way, the same amount ("$12.6 million" = "$12,600,000"; exact, not rounded), every part of a list in any order
    ("Russia and China" = "China and Russia"), or a country by its usual short name ("UK"). A gold "Yes" or "No"
    is a verdict: the text's first word, not a word inside a quote. `normalized`: `normalize(text)`, when the caller
    checks one long text against many answers and has it already."""
    t = f" {normalize(text) if normalized is None else normalized} "
    verdicts = [g for g in golds if normalize(g) in _VERDICTS]
    if verdicts:
        first = t.split()[:1]
        return any(first == [normalize(g)] for g in verdicts)
    return any(_states(text, t, g) for g in golds)


def _states(text: str, padded: str, gold: str) -> bool:
    g = normalize(gold)
    if not g:
        return False
    if f" {g} " in padded or any(f" {alias} " in padded for alias in _SAME_PLACE.get(g, ())):
        return True
    parts = [p for p in _PARTS.split(gold) if normalize(p)]
    if len(parts) > 1:
        return all(_states(text, padded, p) for p in parts)
    return _same_amount(text, gold)


def _same_amount(text: str, gold: str) -> bool:
    """A gold answer that is only an amount ("$12.6 million", "1,600", "90%") is stated by the same amount written
    otherwise, in the same unit (a dollar amount by a dollar amount, a share by a share)."""
    wanted = quantities(gold)
    rest = [w for w in normalize(gold).split() if not any(ch.isdigit() for ch in w) and w not in _AMOUNT_WORDS]
    if not wanted or rest:
        return False
    for unit, said in (("$", ("$", "dollar")), ("%", ("%", "percent"))):
        if unit in gold and not any(s in text.lower() for s in said):
            return False
    have = quantities(text)
    return all(any(abs(a - b) <= 1e-9 * max(abs(a), abs(b)) for b in have) for a in wanted)


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


def score(q: Question, a: Answer, seconds: float, retrieved: Retrieved) -> Result:
    cites = a.citations
    ok = [c for c in cites if contains_answer(c.text, q.answers) or _evidence_match(q, c.article_id, c.url, c.text)]
    rank = None
    if q.answerable and (q.evidence or q.answers):
        rank = next((i for i, (aid, url, text) in enumerate(retrieved, 1)
                     if _evidence_match(q, aid, url, text) or contains_answer(text, q.answers)), None)
        hit: bool | None = rank is not None
    else:
        hit = None
    ev_cited = any(_evidence_match(q, c.article_id, c.url, c.text) for c in cites) \
        if q.answerable and q.evidence and not a.refused else None
    return Result(q.id, q.question, q.category, q.answerable, a.text, a.refused, a.mode,
                  q.answerable and not a.refused and contains_answer(a.text, q.answers),
                  0.0 if a.refused else token_f1(a.text, q.answers), len(a.text.split()), hit, len(cites), len(ok),
                  ev_cited, round(seconds, 3), q.answers, tuple(c.sentence_id for c in cites), a.draft, rank,
                  a.prompt_key)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between the closest ranks (numpy's default);
    nan for no values."""
    xs = sorted(values)
    if not xs:
        return math.nan
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(results: list[Result]) -> dict[str, float]:
    """The set's metrics, each only when some question measures it:

    accuracy, f1, false_refusal        over answerable questions
    draft_accuracy                     answerable questions whose model draft holds a gold answer (only when the
                                       pipeline reports drafts: some answerable result has one)
    kept                               of those, the share whose final answer is correct
    retrieval_recall, recall@k         answerable questions with the evidence (or a gold answer) among the retrieved
                                       units: all of them, or the first k (k in RECALL_AT). A unit is what the
                                       pipeline retrieved, best first: ours, the sentences of the retrieved chunks
                                       in chunk rank order; llama-index, its source nodes
    citation_precision                 cited sentences holding a gold answer or the evidence, answered answerable
    citation_recall                    answers citing the evidence
    cited_share, answer_words          over answered questions
    refusal                            over unanswerable questions
    latency_p50, latency_p95           seconds per question (`percentile`)
    """
    ans = [r for r in results if r.answerable]
    una = [r for r in results if not r.answerable]
    answered = [r for r in results if not r.refused]
    cited = [r for r in answered if r.cited]
    measured = [r for r in ans if r.retrieval_hit is not None]
    ev = [r.evidence_cited for r in ans if r.evidence_cited is not None]
    secs = [r.seconds for r in results]
    out: dict[str, float] = {"questions": len(results), "answerable": len(ans), "unanswerable": len(una)}
    if ans:
        out["accuracy"] = sum(r.correct for r in ans) / len(ans)
        out["f1"] = sum(r.f1 for r in ans) / len(ans)
        out["false_refusal"] = sum(r.refused for r in ans) / len(ans)
    if any(r.draft for r in ans):
        good_drafts = [r for r in ans if contains_answer(r.draft, r.gold)]
        out["draft_accuracy"] = len(good_drafts) / len(ans)
        if good_drafts:
            out["kept"] = sum(r.correct for r in good_drafts) / len(good_drafts)
    if measured:
        out["retrieval_recall"] = sum(bool(r.retrieval_hit) for r in measured) / len(measured)
        for k in RECALL_AT:
            out[f"recall@{k}"] = sum(r.retrieval_rank is not None and r.retrieval_rank <= k
                                     for r in measured) / len(measured)
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
        out["latency_p50"] = percentile(secs, 50)
        out["latency_p95"] = percentile(secs, 95)
    return {k: round(v, 4) for k, v in out.items()}


HIGHER_IS_BETTER = {"accuracy", "f1", "retrieval_recall", "citation_precision", "citation_recall", "cited_share",
                    "refusal", "draft_accuracy", "kept", *(f"recall@{k}" for k in RECALL_AT)}


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


def ours(index_dir: Path, model: str, generator: Generator | None = None) -> AskFn:
    """Our pipeline over `index_dir`, writing with `model` (or with `generator`: a replay of stored drafts)."""
    from rag.assistant import Assistant

    assistant = Assistant(Settings.from_env(index_dir=index_dir, model=model), generator=generator)

    def ask(q: Question) -> tuple[Answer, Retrieved]:
        answer = assistant.ask(q.question, list(q.history))
        store = assistant.library.store
        retrieved = []
        for sid in answer.retrieved:
            s = store.sentence(sid)
            art = store.article(s.article_id)
            retrieved.append((art.id, art.url, s.text))
        return answer, retrieved

    return ask


def index_path(qs: QuestionSet, settings: Settings, sentence_vectors: bool = True) -> Path:
    """Where the set's index is cached. ":sv": built with sentence vectors (a cache from before them ranks
    sentences by embedding them on the fly, so it is not reused)."""
    from rag.embed import VECTOR_KINDS

    chunks = (settings.chunk_sentences, settings.chunk_overlap)
    kind = VECTOR_KINDS[settings.embedder_variant]
    variant = "" if kind == "fp32" else f":{kind}"  # fp32: as before
    where = f":{settings.store}" if settings.store else ""  # RAG_STORE: an index whose vectors live in Milvus
    return CACHE / f"{qs.name}-{qs.corpus_hash(str(chunks) + variant + (':sv' if sentence_vectors else '') + where)}"


def build_index(qs: QuestionSet, settings: Settings | None = None) -> Path:
    """The set's corpus indexed with the settings' chunking (default: Settings()), cached by content."""
    from rag import store as store_mod
    from rag.embed import VECTOR_KINDS, MiniLM
    from rag.evals.embedcache import CachedEmbedder, cache_path
    from rag.library import Library
    from rag.store import legacy

    s = settings or Settings()
    chunks = (s.chunk_sentences, s.chunk_overlap)
    index_dir = index_path(qs, s)
    done = index_dir / "complete"  # written once the whole corpus is in: an interrupted build resumes
    if legacy.is_legacy(index_dir) and not store_mod.exists(index_dir):  # a cache of format 1: no need to re-embed
        legacy.upgrade(index_dir)
        done.touch()
    if not done.exists():
        print(f"building the index of {qs.name} in {index_dir} ...", file=sys.stderr)
        inner = MiniLM(variant=s.embedder_variant)
        kind = VECTOR_KINDS[inner.variant]
        embedder = CachedEmbedder(inner, cache_path(CACHE.parent / "embeddings", inner.name, kind))
        lib = Library(index_dir, embedder=embedder, chunk_sentences=chunks[0], chunk_overlap=chunks[1], store=s.store)
        summary = lib.ingest([qs.corpus]) if isinstance(qs.corpus, Path) else lib.add_articles(list(qs.corpus))
        lib.close()
        embedder.close()
        print(f"{summary.lines()[0]} ({embedder.hits} of {embedder.hits + embedder.misses} texts' vectors read "
              f"from {embedder.path})", file=sys.stderr)
        done.touch()
    store = store_mod.open_store(index_dir, store=s.store)
    if store.keywords is None:  # a cache from before the keyword index, or one that lost it: a writer rebuilds it
        with store.write("rag eval: rebuild the keyword index"):
            pass
    store.close()
    return index_dir


def resolve_set(name_or_dir: str, limit: int = 0, split: str = "all") -> QuestionSet:
    """A question-set folder, `seed` (evals/seed/), or a built-in set of rag.evals.datasets in `split`."""
    from rag.evals import datasets

    path = Path(name_or_dir)
    if path.is_dir() or name_or_dir == "seed":
        if split != "all":
            raise RagError(f"--split {split} applies to the built-in public sets ({', '.join(datasets.BUILTIN)}); "
                           "a question-set folder is run whole.")
        return load_set(path if path.is_dir() else ROOT / "evals" / "seed")
    if name_or_dir in datasets.BUILTIN:
        return datasets.build(name_or_dir, limit, split)  # rebuilt each run (seconds): an adapter change must show
    raise RagError(f"No question set {name_or_dir!r}: give a folder, or one of: seed, {', '.join(datasets.BUILTIN)}")


def main(args: argparse.Namespace) -> int:
    from rag.evals.report import write_report

    settings = Settings.from_env(model=args.model)
    split = getattr(args, "split", "all")
    qs = resolve_set(args.set_dir, args.limit, split)
    replay = None
    if getattr(args, "replay", None):
        if args.pipeline != "ours":
            raise RagError("--replay re-checks our pipeline's stored drafts; it does not apply to --pipeline "
                           f"{args.pipeline}.")
        from rag.evals.replay import ReplayGenerator, stored_drafts
        from rag.generate import make_generator

        s = settings
        replay = ReplayGenerator(stored_drafts(Path(args.replay), qs),
                                 make_generator(s.model, s.threads, s.api_model, s.api_key, s.timeout_s, s.seed))
    index_dir = build_index(qs, settings)
    if args.pipeline == "llamaindex":
        from rag.llamaindex import baseline_ask

        ask = baseline_ask(index_dir, settings)
    else:
        ask = ours(index_dir, settings.model, replay)
    results = run(qs, ask, args.limit)
    summary = summarize(results)
    if replay:  # a stored draft takes no time to write: the seconds measure nothing a user would wait
        summary = {k: v for k, v in summary.items() if not k.startswith("latency")}
        print(f"replayed {replay.replayed} stored drafts from {args.replay}; the model wrote {replay.written} (a "
              "prompt that changed, or no stored draft)", file=sys.stderr)
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
