"""The product at 10k, 100k and 1M chunks, end to end: cold `rag ask`, peak memory, adding one article, hybrid
`rag search` latency, disk size and bulk write speed. Run: python -m rag.evals.bench.scale [--sizes 10k,100k,1M]

The stores are built from real news: the public RealTimeQA articles with their real MiniLM chunk vectors (the eval
index of `rag eval realtimeqa`, built or reused from .cache/evalindex). Each size repeats the 1,557 articles under new
ids and URLs ("<id>x<copy>", "<url>#<copy>") until it holds the wanted number of chunks; the text of a copy is the
article's own, and each chunk vector is the original plus gaussian noise (cosine ~0.995 to it), renormalised; its
sentence vectors are the original article's (embedded once by the int8 encoder, as ingestion stores them).
Copies go through the store's writer (rag.store.Writer.add, 1,000 articles a commit, as ingestion commits), not
through the encoder: embedding a million chunks takes ~7 h on 2 cores, and the encoder's speed is the `ingest` and
`embedding` sections' subject. Every timing below runs in a fresh process against the built store.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.evals.bench.common import ROOT, SEEDS, Table, fmt, log, percentiles
from rag.ingest.articles import Article
from rag.ingest.sentences import Sentence

NOISE = 0.1  # norm of the noise added to a copied chunk vector


def parse_sizes(text: str) -> list[int]:
    scale = {"k": 1_000, "m": 1_000_000}
    return [int(float(s[:-1]) * scale[s[-1].lower()]) if s[-1].lower() in scale else int(s)
            for s in text.split(",") if s.strip()]


# (article, sketch, sentences, chunk spans, chunk vectors, sentence vectors)
Source = list[tuple[Article, list[int], list[Sentence], list[tuple[int, int]], np.ndarray, np.ndarray]]


def load_source(log_: Any = log) -> tuple[Source, list[str]]:
    """The RealTimeQA eval index's articles with sketches, sentences, chunk spans and vectors; its questions."""
    from rag.evals import datasets
    from rag.evals.run import build_index, index_path
    from rag.ingest.dedupe import sketch
    from rag.settings import Settings
    from rag.store import open_store

    qs = datasets.build("realtimeqa", 0, "all")
    fp32 = Settings(embedder_variant="fp32")
    older = index_path(qs, fp32, sentence_vectors=False)  # only its chunk vectors are read: an older cache will do
    index = older if (older / "complete").exists() else build_index(qs, fp32)  # the fp32 eval index (cached)
    log_(f"source: {index}")
    st = open_store(index)
    out = []
    for aid in st.article_ids():
        art = st.article(aid)
        chunks = st.chunks_of(aid)
        vecs = np.stack([st.vector(c.id) for c in chunks]) if chunks else np.zeros((0, st.manifest.dim), np.float32)
        out.append((art, sketch(art.text), st.sentences(aid), [(c.first, c.last) for c in chunks], vecs))
    sentence_vectors = _sentence_vectors(index, [sents for _, _, sents, _, _ in out], log_)
    source = [(*row, sv) for row, sv in zip(out, sentence_vectors, strict=True)]
    return source, [q.question for q in qs.questions if q.answerable]


def _sentence_vectors(index: Path, articles: list[list[Sentence]], log_: Any) -> list[np.ndarray]:
    """Each source article's sentence vectors from the int8 encoder, cached beside the eval index."""
    from rag.embed import MiniLM

    cache = index.parent / f"{index.name}.sentence-vectors.npy"
    sizes = [len(sents) for sents in articles]
    flat = np.load(cache) if cache.is_file() else None
    if flat is None or len(flat) != sum(sizes):
        log_(f"embedding the sources' {sum(sizes):,} sentences (int8, once; cached in {cache})")
        flat = MiniLM(variant="int8").embed([s.text for sents in articles for s in sents]).astype(np.float16)
        np.save(cache, flat)
    return np.split(flat, np.cumsum(sizes)[:-1])


