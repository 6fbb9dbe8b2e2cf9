"""The `rag` command line. Every command takes --index DIR (default: index/)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rag.errors import RagError
from rag.settings import MAX_CAUTION, Settings


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(index_dir=getattr(args, "index", None), model=getattr(args, "model", None),
                             caution=getattr(args, "caution", None))


def _library(args: argparse.Namespace):  # noqa: ANN202
    from rag.library import Library

    s = _settings(args)
    return Library(s.index_dir, None, s.chunk_sentences, s.chunk_overlap, s.top_chunks, on_wait=_say,
                   embedder_variant=s.embedder_variant, store=s.store)


def _caution(raw: str) -> float:
    """--caution as argparse reads it: a number from 0 to MAX_CAUTION, or a message naming the flag (Settings checks
    the same range for RAG_CAUTION and the Python API)."""
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= MAX_CAUTION:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to {MAX_CAUTION:g}, e.g. --caution 0.1; "
                                         f"got {raw!r}")
    return value


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _progress(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    bar = "#" * filled + "." * (width - filled)
    print(f"\rembedding [{bar}] {done}/{total} chunks and sentences", end="", file=sys.stderr)
    if done >= total:
        print(file=sys.stderr)


def cmd_ingest(args: argparse.Namespace) -> int:
    summary = _library(args).ingest([Path(p) for p in args.paths], progress=_progress, engine=args.engine,
                                    address=args.address or "")
    print("\n".join(summary.lines()))
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    from rag.store.legacy import upgrade

    store = upgrade(_settings(args).index_dir, progress=_say)
    st = store.stats()
    print(f"format {store.manifest.format}: {st['articles']} articles, {st['chunks']} chunks")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    for a in _library(args).articles():
        print(f"{a.id}  {a.date[:10]:10}  {a.sentences:4} sentences  {a.title[:70]}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    art = _library(args).remove(args.id)
    print(f"removed {art.id}: {art.title}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from rag.answer.retrieve import Filters

    filters = Filters(tuple(args.source or ()), args.date_from or "", args.date_to or "")
    hits = _library(args).search(args.query, args.k, filters if (args.source or args.date_from or args.date_to)
                                 else None)
    for i, ev in enumerate(hits, 1):
        print(f"{i:2}. {ev.score:.3f}  {ev.sentence.id}  [{ev.article.title[:50]}]\n    {ev.sentence.text}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    lib = _library(args)
    st = lib.stats()
    m, engine = lib.store.manifest, lib.store.engine
    if engine.name == "milvus":
        where = f"vectors and keywords in Milvus at {engine.uri} (collection {engine.collection})"
    else:
        vectors = lib.store.vectors
        ivf = ", IVF over the older ones" if vectors.ann is not None else ""
        where = f"{len(vectors.segments)} vector segments{ivf}"
    print(f"articles {st.articles}\nsentences {st.sentences}\nchunks {st.chunks}\n"
          f"size on disk {st.bytes_on_disk / 1e6:.2f} MB\n"
          f"format {m.format}, embedder {m.embedder} ({m.embedder_variant}), {where}")
    return 0


def _print_answer(answer, as_json: bool) -> None:  # noqa: ANN001
    if as_json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
        return
    print(answer.text)
    cites = answer.citations or answer.closest
    if cites:
        print("\nClosest sentences:" if answer.refused else "\nSources:")
    for c in cites:
        print(f"  [{c.n}] {c.text}\n      — {c.title} ({c.sentence_id}, chars {c.start}-{c.end}, score {c.score:.2f})")


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.assistant import Assistant

    _print_answer(Assistant(_settings(args)).ask(args.question), args.json)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from rag.assistant import Assistant

    session = Assistant(_settings(args)).chat()
    print("Ask about the articles; an empty line quits.")
    while True:
        try:
            line = input("> ").strip()
        except EOFError:
            break
        if not line:
            break
        try:
            _print_answer(session.send(line), args.json)
        except RagError as e:
            print(f"error: {e}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.evals.run import main as eval_main

    return eval_main(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from rag.evals.bench.main import main as bench_main

    return bench_main(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, func, help: str) -> argparse.ArgumentParser:  # noqa: ANN001
        sp = sub.add_parser(name, help=help)
        sp.add_argument("--index", default=None, help="index folder (default: index/, or $RAG_INDEX_DIR)")
        sp.set_defaults(func=func)
        return sp

    sp = add("ingest", cmd_ingest, "add article files or folders to the index")
    sp.add_argument("paths", nargs="+")
    sp.add_argument("--engine", default="local", choices=["local", "ray"],
                    help="local (default), or ray: split and embed on Ray workers (pip install 'rag-news[ray]'); "
                         "the index gets the same content")
    sp.add_argument("--address", default=None,
                    help="with --engine ray: the Ray cluster to join (auto, HOST:6379, ray://HOST:10001; "
                         "start one with `ray start --head`); default: start Ray on this machine")
    add("list", cmd_list, "list the indexed articles")
    add("upgrade", cmd_upgrade, "migrate an index of format 1 (version folders) to the SQLite store, in place")
    sp = add("remove", cmd_remove, "remove an article and its vectors")
    sp.add_argument("id")
    sp = add("search", cmd_search, "ranked sentences for a query")
    sp.add_argument("query")
    sp.add_argument("-k", type=int, default=10)
    sp.add_argument("--source", action="append")
    sp.add_argument("--date-from")
    sp.add_argument("--date-to")
    add("stats", cmd_stats, "counts and size on disk")
    for name, func, help in (("ask", cmd_ask, "answer one question with cited sentences"),
                             ("chat", cmd_chat, "interactive multi-turn chat")):
        sp = add(name, func, help)
        if name == "ask":
            sp.add_argument("question")
        sp.add_argument("--model", default=None, help="gemma | smollm2 | path.gguf | http://server/v1")
        sp.add_argument("--json", action="store_true")
        sp.add_argument("--caution", type=_caution, default=None,
                        help=f"0 (default) to {MAX_CAUTION:g}: refuse more often, wrong and right answers alike "
                             "($RAG_CAUTION)")
    sp = add("eval", cmd_eval, "run a question set and score it")
    sp.add_argument("set_dir", help="a question-set folder, or a built-in name: seed, realtimeqa, realtimeqa-web, "
                                    "quail, rgb, rgb-refusal, absent, long, long-refusal")
    sp.add_argument("--model", default=None)
    sp.add_argument("--limit", type=int, default=0,
                    help="N questions only: a fixed sample of a built-in set (within --split), else the first N")
    sp.add_argument("--split", default="all", choices=["all", "dev", "test"],
                    help="built-in public sets: the fixed dev or test half (rag/evals/datasets/splits.py); "
                         "default all")
    sp.add_argument("--pipeline", default="ours", choices=["ours", "llamaindex"],
                    help="ours, or the baseline llama-index CitationQueryEngine")
    sp.add_argument("--report", default="reports", help="report folder")
    sp.add_argument("--no-gate", action="store_true", help="do not fail on thresholds")
    sp.add_argument("--replay", default=None, metavar="DIR",
                    help="re-check the drafts stored in an earlier report of this set (DIR/results.jsonl) instead "
                         "of writing new ones: a checker change measured in minutes (no latency figures)")
    sp = add("bench", cmd_bench, "benchmarks: ingestion, embedding, search at scale, answering, cold start, memory")
    sp.add_argument("--out", default="reports/bench.json")
    sp.add_argument("--articles", type=int, default=300, help="news articles to ingest (~3 s each on 2 cores)")
    sp.add_argument("--sizes", default="10000,100000,1000000")
    sp.add_argument("--only", default=None,
                    help="comma-separated sections: ingest,embedding,search,answer,cold,memory")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
