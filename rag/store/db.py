"""The SQLite file that is the index's system of record: schema, connections, and SQLite errors in plain words.

WAL mode: readers never wait for the writer and see each commit as a whole; one writer at a time (rag.store.lock).
The keyword index (rag.store.keywords) and the vector segments live beside it, named or rebuilt from it.
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
from pathlib import Path

from rag.errors import RagError

DB_NAME = "store.sqlite3"
FORMAT_VERSION = 2

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE articles (     -- the large columns last: a scan for listings never reads the text
    id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT NOT NULL, source TEXT NOT NULL, url TEXT NOT NULL,
    host TEXT NOT NULL, hash TEXT NOT NULL, n_sentences INTEGER NOT NULL, added_at REAL NOT NULL,
    spans BLOB NOT NULL,      -- int32 (start, end) pairs: sentence n is text[start:end]
    sketch BLOB NOT NULL,     -- uint64 MinHash sketch (rag.ingest.dedupe)
    text TEXT NOT NULL);
CREATE INDEX articles_source ON articles(source);
CREATE INDEX articles_host ON articles(host);
CREATE TABLE minhash (hash INTEGER NOT NULL, article_id TEXT NOT NULL);
CREATE INDEX minhash_hash ON minhash(hash);
CREATE INDEX minhash_article ON minhash(article_id);
CREATE TABLE sentence_vectors (article_id TEXT PRIMARY KEY, vectors BLOB NOT NULL);  -- float16, a row per sentence
CREATE TABLE chunks (id INTEGER PRIMARY KEY, article_id TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL);
CREATE INDEX chunks_article ON chunks(article_id);
CREATE TABLE segments (id INTEGER PRIMARY KEY, name TEXT NOT NULL, count INTEGER NOT NULL);
CREATE TABLE tombstones (chunk_id INTEGER PRIMARY KEY);  -- vectors still in a segment whose chunk is gone
CREATE TABLE ingest_log (id INTEGER PRIMARY KEY, at REAL NOT NULL, pid INTEGER NOT NULL, command TEXT NOT NULL,
                         added INTEGER NOT NULL, updated INTEGER NOT NULL, removed INTEGER NOT NULL);
"""
# Stores written before sentence vectors were kept lack the table: the first writer adds it; readers embed the
# sentences of articles without a row on the fly.
SENTENCE_VECTORS = ("CREATE TABLE IF NOT EXISTS sentence_vectors (article_id TEXT PRIMARY KEY, "
                    "vectors BLOB NOT NULL)")


def connect(path: Path, *, write: bool = False, create: bool = False) -> sqlite3.Connection:
    """A connection to the index database. Readers of a folder that cannot be written open it immutable (no WAL
    files can be made there; writers checkpoint after each commit, so the main file holds every commit)."""
    path = Path(path)
    if not create and not path.is_file():
        raise FileNotFoundError(path)
    if write or create or os.access(path.parent, os.W_OK):
        conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
        try:
            if write or create:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.OperationalError:
            if write or create:
                conn.close()
                raise
        return conn
    uri = f"file:{path}?immutable=1"
    return sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)


def create_schema(conn: sqlite3.Connection, meta: dict[str, str]) -> None:
    conn.execute("BEGIN")  # statements one by one: executescript would commit on its own
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.executemany("INSERT INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()])
    conn.execute("COMMIT")


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def reason(e: BaseException) -> str:
    """A short, plain reason for a failed write: SQLite's and faiss's messages mapped to the OS words users know."""
    text = str(e).strip().splitlines()[-1][:200] if str(e).strip() else type(e).__name__
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    low = text.lower()
    if "disk is full" in low or "no space" in low or re.search(r"\d+ requested and \d+ written", low):  # numpy's
        return os.strerror(errno.ENOSPC)  # short write
        return os.strerror(errno.ENOSPC)
    if "readonly" in low or "read-only" in low:
        return os.strerror(errno.EROFS)
    return text


def damaged(index_dir: Path, why: object) -> RagError:
    return RagError(f"The index at {index_dir} is damaged ({why}). Rebuild it from your article files into a new "
                    f"folder with: rag ingest PATH --index NEW_DIR (the damaged folder is left as it is).")
