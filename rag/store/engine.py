"""The search engine seam: where an index's chunk vectors and chunk keyword words live, and how they are searched.

SQLite (rag.store.db) stays the system of record in every configuration: articles, their text and sentence
offsets (so a citation is always `text[start:end]`), sentence vectors, chunks, the manifest, the ingest log and the
writer lock. What is pluggable is the search engine over the chunks:

    embedded   vector segments (rag.store.segments, + the IVF of rag.store.ann) and a tantivy keyword index
               (rag.store.keywords), in the index folder; the default
    milvus     one Milvus collection per index (rag.store.milvus): dense vectors and BM25 full-text search, on a
               Milvus server (milvus://host:19530) or Milvus Lite (a path ending in .db)

The engine is chosen by the store setting (RAG_STORE, `parse_store`) when an index is created and recorded in its
SQLite meta (`engine`, `milvus_uri`, `milvus_collection`; an index without `engine` is embedded), so an index
opened later uses the engine it was built with, whatever the setting says when it is empty.

Reader side (`Engine`, one per Store):
    refresh(store) -> generation    match the committed state (called when the SQLite generation changed)
    search_vectors(query, k)        [(chunk_id, inner product)], best first, ties by id
    search_words(words, k)          [(chunk_id, BM25)] over any of the content words, best first
    vector(chunk_id), live()        one stored vector; how many vectors are stored (removed ones may linger)
    vectors, keywords               the engine's objects (Store.vectors / Store.keywords; keywords has df and
                                    vocabulary for the word rarity of rag.store.store.Idf)
    writer(w) -> EngineWriter       the writing side for one Writer transaction
    close()
Writer side (`EngineWriter`, one per Writer transaction, under the folder's lock):
    created at writer start: drops engine rows with ids >= the committed next_chunk_id (left by a writer that
    died between the engine write and the SQLite commit)
    add(ids, vectors, words)        chunks added by this transaction
    delete(ids)                     chunks removed by it (inside the SQLite transaction: tombstones, if any)
    prepare()                       just before the SQLite commit: make the additions durable
    after_commit(ids)               just after it: remove the removed chunks from the engine
    abort(), close(), maintain()    a failed transaction; the end of one; merging after the commit

Consistency, the same for both engines: additions are durable before the SQLite commit that names their chunks,
deletions are applied after it, and readers drop any hit whose chunk has no SQLite row (rag.answer.retrieve), so a
reader never shows an uncommitted chunk, and a crash between the two steps loses nothing committed.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.errors import IndexMismatch, RagError
from rag.ingest.sentences import Sentence
from rag.store import db
from rag.store.keywords import FOLDER as KEYWORDS
from rag.store.keywords import Keywords, KeywordWriter
from rag.store.segments import FOLDER, Vectors

if TYPE_CHECKING:
    from rag.store.store import Store
    from rag.store.writer import Writer

log = logging.getLogger(__name__)

SETTING = "RAG_STORE"
FORMS = ("'' or 'embedded' (the default: vectors and keywords in the index folder); milvus://host:19530, "
         "http://host:19530 or https://host (a Milvus server); milvus:///abs/path/file.db, milvus://./rel/file.db "
         "or any path ending in .db (Milvus Lite, one process at a time)")
MILVUS_PORT = 19530


@dataclass(frozen=True)
class Target:
    """What a store setting names: kind "embedded" (uri "") or "milvus" (a server URL or a Milvus Lite path)."""

    kind: str
    uri: str = ""

    @property
    def lite(self) -> bool:
        return self.kind == "milvus" and self.uri.endswith(".db")


def parse_store(value: str, setting: str = SETTING) -> Target:
    """The engine a store setting names (relative Milvus Lite paths are made absolute); RagError when it names
    nothing known."""
    raw = str(value or "").strip()
    if raw.lower() in ("", "embedded"):
        return Target("embedded")
    rest = raw[len("milvus://"):] if raw.lower().startswith("milvus://") else None
    if rest is not None and rest.endswith(".db") and len(rest) > 3:
        return Target("milvus", os.path.abspath(rest))  # milvus:///abs/x.db -> /abs/x.db; milvus://./x.db
    if rest is not None and rest and "/" not in rest.rstrip("/"):
        host, _, port = rest.rstrip("/").partition(":")
        if host and (not port or port.isdigit()):
            return Target("milvus", f"http://{host}:{port or MILVUS_PORT}")
    if raw.lower().startswith(("http://", "https://")) and len(raw.split("://", 1)[1].strip("/")) > 0:
        return Target("milvus", raw.rstrip("/"))
    if "://" not in raw and raw.endswith(".db") and len(raw) > 3:
        return Target("milvus", os.path.abspath(os.path.expanduser(raw)))
    raise RagError(f"{setting}={raw!r} names no known store. Use one of: {FORMS}.")


def describe(meta: dict[str, str]) -> str:
    if meta.get("engine", "embedded") == "embedded":
        return "the embedded store (vectors and keywords in the index folder)"
    return f"Milvus at {meta.get('milvus_uri')} (collection {meta.get('milvus_collection')})"


def open_engine(store: Store, meta: dict[str, str], setting: str = "") -> Engine:
    """The engine the index's meta records; IndexMismatch when an explicit setting names another one."""
    kind = meta.get("engine", "embedded")
    want = parse_store(setting) if str(setting or "").strip() else None
    if want is not None and (want.kind != kind or (kind == "milvus" and want.uri != meta.get("milvus_uri"))):
        raise IndexMismatch(f"The index at {store.index_dir} keeps its vectors in {describe(meta)}, but "
                            f"{SETTING}={setting!r}. Unset {SETTING} (the index knows where its vectors live) or set "
                            f"it to {meta.get('milvus_uri', 'embedded')!r}; to move the index to another store, "
                            f"ingest the articles into a new folder with: {SETTING}={setting} rag ingest PATH "
                            "--index NEW_DIR")
    if kind == "embedded":
        return EmbeddedEngine(store.index_dir, store.manifest.dim)
    if kind == "milvus":
        from rag.store.milvus import MilvusEngine

        return MilvusEngine(store, meta["milvus_uri"], meta["milvus_collection"], setting)
    raise IndexMismatch(f"The index at {store.index_dir} uses the search engine {kind!r}, which this version of rag "
                        "does not know. Upgrade rag (pip install -U rag-news), or rebuild the index into a new folder.")


