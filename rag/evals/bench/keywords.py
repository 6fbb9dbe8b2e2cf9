"""Why the keyword index is tantivy: SQLite FTS5 and tantivy over the same chunk words, one `OR` query of a question's
content words at a time, top 30. Run: python -m rag.evals.bench.keywords [--n 1000000] [--questions 60]

The chunk words are those of the RealTimeQA eval index (`rag eval realtimeqa`'s, built or reused), repeated until
there are --n rows (as rag/evals/bench/scale.py repeats the articles). Also measured: FTS5's `detail=column` and
`detail=none`, and FTS5 reading only the rarest words up to a budget of postings (its top 30 against the full one).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rag.text import content_words


def source_words() -> tuple[list[str], list[str]]:
    """(chunk words of every chunk of the RealTimeQA eval index, its answerable questions)."""
    from rag.evals.bench.scale import load_source
    from rag.store.store import chunk_words

    source, questions = load_source()
    docs = [chunk_words(art.title, sents[a : b + 1]) for art, _, sents, spans, _ in source for a, b in spans]
    return docs, questions


def timed(search, queries: list[list[str]]) -> tuple[dict[str, float], list[list[int]]]:  # noqa: ANN001
    ms, found = [], []
    for words in queries:
        t0 = time.perf_counter()
        found.append(search(words))
        ms.append((time.perf_counter() - t0) * 1000)
    return {"p50": statistics.median(ms), "p95": sorted(ms)[int(0.95 * (len(ms) - 1))]}, found


def fts5(folder: Path, docs: list[str], n: int, detail: str) -> sqlite3.Connection:
    conn = sqlite3.connect(folder / f"fts-{detail}.db")
    conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(words, content='', detail={detail}, "
                 "tokenize='unicode61 remove_diacritics 0')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row')")
    with conn:
        conn.executemany("INSERT INTO t (rowid, words) VALUES (?, ?)", ((i, docs[i % len(docs)]) for i in range(n)))
    return conn


def fts5_search(conn: sqlite3.Connection, words: list[str], k: int = 30) -> list[int]:
    match = " OR ".join('"' + w + '"' for w in words)
    return [r[0] for r in conn.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY rank LIMIT ?", (match, k))]


def rarest(conn: sqlite3.Connection, words: list[str], budget: int) -> list[str]:
    """The rarest words whose postings add up to at most `budget` (at least one word)."""
    df = {w: (conn.execute("SELECT doc FROM v WHERE term = ?", (w,)).fetchone() or (0,))[0] for w in words}
    keep, total = [], 0
    for w in sorted(words, key=df.get):
        if keep and total + df[w] > budget:
            break
        keep.append(w)
        total += df[w]
    return keep


def tantivy_index(folder: Path, docs: list[str], n: int):  # noqa: ANN201 - rag.store.keywords.Keywords
    from rag.store.keywords import Keywords, KeywordWriter

    writer = KeywordWriter(folder / "keywords", 0)
    for i in range(n):
        writer.add(i, docs[i % len(docs)])
    writer.commit()
    writer.close()
    return Keywords.open(folder / "keywords")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rag.evals.bench.keywords", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000, help="rows (chunks) in each index")
    p.add_argument("--questions", type=int, default=60)
    args = p.parse_args(argv)
    docs, questions = source_words()
    queries = [sorted(set(content_words(q))) for q in questions[: args.questions]]
    print(f"{args.n:,} rows from {len(docs):,} RealTimeQA chunks; {len(queries)} questions, top 30")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        kw = tantivy_index(folder, docs, args.n)
        build = time.perf_counter() - t0
        lat, _ = timed(lambda w: [c for c, _ in kw.search(w, 30)], queries)
        print(f"tantivy            build {build:5.0f} s  p50 {lat['p50']:7.1f} ms  p95 {lat['p95']:7.1f} ms")
        for detail in ("full", "column", "none"):
            t0 = time.perf_counter()
            conn = fts5(folder, docs, args.n, detail)
            build = time.perf_counter() - t0
            lat, full = timed(lambda w, c=conn: fts5_search(c, w), queries)
            print(f"FTS5 detail={detail:6} build {build:5.0f} s  p50 {lat['p50']:7.1f} ms  p95 {lat['p95']:7.1f} ms")
            if detail == "full":
                for budget in (200_000, 50_000):
                    lat, got = timed(lambda w, c=conn, b=budget: fts5_search(c, rarest(c, w, b)), queries)
                    overlap = statistics.mean(len(set(a) & set(b)) / max(1, len(a)) for a, b in zip(full, got,
                                                                                                    strict=True))
                    print(f"  rarest words up to {budget:,} postings: p50 {lat['p50']:7.1f} ms, "
                          f"top-30 overlap with the full query {overlap:.2f}")
            conn.close()
        shutil.rmtree(folder / "keywords", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