def build(folder: Path, source: Source, n_chunks: int, dim: int, seed: int = 0) -> dict[str, Any]:
    """A store of about n_chunks chunks made of copies of the source articles (see the module docstring)."""
    from rag.embed import MiniLM
    from rag.settings import Settings
    from rag.store import FORMAT_VERSION, Manifest, create

    s = Settings()
    store = create(folder, Manifest(FORMAT_VERSION, MiniLM.name, dim, s.chunk_sentences, s.chunk_overlap))
    rng = np.random.default_rng(seed)
    done = copies = 0
    t0 = time.perf_counter()
    while done < n_chunks:
        with store.write("bench scale") as w:
            for _ in range(1000):
                art, sk, sents, spans, vecs, sent_vecs = source[copies % len(source)]
                j = copies // len(source)
                copy = Article(f"{art.id}x{j}", art.title, art.text, art.date, art.source, f"{art.url}#{j}")
                noisy = vecs + rng.standard_normal(vecs.shape).astype(np.float32) * (NOISE / np.sqrt(dim))
                noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
                w.add(copy, sk, spans, noisy, [Sentence(copy.id, x.n, x.start, x.end, x.text) for x in sents],
                      sent_vecs)
                copies += 1
                done += len(spans)
                if done >= n_chunks:
                    break
        log(f"  {done:,} chunks ({copies:,} articles), {time.perf_counter() - t0:.0f} s")
    secs = time.perf_counter() - t0
    st = store.stats()
    store.close()
    return {"articles": st["articles"], "chunks": st["chunks"], "write_s": secs, "write_chunks_per_s": done / secs}


WORKER = r'''
import json, sys, time
t0 = time.perf_counter()
mode, index, arg = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])

def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

out = {}
if mode == "ask":
    import io, contextlib
    from rag.cli import main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["ask", arg, "--index", index, "--json"])
    answer = json.loads(buf.getvalue())
    out = {"exit": rc, "answer": answer["text"][:200], "refused": answer["refused"],
           "retrieve_s": answer["timings"]["retrieve"], "generate_s": answer["timings"]["generate"]}
elif mode == "add":
    from rag.ingest.articles import make_article
    from rag.library import Library
    lib = Library(index)
    t1 = time.perf_counter()
    summary = lib.add_articles([make_article(arg["title"], arg["text"], url=arg["url"])])
    out = {"add_s": time.perf_counter() - t1, "added": len(summary.added)}
elif mode == "search":
    from rag.answer.retrieve import rrf
    from rag.library import Library
    from rag.text import content_words
    lib = Library(index)
    t1 = time.perf_counter()
    lib.search(arg[0], k=10)
    out["first_search_s"] = time.perf_counter() - t1
    ms, chunk_ms = [], []
    for q in arg[1:]:
        t1 = time.perf_counter()
        lib.search(q, k=10)
        ms.append((time.perf_counter() - t1) * 1000)
        t1 = time.perf_counter()  # the index's part: question vector, dense + keyword search, fused, chunks read
        st = lib.store
        fused = rrf([[c for c, _ in st.search_vectors(lib.embedder.embed([q])[0], 30)],
                     [c for c, _ in st.search_words(content_words(q), 30)]])
        st.chunks([c for c, _ in fused[:4]])
        chunk_ms.append((time.perf_counter() - t1) * 1000)
    out["search_ms"], out["chunk_search_ms"] = ms, chunk_ms
out["process_s"] = time.perf_counter() - t0
out["peak_rss_mb"] = peak_mb()
print("RESULT " + json.dumps(out))
'''


def worker(mode: str, index: Path, arg: object) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", WORKER, mode, str(index), json.dumps(arg)], cwd=ROOT, text=True,
                          capture_output=True, timeout=1800, check=False)
    wall = time.perf_counter() - t0
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"{mode} worker failed: {proc.stderr[-2000:]}")
    return {**json.loads(line[7:]), "wall_s": wall}