class Engine(Protocol):
    name: str
    vectors: object
    keywords: object | None

    def refresh(self, store: Store) -> str: ...
    def search_vectors(self, query: np.ndarray, k: int) -> list[tuple[int, float]]: ...
    def search_words(self, words: list[str], k: int) -> list[tuple[int, float]]: ...
    def vector(self, chunk_id: int) -> np.ndarray: ...
    def vectors_of(self, chunk_ids: list[int]) -> dict[int, np.ndarray]: ...
    def live(self) -> int: ...
    def writer(self, w: Writer) -> EngineWriter: ...
    def close(self) -> None: ...


class EngineWriter(Protocol):
    def add(self, ids: np.ndarray, vectors: np.ndarray, words: list[str]) -> None: ...
    def delete(self, ids: list[int]) -> None: ...
    def prepare(self) -> None: ...
    def after_commit(self, ids: list[int]) -> None: ...
    def abort(self) -> None: ...
    def close(self) -> None: ...
    def maintain(self) -> None: ...


# ---- the embedded engine: vector segments (+ IVF) and tantivy, in the index folder ----------------------------------
class EmbeddedEngine:
    name = "embedded"

    def __init__(self, index_dir: Path, dim: int) -> None:
        self.index_dir = index_dir
        self.vectors = Vectors(index_dir / FOLDER, dim)
        self.keywords: Keywords | None = None

    def refresh(self, store: Store) -> str:
        for attempt in range(3):  # a merge may have removed a segment between reading the list and opening it
            meta, segments, dead = store._snapshot()
            try:
                self.vectors.sync(segments, meta.get("ann", ""), int(meta.get("ann_upto", 0)), dead)
                break
            except ValueError as e:
                if attempt == 2 or meta.get("generation") == store.query(
                        "SELECT value FROM meta WHERE key = 'generation'")[0][0]:
                    raise db.damaged(self.index_dir, e) from e
        if self.keywords is None:
            self.keywords = Keywords.open(self.index_dir / KEYWORDS)
        else:
            self.keywords.reload()
        return meta.get("generation", "0")

    def search_vectors(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        return self.vectors.search(query, k)

    def search_words(self, words: list[str], k: int) -> list[tuple[int, float]]:
        kw = self.keywords
        return kw.search(words, k) if kw is not None and words else []

    def vector(self, chunk_id: int) -> np.ndarray:
        return self.vectors.vector(chunk_id)

    def vectors_of(self, chunk_ids: list[int]) -> dict[int, np.ndarray]:
        return self.vectors.many(chunk_ids)

    def live(self) -> int:
        return self.vectors.total - len(self.vectors.dead)

    def writer(self, w: Writer) -> EmbeddedWriter:
        return EmbeddedWriter(w)

    def close(self) -> None:
        pass


class EmbeddedWriter:
    """One transaction's vectors (one new segment, written at commit) and keyword documents. The segment merging
    and IVF upkeep after the commit are the Writer's own methods (`_merge_open_segments`, `_update_ann`)."""

    def __init__(self, w: Writer) -> None:
        self.w = w
        self._vectors: list[np.ndarray] = []
        self._ids: list[np.ndarray] = []
        self._clean_orphans()
        folder = w.store.index_dir / KEYWORDS
        rebuild = Keywords.open(folder) is None
        self.keywords = KeywordWriter(folder, w.next_chunk_id)
        if rebuild:
            self._rebuild_keywords()

    def add(self, ids: np.ndarray, vectors: np.ndarray, words: list[str]) -> None:
        for cid, text in zip(ids, words, strict=True):
            self.keywords.add(int(cid), text)
        if len(ids):
            self._vectors.append(vectors)
            self._ids.append(ids)

    def delete(self, ids: list[int]) -> None:
        self.w.conn.executemany("INSERT OR IGNORE INTO tombstones VALUES (?)", [(cid,) for cid in ids])

    def prepare(self) -> None:
        if self._ids:
            self.w._new_segment(np.concatenate(self._vectors), np.concatenate(self._ids))
        if self.keywords.pending:
            self.keywords.commit()  # before the SQLite commit: see rag.store.keywords for why that is safe

    def after_commit(self, ids: list[int]) -> None:
        if not ids:
            return
        try:  # until then, or if this fails, readers drop them (no chunk row)
            self.keywords.delete(ids)
            self.keywords.commit()
        except OSError as e:
            log.warning("removed chunks stay in the keyword index until the next write: %s", e)

    def abort(self) -> None:
        self.keywords.rollback()

    def close(self) -> None:
        self.keywords.close()

    def maintain(self) -> None:
        self.w._merge_open_segments()
        self.w._update_ann()

    def _rebuild_keywords(self) -> None:
        """The keyword index from the chunks SQLite holds (it was missing or unreadable)."""
        from rag.store.store import chunk_words

        q, n = self.w.q, 0
        for (aid,) in q("SELECT id FROM articles"):
            title, text, spans = q("SELECT title, text, spans FROM articles WHERE id = ?", (aid,))[0]
            pairs = np.frombuffer(spans, dtype=np.int32).reshape(-1, 2)
            sents = [Sentence(aid, i, int(s), int(e), text[s:e]) for i, (s, e) in enumerate(pairs)]
            for cid, a, b in q("SELECT id, first, last FROM chunks WHERE article_id = ?", (aid,)):
                self.keywords.add(cid, chunk_words(title, sents[a : b + 1]))
                n += 1
        if n:
            log.warning("rebuilt the keyword index from %d chunks", n)
            self.keywords.commit()

    def _clean_orphans(self) -> None:
        """Files in vectors/ that no commit names: left by a writer that died before its commit (we hold the lock,
        so no other writer is between writing a file and committing it)."""
        folder = self.w.folder
        if not folder.is_dir():
            return
        named = {r[0] for r in self.w.q("SELECT name FROM segments")}
        ann = self.w.q("SELECT value FROM meta WHERE key = 'ann'")
        keep = {f"{n}.npy" for n in named} | {f"{n}.ids.npy" for n in named} | ({ann[0][0]} if ann else set())
        for p in folder.iterdir():
            if p.name not in keep:
                with contextlib.suppress(OSError):
                    p.unlink()
