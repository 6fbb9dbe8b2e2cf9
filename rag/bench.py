"""`rag bench`: ingestion, search at scale, answering, cold start and peak memory, measured in one run.

Each measurement stands next to its raw limit measured in the same run (the embedder's own `encode` on the same
texts, llama.cpp's own completion on the same prompts), so the ratios say what the pipeline costs on top.

Sections (--only, comma-separated; default all):
    ingest  sentences/s of Library.ingest on real news text (RealTimeQA search results) vs raw MiniLM encode
    embedding  ways to embed faster (batch size, the numpy engine, int8 torch) on real news chunks: chunks/s and
            dense retrieval recall@10 of the gold article for RealTimeQA questions, each against the old default
    search  p50/p95 latency, recall@10 against exact search, build time and bytes/vector at each --sizes, for the
            exact index and the IVF index the store switches to past rag.ann.ANN_THRESHOLD vectors
    answer  per-stage p50/p95 of Assistant.ask over the seed questions; generation tokens/s vs raw llama.cpp
    cold    a new `rag ask` process to its first answer; `python ui.py` until its page answers 200
    memory  peak RSS (VmHWM) of an ingestion process and of an answering process

On 2 cores MiniLM embeds ~16-30 chunks/s (~24 chunks per news article), and the ingest section embeds every
chunk twice (pipeline, then raw): ~3 s per article, so the default 300 articles take ~15 min; embedding ~10 min;
search at 10k,100k,1M ~3 min; answering ~1 min; cold start ~10 s.
    rag bench --out reports/bench.json                                    # full run (the one reported)
    rag bench --only search,answer --sizes 10k,100k                       # a quick subset
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NEWS = ROOT.parent / "shared/evaldata/realtimeqa-2022"
SEEDS = ROOT / "seeds"
SEED_QUESTIONS = ROOT / "evals/seed/questions.jsonl"
SECTIONS = ("ingest", "embedding", "search", "answer", "cold", "memory")
MIN_TEXT = 500  # news texts shorter than this are mostly cookie banners and ad forms
N_QUESTIONS = 10  # seed questions answered in the answer section
N_QUERIES = 200  # real questions embedded as search queries
N_EMBED_QUESTIONS = 12  # RealTimeQA questions whose gold + distractor articles make the embedding-variant corpus
EXACT_LATENCY_BUDGET_S = 20.0  # single-query exact searches stop after this long (at least 20 queries)


# ---- small helpers -------------------------------------------------------------------------------------------------
def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "n": 0}
    p50, p95 = np.percentile(values, [50, 95])
    return {"p50": float(p50), "p95": float(p95), "n": len(values)}


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    mem_gb = float("nan")
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), cpu)
        kb = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                  if ln.startswith("MemTotal:"))
        mem_gb = kb / 1024**2
    except (OSError, StopIteration):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = {}
    for mod in ("faiss", "torch", "sentence_transformers", "llama_cpp"):
        try:
            versions[mod] = __import__(mod).__version__
        except (ImportError, AttributeError):
            versions[mod] = "missing"
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable, "ram_gb": round(mem_gb, 1),
            "python": platform.python_version(), "versions": versions, "load_avg_start": os.getloadavg()}


def parse_sizes(text: str) -> list[int]:
    """'10k,100k,1M' or '10000,100000,1000000'."""
    out = []
    for part in text.replace("_", "").split(","):
        part = part.strip().lower()
        if not part:
            continue
        mult = {"k": 1_000, "m": 1_000_000}.get(part[-1], 1)
        out.append(int(float(part[:-1] if mult > 1 else part) * mult))
    return out


def parse_only(text: str | None) -> list[str]:
    chosen = [s.strip() for s in (text or "").split(",") if s.strip()] or list(SECTIONS)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        raise SystemExit(f"error: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return chosen


def news_records(limit: int) -> list[dict[str, str]]:
    """The first `limit` RealTimeQA search-result articles (unique url, text >= MIN_TEXT chars), in file order."""
    records: list[dict[str, str]] = []
    seen: set[str] = set()
    for path in sorted(NEWS.glob("*_gcs.jsonl")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                for r in json.loads(line).get("search_result") or []:
                    url, text = r.get("url") or "", r.get("text") or ""
                    if len(text) < MIN_TEXT or url in seen:
                        continue
                    seen.add(url)
                    records.append({"title": r.get("title") or "", "text": text, "url": url,
                                    "date": (r.get("publish_date") or "").replace("/", "-"),
                                    "source": urlparse(url).netloc.removeprefix("www.")})
                    if len(records) >= limit:
                        return records
    return records


def news_questions(limit: int) -> list[str]:
    out: list[str] = []
    for path in sorted(NEWS.glob("*_qa.jsonl")):
        with open(path, encoding="utf-8") as f:
            out += [json.loads(line)["question_sentence"].strip() for line in f if line.strip()]
    return out[:limit]


def seed_questions(limit: int) -> list[str]:
    rows = [json.loads(line) for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows if not r.get("history")][:limit]


def run_worker(kind: str, *args: str) -> dict[str, Any]:
    """Run `python -m rag.bench --worker KIND ARGS...` in a fresh process; its last stdout line is a JSON result."""
    proc = subprocess.run([sys.executable, "-m", "rag.bench", "--worker", kind, *args], cwd=ROOT, text=True,
                          stdout=subprocess.PIPE, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"bench worker {kind!r} failed (exit {proc.returncode}); see its stderr above")
    return json.loads(lines[-1])


# ---- 1b. embedding variants ---------------------------------------------------------------------------------------
def _int8_copy(model: Any) -> Any:
    """Dynamic int8 quantisation of every Linear layer (torch.ao; weights int8, activations quantised on the fly)."""
    import copy
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)


def worker_embedding(n_questions: str) -> dict[str, Any]:
    """In a fresh process: embed the same real news chunks and questions several ways; speed and recall@10 each."""
    from rag.embed import MiniLM
    from rag.evalsets import sample_items
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


# ---- 1. ingestion --------------------------------------------------------------------------------------------------
def worker_ingest(articles_file: str, index_dir: str) -> dict[str, Any]:
    """In a fresh process: the real ingestion pipeline, then the raw encoder on the very texts it embedded."""
    from rag.embed import MiniLM
    from rag.library import Library

    embedder = MiniLM()
    t0 = time.perf_counter()
    embedder.model.encode(["warm up"])  # torch + model load, timed apart from the throughput
    load_s = time.perf_counter() - t0
    lib = Library(index_dir, embedder=embedder)
    t0 = time.perf_counter()
    summary = lib.ingest([articles_file])
    pipeline_s = time.perf_counter() - t0
    peak_mb = peak_rss_mb()  # before the raw pass, so it is the pipeline's own peak
    store = lib.store
    texts = [store.chunk_text(c) for c in store.chunks.values()]
    t0 = time.perf_counter()
    embedder.model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                          show_progress_bar=False)
    raw_s = time.perf_counter() - t0
    n_sent = summary.sentences
    return {"articles_in": len(Path(articles_file).read_text(encoding="utf-8").splitlines()),
            "articles": len(summary.added) + len(summary.updated), "near_duplicates": len(summary.duplicates),
            "sentences": n_sent, "chunks": summary.chunks, "model_load_s": load_s,
            "pipeline_s": pipeline_s, "raw_encode_s": raw_s,
            "pipeline_sentences_per_s": n_sent / pipeline_s, "raw_sentences_per_s": n_sent / raw_s,
            "pipeline_chunks_per_s": summary.chunks / pipeline_s, "raw_chunks_per_s": summary.chunks / raw_s,
            "ratio": raw_s / pipeline_s, "peak_rss_mb": peak_mb}


# ---- 2. search at scale --------------------------------------------------------------------------------------------
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

    from rag.ann import ANN_THRESHOLD, IvfIndex, recall_at

    d = anchors.shape[1]
    t0 = time.perf_counter()
    vectors = clustered_vectors(anchors, n, seed=n)
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    exact = faiss.IndexIDMap2(faiss.IndexFlatIP(d))
    exact.add_with_ids(vectors, np.arange(n, dtype=np.int64))
    exact_build_s = time.perf_counter() - t0
    del vectors  # the index holds its own copy
    k = 10
    truth_scores, truth = exact.search(queries, k)
    random_q = _unit_rows(np.random.default_rng(1), 50, d)
    _, random_truth = exact.search(random_q, k)
    exact_ms = single_query_ms(lambda q: exact.search(q, k), queries, EXACT_LATENCY_BUDGET_S)
    exact_bpv = bytes_per_vector(exact, n, folder)
    log(f"  {n:>9,}: exact done ({exact_build_s:.1f} s build); building IVF")
    t0 = time.perf_counter()
    ivf = IvfIndex.build(exact)
    ivf_build_s = time.perf_counter() - t0
    ivf_ms = single_query_ms(lambda q: ivf.search(q, k), queries)
    found = ivf.search(queries, k)[1]
    rows = {
        "exact": {"index": "IndexIDMap2(IndexFlatIP)", "build_s": exact_build_s, "latency_ms": percentiles(exact_ms),
                  "recall_at_10": 1.0, "bytes_per_vector": exact_bpv},
        "ivf": {"index": f"IndexIVFFlat nlist={ivf.nlist} nprobe={ivf.nprobe}", "build_s": ivf_build_s,
                "latency_ms": percentiles(ivf_ms), "recall_at_10": recall_at(found, truth),
                "recall_at_10_random_queries": recall_at(ivf.search(random_q, k)[1], random_truth),
                "bytes_per_vector": bytes_per_vector(ivf.index, n, folder), "nlist": ivf.nlist, "nprobe": ivf.nprobe},
    }
    return {"n": n, "generate_s": gen_s, "store_uses": "ivf" if n >= ANN_THRESHOLD else "exact",
            "query_top1_cos_median": float(np.median(truth_scores[:, 0])), **rows}


def search_vectors_source(ingest_index: Path | None, n_articles: int,
                          log: Callable[[str], None]) -> tuple[np.ndarray, np.ndarray, str]:
    """(anchors, queries, description): real MiniLM chunk vectors to cluster around, real question vectors."""
    from rag.ann import exact_vectors
    from rag.embed import MiniLM

    embedder = MiniLM()
    if ingest_index is not None:
        from rag import store as store_mod

        store = store_mod.load(ingest_index)
        anchors = np.array(exact_vectors(store.index)[0])  # a copy: the view dies with the index
        what = f"{len(anchors)} real MiniLM chunk vectors from the ingest section"
    elif NEWS.is_dir():
        from rag.ingest.articles import make_article
        from rag.ingest.pipeline import ingest_articles
        from rag.store import new_store

        arts = [make_article(r["title"], r["text"], url=r["url"]) for r in news_records(min(n_articles, 20))]
        log(f"  embedding the chunks of {len(arts)} news articles as cluster anchors")
        st = new_store(embedder.name, embedder.dim, 5, 2)
        ingest_articles(st, arts, embedder)
        anchors = np.array(exact_vectors(st.index)[0])
        what = f"{len(anchors)} real MiniLM chunk vectors of {len(arts)} news articles"
    else:
        anchors = _unit_rows(np.random.default_rng(0), 3000, embedder.dim)
        what = "3000 random unit vectors (no news data found)"
    questions = news_questions(N_QUERIES) if NEWS.is_dir() else []
    if questions:
        queries = embedder.embed(questions)
        qwhat = f"{len(queries)} real MiniLM embeddings of RealTimeQA questions"
    else:
        queries = clustered_vectors(anchors, N_QUERIES, seed=99, noise=1.5)
        qwhat = f"{N_QUERIES} synthetic queries (anchors + heavy noise)"
    data = (f"vectors: clustered synthetic unit vectors (dim {anchors.shape[1]}) around {what}, each an anchor + "
            f"0..0.5 x a second anchor + gaussian noise; queries: {qwhat}")
    return np.ascontiguousarray(anchors, np.float32), np.ascontiguousarray(queries, np.float32), data


# ---- 3. answering --------------------------------------------------------------------------------------------------
@dataclass
class _Call:
    prompt: Any  # rag.generate.Prompt
    max_tokens: int
    stop: tuple[str, ...]
    text: str = ""


@dataclass
class _Recording:
    """Passes a generator through, keeping each prompt and its output so raw llama.cpp can redo the same calls."""

    inner: Any
    calls: list[_Call] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def stream(self, prompt: Any, max_tokens: int, stop: tuple[str, ...] = ()) -> Iterator[str]:
        call = _Call(prompt, max_tokens, tuple(stop))
        parts = []
        for delta in self.inner.stream(prompt, max_tokens, stop):
            parts.append(delta)
            yield delta
        call.text = "".join(parts)
        self.calls.append(call)


def raw_llama(gen: Any, call: _Call) -> tuple[str, float, float]:
    """(text, seconds to first token, seconds in all) of llama.cpp itself on the prompt the pipeline sent.

    Renders the prompt, trims it to the context and adds the newline stop exactly as rag.generate.LlamaCpp does."""
    llm = gen.llm
    llm.reset()
    t0 = time.perf_counter()
    first = None
    parts = []
    if gen.chat:
        stream = llm.create_chat_completion(call.prompt.as_messages(), max_tokens=call.max_tokens, temperature=0.0,
                                            seed=gen.seed, stop=list(call.stop) or None, stream=True)
        deltas = (p["choices"][0]["delta"].get("content") or "" for p in stream)
    else:
        text = gen.fit_prompt(call.prompt.as_completion(), call.max_tokens)
        stream = llm.create_completion(text, max_tokens=call.max_tokens, temperature=0.0, seed=gen.seed,
                                       stop=[*call.stop, "\n"], stream=True)
        deltas = (p["choices"][0]["text"] for p in stream)
    for delta in deltas:
        if first is None:
            first = time.perf_counter() - t0
        parts.append(delta)
    total = time.perf_counter() - t0
    return "".join(parts), first if first is not None else total, total


def worker_answer(index_dir: str, n_questions: str) -> dict[str, Any]:
    """In a fresh process: Assistant.ask over the seed questions, then raw llama.cpp on the same prompts."""
    from rag.assistant import Assistant
    from rag.generate import LlamaCpp, make_generator
    from rag.settings import Settings

    settings = Settings.from_env(index_dir=index_dir)
    s = settings
    recording = _Recording(make_generator(s.model, s.threads, s.api_model, s.api_key, s.timeout_s, s.seed))
    assistant = Assistant(settings, generator=recording)
    questions = seed_questions(int(n_questions))
    t0 = time.perf_counter()
    assistant.ask(questions[0])  # loads the embedder and the model: reported apart, not in the per-stage figures
    warmup_s = time.perf_counter() - t0
    stages: dict[str, list[float]] = {}
    pairs: list[tuple[_Call, dict[str, float]]] = []
    modes: dict[str, int] = {}
    for q in questions:
        before = len(recording.calls)
        t0 = time.perf_counter()
        answer = assistant.ask(q)
        total = time.perf_counter() - t0
        for stage, sec in {**answer.timings, "total": total}.items():
            stages.setdefault(stage, []).append(sec)
        modes[answer.mode] = modes.get(answer.mode, 0) + 1
        if len(recording.calls) > before:
            pairs.append((recording.calls[-1], answer.timings))
    out: dict[str, Any] = {"questions": len(questions), "model": recording.name, "warmup_first_answer_s": warmup_s,
                           "modes": modes, "stages_s": {k: percentiles(v) for k, v in stages.items()}}
    gen = recording.inner
    if isinstance(gen, LlamaCpp) and pairs:
        llm = gen.llm

        def count(text: str) -> int:
            return len(llm.tokenize(text.encode(), add_bos=False))

        pipe_tokens = pipe_s = raw_tokens = raw_s = same = 0
        pipe_first, raw_first = [], []
        for call, timings in pairs:
            text, first, total = raw_llama(gen, call)
            pipe_tokens += count(call.text)
            pipe_s += timings.get("generate", float("nan"))
            pipe_first.append(timings.get("first_token", float("nan")))
            raw_tokens += count(text)
            raw_s += total
            raw_first.append(first)
            same += text == call.text
        out["generation"] = {
            "calls": len(pairs), "same_output": same, "pipeline_tokens": pipe_tokens, "raw_tokens": raw_tokens,
            "pipeline_tokens_per_s": pipe_tokens / pipe_s, "raw_tokens_per_s": raw_tokens / raw_s,
            "ratio": (pipe_tokens / pipe_s) / (raw_tokens / raw_s),
            "pipeline_first_token_s": percentiles(pipe_first), "raw_first_token_s": percentiles(raw_first)}
    out["peak_rss_mb"] = peak_rss_mb()
    return out


# ---- 4. cold start -------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cold_ask(index_dir: Path, question: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "ask", question, "--index", str(index_dir)], cwd=ROOT,
                          text=True, capture_output=True, timeout=900, check=False)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "exit": proc.returncode, "answer": proc.stdout.strip().splitlines()[:1]}


def cold_ui(index_dir: Path, timeout_s: float = 180.0) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "ui.py"), "--port", str(port), "--index", str(index_dir)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < timeout_s and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        return {"ready_s": time.perf_counter() - t0, "port": port}
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        return {"ready_s": None, "error": f"no 200 within {timeout_s:.0f} s (exit {proc.poll()})"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- the run -------------------------------------------------------------------------------------------------------
class Table:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def title(self, text: str) -> None:
        self.lines += ["", text]

    def rows(self, header: list[str], rows: list[list[str]]) -> None:
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        for r in [header, *rows]:
            self.lines.append("  " + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                               for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())

    def text(self, line: str) -> None:
        self.lines.append("  " + line)

    def __str__(self) -> str:
        return "\n".join(self.lines)


def _f(x: float | None, digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


def main(args: argparse.Namespace) -> int:
    only = parse_only(getattr(args, "only", None))
    sizes = parse_sizes(args.sizes)
    out_path = Path(args.out)
    user_index = Path(args.index) if getattr(args, "index", None) else None

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    result: dict[str, Any] = {"command": " ".join(sys.argv), "sections": only, "machine": machine()}
    table = Table()
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp_name:
        tmp = Path(tmp_name)
        ingest_index: Path | None = None
        ingest = answer = None

        if "ingest" in only or "memory" in only:
            if not NEWS.is_dir():
                log(f"no news data at {NEWS}: skipping ingestion")
            else:
                records = news_records(args.articles)
                news_file = tmp / "news.jsonl"
                news_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                     encoding="utf-8")
                log(f"ingest: {len(records)} news articles in a fresh process (pipeline, then raw encode)...")
                ingest_index = tmp / "news-index"
                ingest = run_worker("ingest", str(news_file), str(ingest_index))
                result["ingest"] = ingest

        if "embedding" in only and NEWS.is_dir():
            log(f"embedding: {N_EMBED_QUESTIONS} RealTimeQA questions' articles, embedded four ways...")
            result["embedding"] = run_worker("embedding", str(N_EMBED_QUESTIONS))

        if "search" in only:
            log("search: preparing anchor and query vectors...")
            anchors, queries, data = search_vectors_source(ingest_index, args.articles, log)
            runs = []
            for n in sizes:
                t0 = time.perf_counter()
                runs.append(search_at(n, anchors, queries, tmp, log))
                log(f"  {n:>9,}: done in {time.perf_counter() - t0:.0f} s")
            result["search"] = {"data": data, "sizes": runs}

        seed_index = user_index
        if any(s in only for s in ("answer", "cold", "memory")) and seed_index is None:
            from rag.library import Library

            seed_index = tmp / "seed-index"
            Library(seed_index).ingest([SEEDS])
        if "answer" in only or "memory" in only:
            log(f"answer: {N_QUESTIONS} seed questions in a fresh process...")
            answer = run_worker("answer", str(seed_index), str(N_QUESTIONS))
            result["answer"] = answer
        if "cold" in only:
            log("cold: rag ask in a new process, then ui.py start-up...")
            result["cold"] = {"ask": cold_ask(seed_index, seed_questions(1)[0]), "ui": cold_ui(seed_index)}
        if "memory" in only:
            result["memory"] = {"ingest_peak_rss_mb": ingest and ingest["peak_rss_mb"],
                                "answer_peak_rss_mb": answer and answer["peak_rss_mb"]}

    result["machine"]["load_avg_end"] = os.getloadavg()
    render(result, table)
    print(table)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    print(f"\nwrote {out_path}")
    return 0


def render(result: dict[str, Any], table: Table) -> None:
    m = result["machine"]
    la0, la1 = m["load_avg_start"], m.get("load_avg_end", ("?",))
    table.lines.append(f"rag bench: {m['cpu']}, {m['usable_cores']} usable cores, {m['ram_gb']} GB RAM, "
                       f"python {m['python']}, faiss {m['versions']['faiss']}, torch {m['versions']['torch']}")
    table.lines.append(f"load average (1 min) {la0[0]:.1f} at start, {la1[0]:.1f} at end: above {m['usable_cores']} "
                       "means other work shared the cores and timings are noisy")
    ing = result.get("ingest")
    if ing and "ingest" in result["sections"]:
        table.title(f"Ingestion: {ing['articles']} RealTimeQA news articles ({ing['near_duplicates']} near-duplicates "
                    f"dropped), {ing['sentences']:,} sentences in {ing['chunks']:,} chunks")
        table.rows(["", "seconds", "sentences/s", "chunks/s"], [
            ["Library.ingest (load, dedupe, split, embed, save)", _f(ing["pipeline_s"], 1),
             _f(ing["pipeline_sentences_per_s"], 1), _f(ing["pipeline_chunks_per_s"], 1)],
            ["raw MiniLM encode, same chunk texts", _f(ing["raw_encode_s"], 1), _f(ing["raw_sentences_per_s"], 1),
             _f(ing["raw_chunks_per_s"], 1)],
        ])
        table.text(f"ratio pipeline / raw: {ing['ratio']:.2f} (aim >= 0.90); model load {ing['model_load_s']:.1f} s "
                   "(not counted)")
    emb = result.get("embedding")
    if emb:
        table.title(f"Embedding variants: {emb['chunks']:,} real news chunks from {emb['articles']} articles; "
                    f"{emb['questions']} RealTimeQA questions")
        table.rows(["variant", "seconds", "chunks/s", "recall@10 (gold article)", "top-10 agreement with old"],
                   [[r["variant"], _f(r["seconds"], 1), _f(r["chunks_per_s"], 1), _f(r["recall_at_10"], 2),
                     _f(r["top10_agreement_with_old"], 2)] for r in emb["variants"]])
        table.text("recall@10: share of questions with a chunk of a gold article among the 10 nearest chunks "
                   "(dense only). Agreement: overlap of each question's top 10 with the old default's.")
    srch = result.get("search")
    if srch:
        table.title("Search: one query at a time, k=10; recall@10 against exact search")
        table.text(srch["data"])
        rows = []
        for r in srch["sizes"]:
            for kind in ("exact", "ivf"):
                x = r[kind]
                used = "<- store" if r["store_uses"] == kind else ""
                rows.append([f"{r['n']:,}", x["index"], _f(x["build_s"], 1), _f(x["latency_ms"]["p50"]),
                             _f(x["latency_ms"]["p95"]), _f(x["recall_at_10"], 3),
                             _f(x.get("recall_at_10_random_queries"), 3), _f(x["bytes_per_vector"], 0), used])
        table.rows(["vectors", "index", "build s", "p50 ms", "p95 ms", "recall@10", "rnd-q rec", "B/vector", ""],
                   rows)
        table.text("rnd-q rec: recall@10 for 50 uniform random queries (worst case, not like questions). B/vector: "
                   "size written by save(); past the threshold the store keeps both indexes (exact + IVF).")
    ans = result.get("answer")
    if ans and "answer" in result["sections"]:
        table.title(f"Answering: {ans['questions']} seed questions, model {ans['model']}, warm process "
                    f"(first answer incl. model loads: {ans['warmup_first_answer_s']:.1f} s); modes {ans['modes']}")
        order = ["condense", "retrieve", "rank", "first_token", "generate", "verify", "total"]
        st = ans["stages_s"]
        table.rows(["stage (s)", "p50", "p95", "n"],
                   [[k, _f(st[k]["p50"], 3), _f(st[k]["p95"], 3), str(st[k]["n"])] for k in order if k in st])
        g = ans.get("generation")
        if g:
            table.rows(["generation, same prompts", "tokens", "tokens/s", "first token p50 s"], [
                ["pipeline (Assistant.ask)", str(g["pipeline_tokens"]), _f(g["pipeline_tokens_per_s"], 1),
                 _f(g["pipeline_first_token_s"]["p50"], 3)],
                ["raw llama.cpp create_completion", str(g["raw_tokens"]), _f(g["raw_tokens_per_s"], 1),
                 _f(g["raw_first_token_s"]["p50"], 3)],
            ])
            table.text(f"ratio pipeline / raw tokens/s: {g['ratio']:.2f}; same text {g['same_output']}/{g['calls']} "
                       "(tokens/s include prompt processing: answers are short)")
    cold = result.get("cold")
    if cold:
        table.title("Cold start")
        ui = cold["ui"]
        table.rows(["", "seconds"], [
            ["new process `rag ask` to first answer (exit " + str(cold["ask"]["exit"]) + ")",
             _f(cold["ask"]["wall_s"], 1)],
            ["`python ui.py` until / answers 200", _f(ui.get("ready_s"), 1) if ui.get("ready_s") else ui["error"]],
        ])
    mem = result.get("memory")
    if mem:
        table.title("Peak memory (VmHWM of a fresh process)")
        ing_n = f"{ing['articles']} articles" if ing else "-"
        table.rows(["", "MB"], [[f"ingestion ({ing_n}, incl. model)", _f(mem["ingest_peak_rss_mb"], 0)],
                                ["answering (seed index, MiniLM + gemma)", _f(mem["answer_peak_rss_mb"], 0)]])


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rag.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="reports/bench.json")
    p.add_argument("--articles", type=int, default=300, help="news articles to ingest (2 cores: ~3 s each)")
    p.add_argument("--sizes", default="10000,100000,1000000", help="vector counts for search, e.g. 10k,100k,1M")
    p.add_argument("--index", default=None, help="answer/cold sections use this index instead of one of seeds/")
    p.add_argument("--only", default=None, help=f"comma-separated sections: {','.join(SECTIONS)}")
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        kind, rest = args.worker[0], args.worker[1:]
        workers = {"ingest": worker_ingest, "answer": worker_answer, "embedding": worker_embedding}
        print(json.dumps(workers[kind](*rest)))
        return 0
    return main(args)


if __name__ == "__main__":
    sys.exit(cli())
