"""Bench section `ingest`: sentences/s of Library.ingest on real news text (RealTimeQA web-search articles), in the
default embedder variant (int8), against the raw fp32 MiniLM `encode` (the encoder's own limit before int8) and the
raw int8 one on the very chunk texts it embedded, in a fresh process."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rag.evals.bench.common import Log, Table, fmt, news_articles, peak_rss_mb, run_worker


def measure(n_articles: int, tmp: Path, log: Log) -> tuple[dict[str, Any] | None, Path | None]:
    """(result, index folder) of ingesting the first n news articles; (None, None) without the news data."""
    articles = news_articles(n_articles)
    if not articles:
        log("no RealTimeQA news data (../shared/evaldata or $RAG_EVALDATA): skipping ingestion")
        return None, None
    news_file = tmp / "news.jsonl"
    news_file.write_text("".join(json.dumps({k: v for k, v in asdict(a).items() if k != "id"}, ensure_ascii=False)
                                 + "\n" for a in articles), encoding="utf-8")
    log(f"ingest: {len(articles)} news articles in a fresh process (pipeline, then raw encode)...")
    index = tmp / "news-index"
    return run_worker("ingest", str(news_file), str(index)), index


def worker(articles_file: str, index_dir: str) -> dict[str, Any]:
    """In a fresh process: the real ingestion pipeline, then the raw encoder on the very texts it embedded."""
    from rag.embed import MiniLM
    from rag.library import Library
    from rag.settings import DEFAULTS

    embedder = MiniLM(variant=DEFAULTS.embedder_variant)
    t0 = time.perf_counter()
    embedder.model.encode(["warm up"])  # torch + model load, timed apart from the throughput
    load_s = time.perf_counter() - t0
    lib = Library(index_dir, embedder=embedder)
    t0 = time.perf_counter()
    summary = lib.ingest([articles_file])
    pipeline_s = time.perf_counter() - t0
    peak_mb = peak_rss_mb()  # before the raw pass, so it is the pipeline's own peak
    store = lib.store
    texts = [store.chunk_text(c) for c in store.chunks().values()]
    raw = {}
    for variant in ("fp32", "int8"):
        model = MiniLM(variant=variant).model
        t0 = time.perf_counter()
        model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                     show_progress_bar=False)
        raw[variant] = time.perf_counter() - t0
    raw_s = raw["fp32"]
    n_sent = summary.sentences
    return {"articles_in": len(Path(articles_file).read_text(encoding="utf-8").splitlines()),
            "articles": len(summary.added) + len(summary.updated), "near_duplicates": len(summary.duplicates),
            "sentences": n_sent, "chunks": summary.chunks, "model_load_s": load_s,
            "pipeline_s": pipeline_s, "raw_encode_s": raw_s,
            "pipeline_sentences_per_s": n_sent / pipeline_s, "raw_sentences_per_s": n_sent / raw_s,
            "pipeline_chunks_per_s": summary.chunks / pipeline_s, "raw_chunks_per_s": summary.chunks / raw_s,
            "ratio": raw_s / pipeline_s, "peak_rss_mb": peak_mb, "variant": DEFAULTS.embedder_variant,
            "raw_int8_s": raw["int8"], "raw_int8_chunks_per_s": summary.chunks / raw["int8"]}


def render(ing: dict[str, Any], table: Table) -> None:
    table.title(f"Ingestion: {ing['articles']} RealTimeQA news articles ({ing['near_duplicates']} near-duplicates "
                f"dropped), {ing['sentences']:,} sentences in {ing['chunks']:,} chunks")
    table.rows(["", "seconds", "sentences/s", "chunks/s"], [
        [f"Library.ingest, {ing.get('variant', 'fp32')} (load, dedupe, split, embed, commit)",
         fmt(ing["pipeline_s"], 1),
         fmt(ing["pipeline_sentences_per_s"], 1), fmt(ing["pipeline_chunks_per_s"], 1)],
        ["raw MiniLM encode fp32, same chunk texts", fmt(ing["raw_encode_s"], 1), fmt(ing["raw_sentences_per_s"], 1),
         fmt(ing["raw_chunks_per_s"], 1)],
        ["raw MiniLM encode int8, same chunk texts", fmt(ing.get("raw_int8_s"), 1), "",
         fmt(ing.get("raw_int8_chunks_per_s"), 1)],
    ])
    table.text(f"ratio pipeline / raw fp32: {ing['ratio']:.2f} (aim >= 2 with int8); model load "
               f"{ing['model_load_s']:.1f} s (not counted)")
