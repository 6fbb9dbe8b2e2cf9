"""`rag bench`: ingestion, search at scale, answering, cold start and peak memory, measured in one run.

Each measurement stands next to its raw limit measured in the same run (the embedder's own `encode` on the same
texts, llama.cpp's own completion on the same prompts), so the ratios say what the pipeline costs on top.

Sections (--only, comma-separated; default all), one module each in rag/evals/bench/:
    ingest  sentences/s of Library.ingest on real news text (RealTimeQA search results) vs raw MiniLM encode
    embedding  ways to embed faster (batch size, the numpy engine, int8 torch) on real news chunks: chunks/s and
            dense retrieval recall@10 of the gold article for RealTimeQA questions, each against the old default
    search  p50/p95 latency, recall@10 against exact search, build time and bytes/vector at each --sizes, for the
            exact index and the IVF index the store switches to past rag.ann.ANN_THRESHOLD vectors
    answer  per-stage p50/p95 of Assistant.ask over the seed questions; generation tokens/s vs raw llama.cpp
    cold    a new `rag ask` process to its first answer; `python ui.py` until its page answers 200
    memory  peak RSS (VmHWM) of an ingestion process and of an answering process

News text and questions come from the public data through rag.evals.datasets (../shared/evaldata, or
$RAG_EVALDATA); without it the news sections are skipped and search uses synthetic vectors.

On 2 cores MiniLM embeds ~16-30 chunks/s (~24 chunks per news article), and the ingest section embeds every
chunk twice (pipeline, then raw): ~3 s per article, so the default 300 articles take ~15 min; embedding ~10 min;
search at 10k,100k,1M ~3 min; answering ~1 min; cold start ~10 s.
    rag bench --out reports/bench.json                                    # full run (the one reported)
    rag bench --only search,answer --sizes 10k,100k                       # a quick subset
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from rag.evals.bench import answer, cold, embedding, ingest, memory, page, search
from rag.evals.bench.common import SEEDS, Table, fmt, log, machine, parse_sizes, seed_questions

SECTIONS = ("ingest", "embedding", "search", "answer", "cold", "memory", "page")
WORKERS = {"ingest": ingest.worker, "answer": answer.worker, "embedding": embedding.worker}


def parse_only(text: str | None) -> list[str]:
    chosen = [s.strip() for s in (text or "").split(",") if s.strip()] or list(SECTIONS)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        raise SystemExit(f"error: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return chosen


def main(args: argparse.Namespace) -> int:
    only = parse_only(getattr(args, "only", None))
    sizes = parse_sizes(args.sizes)
    out_path = Path(args.out)
    user_index = Path(args.index) if getattr(args, "index", None) else None
    result: dict[str, Any] = {"command": " ".join(sys.argv), "sections": only, "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp_name:
        tmp = Path(tmp_name)
        ingest_index: Path | None = None
        ing = ans = None
        if "ingest" in only or "memory" in only:
            ing, ingest_index = ingest.measure(args.articles, tmp, log)
            if ing:
                result["ingest"] = ing
        if "embedding" in only:
            emb = embedding.measure(log)
            if emb:
                result["embedding"] = emb
        if "search" in only:
            result["search"] = search.measure(ingest_index, args.articles, sizes, tmp, log)
        seed_index = user_index
        if any(s in only for s in ("answer", "cold", "memory", "page")) and seed_index is None:
            from rag.library import Library
            from rag.settings import Settings

            s = Settings()
            seed_index = tmp / "seed-index"
            Library(seed_index, chunk_sentences=s.chunk_sentences, chunk_overlap=s.chunk_overlap).ingest([SEEDS])
        if "answer" in only or "memory" in only:
            ans = result["answer"] = answer.measure(seed_index, log)
        if "cold" in only:
            result["cold"] = cold.measure(seed_index, log)
        if "memory" in only:
            result["memory"] = memory.collect(ing, ans)
        if "page" in only:
            result["page"] = page.page_vs_api(seed_index, seed_questions(5), log, rounds=3)

    result["machine"]["load_avg_end"] = os.getloadavg()
    table = Table()
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
    sections = result["sections"]
    if result.get("ingest") and "ingest" in sections:
        ingest.render(result["ingest"], table)
    if result.get("embedding"):
        embedding.render(result["embedding"], table)
    if result.get("search"):
        search.render(result["search"], table)
    if result.get("answer") and "answer" in sections:
        answer.render(result["answer"], table)
    if result.get("cold"):
        cold.render(result["cold"], table)
    if result.get("memory"):
        memory.render(result["memory"], result.get("ingest"), table)
    if result.get("page"):
        pg = result["page"]
        table.title("The page against the API (same questions, one run; target: page within 0.3 s)")
        table.rows(["API p50 s", "page p50 s", "median of page - API, s"],
                   [[fmt(pg.get("api_p50_s")), fmt(pg.get("page_p50_s")), fmt(pg.get("diff_p50_s"))]])


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rag.evals.bench", description=__doc__,
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
        print(json.dumps(WORKERS[kind](*rest)))
        return 0
    return main(args)
