"""Bench section `search`: p50/p95 latency, recall@10 against exact search, build time and bytes/vector at each
--sizes, for the exact index and the IVF index the store switches to past rag.ann.ANN_THRESHOLD vectors.

Vectors are clustered synthetic unit vectors around real MiniLM chunk vectors (of the ingest section's index, else
of a few news articles), queried with real MiniLM embeddings of RealTimeQA quiz questions."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rag.evals.bench.common import Log, Table, fmt, news_articles, news_questions, percentiles

N_QUERIES = 200  # real questions embedded as search queries
EXACT_LATENCY_BUDGET_S = 20.0  # single-query exact searches stop after this long (at least 20 queries)


def measure(ingest_index: Path | None, n_articles: int, sizes: list[int], tmp: Path, log: Log) -> dict[str, Any]:
    log("search: preparing anchor and query vectors...")
    anchors, queries, data = search_vectors_source(ingest_index, n_articles, log)
    runs = []
    for n in sizes:
        t0 = time.perf_counter()
        runs.append(search_at(n, anchors, queries, tmp, log))
        log(f"  {n:>9,}: done in {time.perf_counter() - t0:.0f} s")
    return {"data": data, "sizes": runs}


def clustered_vectors(anchors: np.ndarray, n: int, seed: int, noise: float = 0.6, mix: float = 0.5) -> np.ndarray:
    """n unit vectors around `anchors`: an anchor, plus a random share (0..mix) of a second anchor, plus gaussian
    noise of norm ~`noise`. A continuum of topics like real chunk embeddings; uniform noise would be the worst case
    for any approximate index, and nothing like text."""
    rng = np.random.default_rng(seed)
    m, d = anchors.shape
    out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 100_000):
        b = min(100_000, n - start)
        v = anchors[rng.integers(0, m, b)] + mix * rng.random((b, 1), dtype=np.float32) * anchors[rng.integers(0, m, b)]
        v += rng.standard_normal((b, d), dtype=np.float32) * np.float32(noise / math.sqrt(d))
        out[start : start + b] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def _unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    v = rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def single_query_ms(search: Callable[[np.ndarray], object], queries: np.ndarray,
                    budget_s: float = float("inf"), at_least: int = 20) -> list[float]:
    """Latency of one query at a time (how the product searches), in ms; stops after `budget_s` past `at_least`."""
    out: list[float] = []
    start = time.perf_counter()
    for q in queries:
        t0 = time.perf_counter()
        search(q.reshape(1, -1))
        out.append((time.perf_counter() - t0) * 1000)
        if len(out) >= at_least and time.perf_counter() - start > budget_s:
            break
    return out


def bytes_per_vector(index: object, n: int, folder: Path) -> float:
    """Serialized size / n: what save() writes, and about what the index holds in memory."""
    import faiss

    path = folder / "size-probe.faiss"
    faiss.write_index(index, str(path))
    size = path.stat().st_size
    path.unlink()
    return size / max(n, 1)


def search_at(n: int, anchors: np.ndarray, queries: np.ndarray, folder: Path, log: Callable[[str], None]) -> dict:
    import faiss

    from rag.store.ann import ANN_THRESHOLD, IvfIndex, recall_at

    d = anchors.shape[1]
    t0 = time.perf_counter()
    vectors = clustered_vectors(anchors, n, seed=n)
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    exact = faiss.IndexIDMap2(faiss.IndexFlatIP(d))
    exact.add_with_ids(vectors, np.arange(n, dtype=np.int64))
    exact_build_s = time.perf_counter() - t0
    k = 10
    truth_scores, truth = exact.search(queries, k)
    random_q = _unit_rows(np.random.default_rng(1), 50, d)
    _, random_truth = exact.search(random_q, k)
    exact_ms = single_query_ms(lambda q: exact.search(q, k), queries, EXACT_LATENCY_BUDGET_S)
    exact_bpv = bytes_per_vector(exact, n, folder)
    log(f"  {n:>9,}: exact done ({exact_build_s:.1f} s build); building IVF")
    t0 = time.perf_counter()
    ivf = IvfIndex.build([(vectors, np.arange(n, dtype=np.int64))])
    del vectors  # the indexes hold their own copies
    ivf_build_s = time.perf_counter() - t0
    ivf_ms = single_query_ms(lambda q: ivf.search(q, k), queries)
    found = ivf.search(queries, k)[1]
    rows = {
        "exact": {"index": "IndexIDMap2(IndexFlatIP)", "build_s": exact_build_s, "latency_ms": percentiles(exact_ms),
                  "recall_at_10": 1.0, "bytes_per_vector": exact_bpv},
        "ivf": {"index": f"IndexIVFScalarQuantizer(8 bit) nlist={ivf.nlist} nprobe={ivf.nprobe}",
                "build_s": ivf_build_s,
                "latency_ms": percentiles(ivf_ms), "recall_at_10": recall_at(found, truth),
                "recall_at_10_random_queries": recall_at(ivf.search(random_q, k)[1], random_truth),
                "bytes_per_vector": bytes_per_vector(ivf.index, n, folder), "nlist": ivf.nlist, "nprobe": ivf.nprobe},
    }
    return {"n": n, "generate_s": gen_s, "store_uses": "ivf" if n >= ANN_THRESHOLD else "exact",
            "query_top1_cos_median": float(np.median(truth_scores[:, 0])), **rows}


def search_vectors_source(ingest_index: Path | None, n_articles: int, log: Log) -> tuple[np.ndarray, np.ndarray, str]:
    """(anchors, queries, description): real MiniLM chunk vectors to cluster around, real question vectors."""
    from rag.embed import MiniLM
    from rag.settings import Settings

    embedder = MiniLM()
    news = news_articles(min(n_articles, 20)) if ingest_index is None else []
    if ingest_index is not None:
        from rag import store as store_mod

        store = store_mod.open_store(ingest_index)
        anchors = np.concatenate([np.asarray(v) for _, v, _ in store.vectors.segments.values()])
        what = f"{len(anchors)} real MiniLM chunk vectors from the ingest section"
    elif news:
        import tempfile

        from rag.ingest.articles import make_article
        from rag.library import Library

        arts = [make_article(a.title, a.text, url=a.url) for a in news]
        log(f"  embedding the chunks of {len(arts)} news articles as cluster anchors")
        s = Settings()
        with tempfile.TemporaryDirectory() as tmp:
            lib = Library(tmp, embedder, s.chunk_sentences, s.chunk_overlap)
            lib.add_articles(arts)
            anchors = np.concatenate([np.asarray(v) for _, v, _ in lib.store.vectors.segments.values()])
        what = f"{len(anchors)} real MiniLM chunk vectors of {len(arts)} news articles"
    else:
        anchors = _unit_rows(np.random.default_rng(0), 3000, embedder.dim)
        what = "3000 random unit vectors (no news data found)"
    questions = news_questions(N_QUERIES)
    if questions:
        queries = embedder.embed(questions)
        qwhat = f"{len(queries)} real MiniLM embeddings of RealTimeQA questions"
    else:
        queries = clustered_vectors(anchors, N_QUERIES, seed=99, noise=1.5)
        qwhat = f"{N_QUERIES} synthetic queries (anchors + heavy noise)"
    data = (f"vectors: clustered synthetic unit vectors (dim {anchors.shape[1]}) around {what}, each an anchor + "
            f"0..0.5 x a second anchor + gaussian noise; queries: {qwhat}")
    return np.ascontiguousarray(anchors, np.float32), np.ascontiguousarray(queries, np.float32), data


def render(srch: dict[str, Any], table: Table) -> None:
    table.title("Search: one query at a time, k=10; recall@10 against exact search")
    table.text(srch["data"])
    rows = []
    for r in srch["sizes"]:
        for kind in ("exact", "ivf"):
            x = r[kind]
            used = "<- store" if r["store_uses"] == kind else ""
            rows.append([f"{r['n']:,}", x["index"], fmt(x["build_s"], 1), fmt(x["latency_ms"]["p50"]),
                         fmt(x["latency_ms"]["p95"]), fmt(x["recall_at_10"], 3),
                         fmt(x.get("recall_at_10_random_queries"), 3), fmt(x["bytes_per_vector"], 0), used])
    table.rows(["vectors", "index", "build s", "p50 ms", "p95 ms", "recall@10", "rnd-q rec", "B/vector", ""], rows)
    table.text("rnd-q rec: recall@10 for 50 uniform random queries (worst case, not like questions). B/vector: "
               "size written by save(); past the threshold the store keeps both indexes (exact + IVF).")
