"""Bench section `embedding`: ways to embed faster (batch size, the numpy engine, int8 torch) on real news chunks
(the gold and distractor articles of N_EMBED_QUESTIONS RealTimeQA questions, through rag.evals.datasets): chunks/s
and dense retrieval recall@10 of the gold article, each against the old default, in a fresh process."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from rag.evals.bench.common import Log, Table, evaldata, fmt, run_worker

N_EMBED_QUESTIONS = 12  # RealTimeQA questions whose gold + distractor articles make the embedding-variant corpus


def measure(log: Log) -> dict[str, Any] | None:
    if evaldata() is None:
        log("no evaluation data (../shared/evaldata or $RAG_EVALDATA): skipping the embedding variants")
        return None
    log(f"embedding: {N_EMBED_QUESTIONS} RealTimeQA questions' articles, embedded four ways...")
    return run_worker("embedding", str(N_EMBED_QUESTIONS))


def _int8_copy(model: Any) -> Any:
    """Dynamic int8 quantisation of every Linear layer (torch.ao; weights int8, activations quantised on the fly)."""
    import copy
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)


def worker(n_questions: str) -> dict[str, Any]:
    """In a fresh process: embed the same real news chunks and questions several ways; speed and recall@10 each."""
    from rag.embed import MiniLM
    from rag.evals.datasets import sample_items
    from rag.ingest.chunks import article_chunks
    from rag.ingest.sentences import split_sentences
    from rag.settings import Settings

    items = sample_items("realtimeqa", int(n_questions))
    articles = {a.id: a for item in items for a in item.articles}
    settings = Settings()
    texts: list[str] = []
    owners: list[str] = []  # the url of each chunk's article
    for art in articles.values():
        _, chunk_texts = article_chunks(art.title, split_sentences(art.id, art.text), settings.chunk_sentences,
                                       settings.chunk_overlap)
        texts += chunk_texts
        owners += [art.url] * len(chunk_texts)
    questions = [item.question.question for item in items]
    gold = [set(item.question.evidence) for item in items]
    owner_arr = np.array(owners)

    st = MiniLM()
    st.embed(["warm up"] * (st.small_batch + 1))  # load torch
    st.numpy_model.encode(["warm up"])
    int8 = _int8_copy(st.model)

    def torch_encode(model: Any, batch: int) -> Callable[[list[str]], np.ndarray]:
        return lambda xs: model.encode(xs, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True,
                                       show_progress_bar=False)

    variants = [("torch fp32, batch 64 (old default)", torch_encode(st.model, 64)),
                ("torch fp32, batch 16 (default)", torch_encode(st.model, 16)),
                ("numpy fp32, batch 8 (questions, small uploads)", lambda xs: st.numpy_model.encode(xs, 8)),
                ("torch int8 dynamic, batch 16", torch_encode(int8, 16))]
    rows, base_top = [], None
    for name, encode in variants:
        encode(texts[:8])  # warm
        t0 = time.perf_counter()
        vecs = np.asarray(encode(texts), dtype=np.float32)
        seconds = time.perf_counter() - t0
        top = np.argsort(-(np.asarray(encode(questions), dtype=np.float32) @ vecs.T), axis=1)[:, :10]
        hit = [bool(gold[i] & set(owner_arr[top[i]])) for i in range(len(questions))]
        agree = None if base_top is None else float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top, base_top,
                                                                                                        strict=True)]))
        base_top = top if base_top is None else base_top
        rows.append({"variant": name, "seconds": seconds, "chunks_per_s": len(texts) / seconds,
                     "recall_at_10": float(np.mean(hit)), "top10_agreement_with_old": agree})
    return {"questions": len(questions), "articles": len(articles), "chunks": len(texts), "variants": rows}



def render(emb: dict[str, Any], table: Table) -> None:
    table.title(f"Embedding variants: {emb['chunks']:,} real news chunks from {emb['articles']} articles; "
                f"{emb['questions']} RealTimeQA questions")
    table.rows(["variant", "seconds", "chunks/s", "recall@10 (gold article)", "top-10 agreement with old"],
               [[r["variant"], fmt(r["seconds"], 1), fmt(r["chunks_per_s"], 1), fmt(r["recall_at_10"], 2),
                 fmt(r["top10_agreement_with_old"], 2)] for r in emb["variants"]])
    table.text("recall@10: share of questions with a chunk of a gold article among the 10 nearest chunks "
               "(dense only). Agreement: overlap of each question's top 10 with the old default's.")
