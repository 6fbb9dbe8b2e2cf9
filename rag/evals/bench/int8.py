"""The int8 embedder against fp32 on real news: bulk speed and dense retrieval quality.

    OMP_NUM_THREADS=1 python -m rag.evals.bench.int8 [--questions 150] [--distractors 2] [--threads 1]

Questions: the first N RealTimeQA questions that have a gold article (file order). Corpus: one pool for all of them,
the gold articles of every question plus the first D distractor articles (web-search results) of each, chunked as the
store chunks (rag.settings: 5 sentences, overlap 2). Every chunk of the pool is embedded with MiniLM(variant="fp32")
and MiniLM(variant="int8") through `embed` (the torch bulk path), timed: chunks/s on the same texts and threads. As a
reference, also torch's default dynamic quantisation (per-tensor weight scales, rag.evals.bench.embedding).
Questions are embedded once, fp32, by the numpy engine, as `rag ask` does. Search is dense only (dot products over
the whole pool). recall@k is rag.evals.run's: a hit is a chunk of the gold article or a chunk holding the gold answer;
gold-article recall@k counts the gold article only. Overlap: the mean share of a question's fp32 top 10 chunks that
the other variant's top 10 also holds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from rag.errors import RagError
from rag.evals.run import _evidence_match, contains_answer
from rag.settings import Settings

RECALL_AT = (1, 5, 10)
TOP = 10


def first_hit(ranked: Sequence[int], is_hit: Callable[[int], bool]) -> int | None:
    """1-based rank of the first chunk in `ranked` that hits; None when none does."""
    return next((r for r, i in enumerate(ranked, 1) if is_hit(i)), None)


def recall(ranks: Sequence[int | None], k: int) -> float:
    return sum(r is not None and r <= k for r in ranks) / len(ranks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.evals.bench.int8", description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=150, help="first N RealTimeQA questions with a gold article")
    parser.add_argument("--distractors", type=int, default=2, help="distractor articles per question in the pool")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for every variant")
    args = parser.parse_args(argv)
    try:
        report(args.questions, args.distractors, args.threads)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def report(n_questions: int, n_distractors: int, threads: int) -> None:
    import torch

    from rag.embed import MiniLM
    from rag.evals.bench.embedding import _int8_copy
    from rag.evals.datasets import evaldata_dir, realtimeqa
    from rag.ingest.chunks import article_chunks
    from rag.ingest.sentences import split_sentences

    torch.set_num_threads(threads)
    items = realtimeqa.items(evaldata_dir())[:n_questions]
    if len(items) < n_questions:
        raise RagError(f"only {len(items)} RealTimeQA questions have a gold article; ask for fewer")
    questions = [it.question for it in items]
    pool = {a.id: a for it in items for a in it.evidence_articles()}
    n_gold = len(pool)
    for it in items:
        gold = {a.id for a in it.evidence_articles()}
        pool.update((a.id, a) for a in [a for a in it.articles if a.id not in gold][:n_distractors])
    settings = Settings()
    texts: list[str] = []
    owner: list[tuple[str, str]] = []  # (article id, url) of each chunk
    for art in pool.values():
        _, chunk_texts = article_chunks(art.title, split_sentences(art.id, art.text), settings.chunk_sentences,
                                        settings.chunk_overlap)
        texts += chunk_texts
        owner += [(art.id, art.url)] * len(chunk_texts)
    print(f"questions {len(questions)} (RealTimeQA, first with a gold article); pool {len(pool)} articles "
          f"({n_gold} gold + up to {n_distractors} distractors per question), {len(texts)} chunks "
          f"({settings.chunk_sentences} sentences, overlap {settings.chunk_overlap}), "
          f"mean {np.mean([len(t) for t in texts]):.0f} chars")
    print(f"threads: torch {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
          f"torch {torch.__version__}, quantized engine {torch.backends.quantized.engine}", flush=True)

    fp32, int8 = MiniLM(threads=threads), MiniLM(threads=threads, variant="int8")
    per_tensor = _int8_copy(fp32.model)
    variants: list[tuple[str, Callable[[list[str]], np.ndarray]]] = [
        ("fp32", fp32.embed),
        ("int8", int8.embed),
        ("int8 per-tensor (reference)", lambda xs: per_tensor.encode(xs, batch_size=fp32.batch_size,
                                                                      normalize_embeddings=True,
                                                                      convert_to_numpy=True, show_progress_bar=False)),
    ]
    q_vecs = fp32.numpy_model.encode([q.question for q in questions])  # fp32, the numpy engine, as `rag ask`
    vecs: dict[str, np.ndarray] = {}
    speed: dict[str, float] = {}
    for name, encode in variants:
        encode(texts[: fp32.small_batch + 1])  # load the engine and warm it (not timed)
        t0 = time.perf_counter()
        vecs[name] = np.asarray(encode(texts), dtype=np.float32)
        seconds = time.perf_counter() - t0
        speed[name] = len(texts) / seconds
        print(f"  embedded {len(texts)} chunks with {name} in {seconds:.1f} s", file=sys.stderr, flush=True)

    print(f"\nthroughput on {len(texts)} chunks, {threads} thread(s), batch {fp32.batch_size}:")
    for name in vecs:
        print(f"  {name:28s} {speed[name]:7.1f} chunks/s   x{speed[name] / speed['fp32']:.2f} vs fp32")
    print("\ncosine to the fp32 vector of the same chunk:")
    for name in list(vecs)[1:]:
        cos = (vecs[name] * vecs["fp32"]).sum(axis=1)
        print(f"  {name:28s} min {cos.min():.4f}  p1 {np.percentile(cos, 1):.4f}  p50 {np.median(cos):.4f}  "
              f"mean {cos.mean():.4f}")

    tops = {name: np.argsort(-(q_vecs @ v.T), axis=1, kind="stable")[:, :TOP] for name, v in vecs.items()}
    print(f"\ndense retrieval over the pool, {len(questions)} questions (all answerable), questions fp32;")
    print("  recall@k as rag.evals.run (gold article or answer in a chunk) | gold article only | "
          f"top-{TOP} overlap with fp32")
    for name, top in tops.items():
        ranks, gold_ranks = [], []
        for q, ranked in zip(questions, top, strict=True):
            ranks.append(first_hit(ranked, lambda i, q=q: _evidence_match(q, *owner[i], texts[i])
                                   or contains_answer(texts[i], q.answers)))
            gold_ranks.append(first_hit(ranked, lambda i, q=q: bool({*owner[i]} & set(q.evidence))))
        overlap = np.mean([len(set(a) & set(b)) / TOP for a, b in zip(top, tops["fp32"], strict=True)])
        run_def = "  ".join(f"@{k} {recall(ranks, k):.3f}" for k in RECALL_AT)
        gold_only = "  ".join(f"@{k} {recall(gold_ranks, k):.3f}" for k in RECALL_AT)
        print(f"  {name:28s} {run_def} | {gold_only} | {overlap:.3f}")

if __name__ == "__main__":
    sys.exit(main())
