"""The index: a Store reads the committed state; a Writer (rag.store.writer: one at a time, under the folder's
lock) changes it.

Layout of an index folder:
    store.sqlite3    articles (text, sentence offsets, sketch), chunks, segments, tombstones, meta, ingest log
    keywords/        the keyword index (tantivy), derived from the chunks
    vectors/         seg-*.npy (+ .ids.npy): append-only vector segments; ann-*.faiss: IVF over the older segments
    write.lock       held by the one writer; says who it is
A write costs O(the change): new rows, one new segment. Readers see a commit as soon as it lands (`refresh`).
keywords/ and vectors/ are the embedded search engine; an index created with a Milvus store setting keeps its chunk
vectors and words in a Milvus collection instead (rag.store.engine, rag.store.milvus); SQLite stays the record.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import math
import os
import re
import secrets
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import IndexMismatch, IndexNotFound, RagError
from rag.ingest.articles import Article
from rag.ingest.chunks import chunk_text
from rag.ingest.sentences import Sentence
from rag.store import db
from rag.store.ann import ANN_THRESHOLD
from rag.store.engine import Engine, open_engine, parse_store
from rag.store.lock import WriterLock
from rag.store.segments import Segment, sync_folder
from rag.text import content_words

if TYPE_CHECKING:
    from rag.store.writer import Writer

log = logging.getLogger(__name__)
_ISO_GLOB = "[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]*"  # an article date written as ISO ("2022-06-17T08:00Z")



@dataclass(frozen=True)
class Chunk:
    id: int
    article_id: str
    first: int  # first sentence ordinal (inclusive)
    last: int  # last sentence ordinal (inclusive)

    def sentence_ids(self) -> list[str]:
        return [f"{self.article_id}:{n}" for n in range(self.first, self.last + 1)]


@dataclass(frozen=True)
class Manifest:
    format: int
    embedder: str
    dim: int
    chunk_sentences: int
    chunk_overlap: int
    embedder_variant: str = "fp32"  # how the chunk vectors were computed (queries are embedded in fp32)

    def meta(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}

    @classmethod
    def from_meta(cls, meta: dict[str, str]) -> Manifest:
        return cls(int(meta["format"]), meta["embedder"], int(meta["dim"]), int(meta["chunk_sentences"]),
                   int(meta["chunk_overlap"]), meta.get("embedder_variant", "fp32"))


@dataclass(frozen=True)
class ArticleInfo:
    """An article without its text, as listings show it (`Library.articles`, `rag list`, the page's table)."""

    id: str
    title: str
    date: str
    source: str
    url: str
    sentences: int


def url_host(url: str) -> str:
    return re.sub(r"^[a-z]+://", "", url.lower()).split("/")[0]


def signed64(h: int) -> int:  # SQLite integers are signed 64-bit
    return h - (1 << 64) if h >= 1 << 63 else h


def chunk_words(title: str, sentences: list[Sentence]) -> str:
    """What the keyword index holds for a chunk: its content words, as retrieval tokenises questions."""
    return " ".join(content_words(chunk_text(title, sentences)))


def exists(index_dir: Path) -> bool:
    return (Path(index_dir) / db.DB_NAME).is_file()


def size_on_disk(index_dir: Path) -> int:
    return sum(p.stat().st_size for p in Path(index_dir).rglob("*") if p.is_file())


class Idf(Mapping[str, float]):
    """Keyword rarity of the index's words, read from the keyword index on demand (never loaded whole):
    log(1 + (n - df + 0.5) / (df + 0.5)) over chunks, as Okapi BM25 weighs a word."""

    def __init__(self, store: Store, n: int) -> None:
        self.store, self.n, self._cache = store, n, {}

    def _weight(self, df: int) -> float:
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def __getitem__(self, word: str) -> float:
        if word not in self._cache:
            kw = self.store.keywords
            df = kw.df(word) if kw is not None else 0
            self._cache[word] = self._weight(df) if df else None
        if self._cache[word] is None:
            raise KeyError(word)
        return self._cache[word]

    def _vocabulary(self) -> list[tuple[str, int]]:  # a walk of the whole dictionary: exports, training
        kw = self.store.keywords
        vocabulary = kw.vocabulary() if kw is not None else []
        self._cache.update((term, self._weight(df)) for term, df in vocabulary)  # dict(idf) then asks no more
        return vocabulary

    def __iter__(self) -> Iterator[str]:
        return (term for term, _ in self._vocabulary())

    def __len__(self) -> int:
        return len(self._vocabulary())

    def __bool__(self) -> bool:  # `idf or None` must not walk the vocabulary
        return self.n > 0


class Store:
    """The committed state of one index folder, read through one SQLite connection and memory-mapped vectors."""

    def __init__(self, index_dir: Path, ann_threshold: int = ANN_THRESHOLD, store: str = "") -> None:
        """`store`: the store setting (RAG_STORE); empty means whatever engine the index records."""
        self.index_dir = Path(index_dir)
        self.ann_threshold = ann_threshold
        self._lock = threading.RLock()
        try:
            self._conn = db.connect(self.index_dir / db.DB_NAME)
            meta = db.read_meta(self._conn)
        except FileNotFoundError:
            raise _not_found(self.index_dir) from None
        except sqlite3.DatabaseError as e:
            raise db.damaged(self.index_dir, f"{db.DB_NAME}: {e}") from e
        if int(meta.get("format", 0)) > db.FORMAT_VERSION:
            raise IndexMismatch(f"The index at {index_dir} has format {meta['format']}, newer than this version of "
                                f"rag understands ({db.FORMAT_VERSION}). Upgrade rag (pip install -U rag-news), or "
                                "rebuild the index into a new folder.")
        try:
            self.manifest = Manifest.from_meta(meta)
        except (KeyError, ValueError) as e:
            raise db.damaged(self.index_dir, f"{db.DB_NAME} has no valid manifest: {e}") from e
        try:
            self.engine: Engine = open_engine(self, meta, store)
        except BaseException:
            self._conn.close()
            raise
        self.generation = ""
        self._articles: OrderedDict[str, tuple[Article, list[Sentence]]] = OrderedDict()
        self._idf: Idf | None = None
        self._outlets: tuple[list[str], list[str]] | None = None
        self._newest: str | None = None  # the newest ISO article day, once read
        self._n_chunks = 0
        self.refresh()

    # ---- the committed state -------------------------------------------------------------------------------------
    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.OperationalError:
                raise  # locked, busy, a bad query: not damage
            except sqlite3.DatabaseError as e:  # "file is not a database", "database disk image is malformed"
                raise db.damaged(self.index_dir, f"{db.DB_NAME}: {e}") from e

    def refresh(self) -> bool:
        """Pick up what other processes committed since the last look (cheap when nothing changed)."""
        with self._lock:
            gen = self.query("SELECT value FROM meta WHERE key = 'generation'")
            gen = gen[0][0] if gen else "0"
            if gen == self.generation:
                return False
            self.generation = self.engine.refresh(self)
            self._articles.clear()
            self._n_chunks = self.query("SELECT count(*) FROM chunks")[0][0]
            self._idf, self._outlets, self._newest = None, None, None
            return True

    def _snapshot(self) -> tuple[dict[str, str], list[Segment], np.ndarray]:
        """Meta, segments and tombstones as of one commit (one read transaction)."""
        self._conn.execute("BEGIN")
        try:
            meta = dict(self.query("SELECT key, value FROM meta"))
            segments = [Segment(*r) for r in self.query("SELECT id, name, count FROM segments ORDER BY id")]
            dead = np.array([r[0] for r in self.query("SELECT chunk_id FROM tombstones")], dtype=np.int64)
        finally:
            self._conn.execute("COMMIT")
        return meta, segments, dead

    @property
    def vectors(self):  # noqa: ANN201 - the engine's vectors (embedded: rag.store.segments.Vectors)
        return self.engine.vectors

    @property
    def keywords(self):  # noqa: ANN201 - the engine's keyword index (embedded: Keywords, None until rebuilt)
        return self.engine.keywords

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self.engine.close()

    # ---- reading -------------------------------------------------------------------------------------------------
    def _load(self, article_id: str) -> tuple[Article, list[Sentence]]:
        with self._lock:
            hit = self._articles.get(article_id)
            if hit is not None:
                self._articles.move_to_end(article_id)
                return hit
            rows = self.query("SELECT id, title, text, date, source, url, spans FROM articles WHERE id = ?",
                              (article_id,))
            if not rows:
                raise KeyError(article_id)
            aid, title, text, date, source, url, spans = rows[0]
            art = Article(aid, title, text, date, source, url)
            pairs = np.frombuffer(spans, dtype=np.int32).reshape(-1, 2)
            sents = [Sentence(aid, n, int(s), int(e), text[s:e]) for n, (s, e) in enumerate(pairs)]
            self._articles[article_id] = (art, sents)
            if len(self._articles) > 512:
                self._articles.popitem(last=False)
            return art, sents

    def article(self, article_id: str) -> Article:
        """The article (KeyError when there is none by that id)."""
        return self._load(article_id)[0]

    def sentences(self, article_id: str) -> list[Sentence]:
        return self._load(article_id)[1]

    def sentence_vectors(self, article_id: str) -> np.ndarray | None:
        """The article's sentence vectors (float16, a row per sentence) as embedded at ingestion; None when it was
        stored without them (an index from before they were kept, or `rag upgrade`)."""
        try:
            rows = self.query("SELECT vectors FROM sentence_vectors WHERE article_id = ?", (article_id,))
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return None
            raise
        return np.frombuffer(rows[0][0], dtype=np.float16).reshape(-1, self.manifest.dim) if rows else None

    def sentence(self, sentence_id: str) -> Sentence:
        article_id, _, n = sentence_id.rpartition(":")
        return self.sentences(article_id)[int(n)]

    def has_article(self, article_id: str) -> bool:
        return bool(self.query("SELECT 1 FROM articles WHERE id = ?", (article_id,)))

    def content_hash(self, article_id: str) -> str | None:
        rows = self.query("SELECT hash FROM articles WHERE id = ?", (article_id,))
        return rows[0][0] if rows else None

    def article_rows(self) -> list[ArticleInfo]:
        return [ArticleInfo(*r) for r in self.query(
            "SELECT id, title, date, source, url, n_sentences FROM articles ORDER BY date, title")]

    def article_ids(self) -> list[str]:
        return [r[0] for r in self.query("SELECT id FROM articles ORDER BY rowid")]

    def chunks(self, ids: list[int] | None = None) -> dict[int, Chunk]:
        """Chunks by id (all of them when `ids` is None); ids removed meanwhile are left out."""
        if ids is None:
            rows = self.query("SELECT id, article_id, first, last FROM chunks ORDER BY id")
        else:
            rows = []
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                rows += self.query(f"SELECT id, article_id, first, last FROM chunks WHERE id IN "
                                   f"({','.join('?' * len(part))})", tuple(part))
        return {r[0]: Chunk(*r) for r in rows}

    def chunks_of(self, article_id: str) -> list[Chunk]:
        return [Chunk(*r) for r in self.query(
            "SELECT id, article_id, first, last FROM chunks WHERE article_id = ? ORDER BY id", (article_id,))]

    def chunk_text(self, chunk: Chunk) -> str:
        art, sents = self._load(chunk.article_id)
        return chunk_text(art.title, sents[chunk.first : chunk.last + 1])

    def vector(self, chunk_id: int) -> np.ndarray:
        return self.engine.vector(chunk_id)

    def vectors_of(self, chunk_ids: list[int]) -> dict[int, np.ndarray]:
        """The stored vectors of those chunks the engine holds, in one read."""
        return self.engine.vectors_of(chunk_ids)

    def search_vectors(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        self.refresh()
        with self._lock:
            return self.engine.search_vectors(query, k) if self._n_chunks else []

    def search_words(self, words: list[str], k: int) -> list[tuple[int, float]]:
        """Chunks by BM25 over the question's content words (any of them may match), best first. Ids of chunks
        not (or no longer) committed may come back: callers read the chunk rows and drop those."""
        self.refresh()
        with self._lock:
            engine = self.engine
        words = [w for w in words if w.strip()]
        return engine.search_words(words, k) if words else []

    @property
    def idf(self) -> Idf:
        with self._lock:
            if self._idf is None:
                self._idf = Idf(self, self._n_chunks)
            return self._idf

    def outlets(self) -> tuple[list[str], list[str]]:
        """(sources, URL hosts) of the library's articles."""
        with self._lock:
            if self._outlets is None:
                sources = [r[0] for r in self.query("SELECT DISTINCT source FROM articles")]
                hosts = [r[0] for r in self.query("SELECT DISTINCT host FROM articles")]
                self._outlets = (sources, hosts)
            return self._outlets

    def newest_date(self) -> str:
        """The day ("2022-08-24") of the newest article whose date is written as ISO, not after tomorrow (a page
        dated in the future is misdated); "" when none is."""
        with self._lock:
            if self._newest is None:
                tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
                rows = self.query(f"SELECT max(substr(date, 1, 10)) FROM articles WHERE date GLOB '{_ISO_GLOB}' "
                                  "AND substr(date, 1, 10) <= ?", (tomorrow,))
                self._newest = (rows[0][0] or "") if rows else ""
            return self._newest

    def allowed(self, chunk_ids: list[int], sources: tuple[str, ...], date_from: str, date_to: str,
                fresh_from: str = "") -> set[int]:
        """The chunks among `chunk_ids` whose article passes the source (or web host) and date filters (`fresh_from`:
        an article dated as ISO before that day is left out, an undated one kept; `rag.answer.recency`)."""
        if not chunk_ids:
            return set()
        where, args = _filter_sql(sources, date_from, date_to, fresh_from)
        where.append("c.id IN ({})".format(",".join("?" * len(chunk_ids))))
        sql = f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE {' AND '.join(where)}"
        return {r[0] for r in self.query(sql, (*args, *chunk_ids))}

    def matching(self, sources: tuple[str, ...], date_from: str, date_to: str, limit: int,
                 fresh_from: str = "") -> list[int] | None:
        """Every chunk whose article passes the filters, or None when more than `limit` do."""
        where, args = _filter_sql(sources, date_from, date_to, fresh_from)
        if not where:
            return None
        sql = (f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE {' AND '.join(where)} "
               f"ORDER BY c.id LIMIT {int(limit) + 1}")
        ids = [r[0] for r in self.query(sql, tuple(args))]
        return ids if len(ids) <= limit else None

    def stats(self) -> dict[str, int]:
        a, s = self.query("SELECT count(*), coalesce(sum(n_sentences), 0) FROM articles")[0]
        c = self.query("SELECT count(*) FROM chunks")[0][0]
        return {"articles": a, "sentences": s, "chunks": c, "vectors": self.engine.live()}

    # ---- writing -------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self, command: str = "", on_wait: Callable[[str], None] | None = None,
              lock_timeout_s: float = 3600.0) -> Iterator[Writer]:
        """A write transaction under the folder's writer lock: all of it is committed, or none of it."""
        writer = None
        try:
            with WriterLock(self.index_dir, command, lock_timeout_s, on_wait) as lock:
                from rag.store.writer import Writer  # the writer's module reads this one's helpers

                writer = Writer(self, lock.command)
                try:
                    yield writer
                    writer.commit()
                except BaseException:
                    writer.abort()
                    raise
                finally:
                    writer.close()
                writer.maintain()
        except (OSError, sqlite3.Error, RuntimeError) as e:
            raise _write_failed(self.index_dir, e) from e
        finally:
            self.refresh()


def _not_found(index_dir: Path) -> RagError:
    if (index_dir / "CURRENT").is_file():
        return IndexMismatch(f"The index at {index_dir} is in the old format (version folders, format 1). Upgrade it "
                             f"in place with: rag upgrade --index {index_dir} (the old files are kept in "
                             f"{index_dir}/format1-backup until you delete them).")
    return IndexNotFound(f"No index at {index_dir}/. Build it with: rag ingest seeds/ --index {index_dir}")


def _write_failed(index_dir: Path, e: BaseException) -> RagError:
    return RagError(f"Could not write the index at {index_dir}: {db.reason(e)}. The previous index is unchanged; "
                    "free disk space or fix the folder's permissions, then retry.")


def open_store(index_dir: Path, embedder: str | None = None, dim: int | None = None,
               ann_threshold: int = ANN_THRESHOLD, store: str = "") -> Store:
    """Open an index for reading (and writing through `Store.write`). Checks it was built by `embedder`, and, when
    `store` (the store setting, RAG_STORE) is given, that its vectors live where the setting says."""
    store = Store(Path(index_dir), ann_threshold, store)
    m = store.manifest
    if embedder and (m.embedder != embedder or (dim and m.dim != dim)):
        store.close()
        raise IndexMismatch(f"The index at {index_dir} was built with embedder {m.embedder} (dim {m.dim}), but this "
                            f"run uses {embedder} (dim {dim}). Use the same embedder, or rebuild into a new folder "
                            "with: rag ingest PATH --index NEW_DIR")
    return store


def create(index_dir: Path, manifest: Manifest, ann_threshold: int = ANN_THRESHOLD,
           on_wait: Callable[[str], None] | None = None, store: str = "") -> Store:
    """Open the index, creating an empty one first when the folder holds none (safe against a racing creator).
    `store` (RAG_STORE, rag.store.engine.parse_store) chooses the search engine of a new index: empty or
    "embedded" for the folder's own, a Milvus URI or Milvus Lite path for a new Milvus collection."""
    index_dir = Path(index_dir)
    target = parse_store(store)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        with WriterLock(index_dir, on_wait=on_wait):
            if not exists(index_dir):
                if (index_dir / "CURRENT").is_file():
                    raise _not_found(index_dir)
                tmp = index_dir / f".{db.DB_NAME}.new-{os.getpid()}"
                try:
                    engine = {}
                    if target.kind == "milvus":  # the collection first: a store that cannot reach it is not made
                        from rag.store.milvus import create_collection

                        engine = {"engine": "milvus", "milvus_uri": target.uri,
                                  "milvus_collection": f"rag_{secrets.token_hex(8)}"}
                        create_collection(target.uri, engine["milvus_collection"], manifest.dim, store)
                    conn = db.connect(tmp, create=True)
                    db.create_schema(conn, {**manifest.meta(), "generation": "1", "next_chunk_id": "0", **engine})
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    conn.close()
                    os.replace(tmp, index_dir / db.DB_NAME)
                    sync_folder(index_dir)
                finally:
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    except (OSError, sqlite3.Error) as e:
        raise _write_failed(index_dir, e) from e
    return Store(index_dir, ann_threshold, store)


def _filter_sql(sources: tuple[str, ...], date_from: str, date_to: str,
                fresh_from: str = "") -> tuple[list[str], list[str]]:
    """SQL conditions (on `articles a`) and their arguments for the source (or web host) and date filters."""
    where, args = [], []
    if sources:  # a source as stored ("CNN") or a web host ("www.cnn.com")
        marks = ",".join("?" * len(sources))
        where.append(f"(a.source IN ({marks}) OR a.host IN ({marks}))")
        args += [*sources, *sources]
    if date_from:
        where.append("a.date != '' AND substr(a.date, 1, 10) >= ?")
        args.append(date_from)
    if date_to:
        where.append("a.date != '' AND substr(a.date, 1, 10) <= ?")
        args.append(date_to)
    if fresh_from:  # an article whose date is not ISO is not judged
        where.append(f"(a.date NOT GLOB '{_ISO_GLOB}' OR substr(a.date, 1, 10) >= ?)")
        args.append(fresh_from)
    return where, args