def measure_one(index: Path, questions: list[str]) -> dict[str, Any]:
    from rag.store import size_on_disk

    ask = worker("ask", index, questions[0])
    add = worker("add", index, {"title": "Harbour bridge reopens", "url": f"https://bench.example/{time.time_ns()}",
                                "text": "The harbour bridge reopened on Monday after repairs. Traffic resumed at "
                                        "noon. The council said the work cost 4 million dollars."})
    search = worker("search", index, questions[:61])
    return {"ask_s": ask["wall_s"], "ask_exit": ask["exit"], "ask_peak_rss_mb": ask["peak_rss_mb"],
            "answer": ask["answer"], "ask_refused": ask["refused"], "ask_retrieve_s": ask["retrieve_s"],
            "ask_generate_s": ask["generate_s"], "add_s": add["add_s"], "add_process_s": add["wall_s"],
            "search_ms": percentiles(search["search_ms"]), "first_search_s": search["first_search_s"],
            "chunk_search_ms": percentiles(search["chunk_search_ms"]),
            "search_peak_rss_mb": search["peak_rss_mb"], "disk_mb": size_on_disk(index) / 1e6}


def run(sizes: list[int], workdir: Path) -> dict[str, Any]:
    from rag.library import Library

    source, questions = load_source()
    dim = source[0][4].shape[1]
    log(f"source: {len(source)} articles, {sum(len(x[3]) for x in source):,} chunks; {len(questions)} questions")
    seed_index = workdir / "seed"
    Library(seed_index).ingest([SEEDS])
    seed = worker("ask", seed_index, "Who leads the Ukrainian delegation?")
    out: dict[str, Any] = {"seed_ask_s": seed["wall_s"], "seed_ask_peak_rss_mb": seed["peak_rss_mb"],
                           "seed_retrieve_s": seed["retrieve_s"], "seed_generate_s": seed["generate_s"], "sizes": []}
    for n in sizes:
        log(f"building {n:,} chunks ...")
        folder = workdir / f"n{n}"
        built = build(folder, source, n, dim)
        log(f"measuring {n:,} ...")
        row = {"n": n, **built, **measure_one(folder, questions)}
        row["ask_vs_seed"] = row["ask_s"] / out["seed_ask_s"]
        row["retrieve_vs_seed"] = row["ask_retrieve_s"] / out["seed_retrieve_s"]
        out["sizes"].append(row)
        log(json.dumps(row))
    return out


def render(res: dict[str, Any], table: Table) -> None:
    table.title("The product at scale: stores of real news chunks (see rag/evals/bench/scale.py for how they are made)")
    table.text(f"seed index: cold `rag ask` {fmt(res['seed_ask_s'], 2)} s (retrieve, index opening included: "
               f"{fmt(res['seed_retrieve_s'], 2)} s; generate {fmt(res['seed_generate_s'], 2)} s), peak RSS "
               f"{fmt(res['seed_ask_peak_rss_mb'], 0)} MB")
    rows = []
    for r in res["sizes"]:
        rows.append([f"{r['n']:,}", f"{r['articles']:,}", fmt(r["ask_s"], 2), fmt(r["ask_vs_seed"], 2),
                     fmt(r["ask_retrieve_s"], 2), fmt(r["retrieve_vs_seed"], 2),
                     fmt(r["ask_peak_rss_mb"], 0), fmt(r["add_s"], 3), fmt(r["chunk_search_ms"]["p50"], 1),
                     fmt(r["chunk_search_ms"]["p95"], 1), fmt(r["search_ms"]["p50"], 1),
                     fmt(r["search_ms"]["p95"], 1), fmt(r["search_peak_rss_mb"], 0), fmt(r["disk_mb"], 0),
                     fmt(r["write_chunks_per_s"], 0)])
    table.rows(["chunks", "articles", "cold ask s", "x seed", "retrieve s", "x seed", "ask RSS MB", "add 1 s",
                "index p50 ms", "p95",
                "search p50 ms", "p95", "search RSS MB", "disk MB", "write chunks/s"], rows)
    table.text("cold ask: a new process, `rag ask` of the set's first question to its answer (its own answer: the "
               "seed's question differs, so generation time differs); retrieve: the part of it from opening the "
               "index to the ranked sentences. index: question vector + dense + keyword search + fusion + chunk rows; "
               "search: `Library.search` as `rag search` runs it, which also ranks the top chunks' sentences by "
               "their stored vectors")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rag.evals.bench.scale", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10k,100k,1M")
    p.add_argument("--out", default="reports/scale.json")
    p.add_argument("--workdir", default=None, help="where the stores are built (default: a temporary folder)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        res = run(parse_sizes(args.sizes), Path(tmp))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))
    table = Table()
    render(res, table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
