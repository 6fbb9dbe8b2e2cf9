"""The index: a Store reads the committed state; a Writer (one at a time, under the folder's lock) changes it.

Layout of an index folder:
    store.sqlite3    articles (text, sentence offsets, sketch), chunks, keyword index, segments, tombstones, meta, log
    vectors/         seg-*.npy (+ .ids.npy): append-only vector segments; ann-*.faiss: IVF over the older segments
    write.lock       held by the one writer; says who it is
A write costs O(the change): new rows, one new segment. Readers see a commit as soon as it lands (`refresh`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import IndexMismatch, IndexNotFound, RagError
from rag.ingest.articles import Article
from rag.ingest.chunks import chunk_text
from rag.ingest.dedupe import NEAR_DUPLICATE, similarity
from rag.ingest.sentences import Sentence, split_sentences
from rag.store import db
from rag.store.ann import ANN_THRESHOLD, IvfIndex
from rag.store.keywords import FOLDER as KEYWORDS
from rag.store.keywords import Keywords, KeywordWriter
from rag.store.lock import WriterLock
from rag.store.segments import FOLDER, Segment, Vectors, read_segment, sync_folder, write_segment
from rag.text import content_words

log = logging.getLogger(__name__)

MAX_OPEN_SEGMENTS = 8  # past this many segments outside the ann, the writer merges them into one
# The ann is brought up to date once the segments outside it (scanned exactly on every search) hold a tenth of its
# size or 20,000 vectors, whichever is less: 20k x 384 floats scan in ~2 ms; rewriting a 1M ann costs ~2 s, against
# ~4 min to embed 20k chunks.
ANN_DELTA, ANN_DELTA_SHARE = 20_000, 0.1


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
class ArticleRow:
    """An article without its text, as listings show it."""

    id: str
    title: str
    date: str
    source: str
    url: str
    sentences: int


def _host(url: str) -> str:
    return re.sub(r"^[a-z]+://", "", url.lower()).split("/")[0]


def _signed(h: int) -> int:  # SQLite integers are signed 64-bit
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
        return kw.vocabulary() if kw is not None else []

    def __iter__(self) -> Iterator[str]:
        return (term for term, _ in self._vocabulary())

    def __len__(self) -> int:
        return len(self._vocabulary())

    def __bool__(self) -> bool:  # `idf or None` must not walk the vocabulary
        return self.n > 0


class Store:
    """The committed state of one index folder, read through one SQLite connection and memory-mapped vectors."""

    def __init__(self, index_dir: Path, ann_threshold: int = ANN_THRESHOLD) -> None:
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
        self.vectors = Vectors(self.index_dir / FOLDER, self.manifest.dim)
        self.keywords: Keywords | None = None
        self.generation = ""
        self._articles: OrderedDict[str, tuple[Article, list[Sentence]]] = OrderedDict()
        self._idf: Idf | None = None
        self._outlets: tuple[list[str], list[str]] | None = None
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
            for attempt in range(3):  # a merge may have removed a segment between reading the list and opening it
                meta, segments, dead = self._snapshot()
                try:
                    self.vectors.sync(segments, meta.get("ann", ""), int(meta.get("ann_upto", 0)), dead)
                    break
                except ValueError as e:
                    if attempt == 2 or meta.get("generation") == self.query(
                            "SELECT value FROM meta WHERE key = 'generation'")[0][0]:
                        raise db.damaged(self.index_dir, e) from e
            self.generation = meta.get("generation", "0")
            if self.keywords is None:
                self.keywords = Keywords.open(self.index_dir / KEYWORDS)
            else:
                self.keywords.reload()
            self._articles.clear()
            self._n_chunks = self.query("SELECT count(*) FROM chunks")[0][0]
            self._idf, self._outlets = None, None
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

    def close(self) -> None:
        with self._lock:
            self._conn.close()

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

    def sentence(self, sentence_id: str) -> Sentence:
        article_id, _, n = sentence_id.rpartition(":")
        return self.sentences(article_id)[int(n)]

    def has_article(self, article_id: str) -> bool:
        return bool(self.query("SELECT 1 FROM articles WHERE id = ?", (article_id,)))

    def content_hash(self, article_id: str) -> str | None:
        rows = self.query("SELECT hash FROM articles WHERE id = ?", (article_id,))
        return rows[0][0] if rows else None

    def article_rows(self) -> list[ArticleRow]:
        return [ArticleRow(*r) for r in self.query(
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
        return self.vectors.vector(chunk_id)

    def search_vectors(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        self.refresh()
        with self._lock:
            return self.vectors.search(query, k) if self._n_chunks else []

    def search_words(self, words: list[str], k: int) -> list[tuple[int, float]]:
        """Chunks by BM25 over the question's content words (any of them may match), best first. Ids of chunks
        not (or no longer) committed may come back: callers read the chunk rows and drop those."""
        self.refresh()
        with self._lock:
            kw = self.keywords
        return kw.search([w for w in words if w.strip()], k) if kw is not None and words else []

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

    def allowed(self, chunk_ids: list[int], sources: tuple[str, ...], date_from: str, date_to: str) -> set[int]:
        """The chunks among `chunk_ids` whose article passes the source and date filters."""
        where, args = ["c.id IN ({})".format(",".join("?" * len(chunk_ids)))], list(chunk_ids)
        if sources:
            where.append("a.source IN ({})".format(",".join("?" * len(sources))))
            args += sources
        if date_from:
            where.append("a.date != '' AND substr(a.date, 1, 10) >= ?")
            args.append(date_from)
        if date_to:
            where.append("a.date != '' AND substr(a.date, 1, 10) <= ?")
            args.append(date_to)
        if not chunk_ids:
            return set()
        sql = f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE {' AND '.join(where)}"
        return {r[0] for r in self.query(sql, tuple(args))}

    def stats(self) -> dict[str, int]:
        a, s = self.query("SELECT count(*), coalesce(sum(n_sentences), 0) FROM articles")[0]
        c = self.query("SELECT count(*) FROM chunks")[0][0]
        return {"articles": a, "sentences": s, "chunks": c, "vectors": self.vectors.total - len(self.vectors.dead)}

    # ---- writing -------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self, command: str = "", on_wait: Callable[[str], None] | None = None,
              lock_timeout_s: float = 3600.0) -> Iterator[Writer]:
        """A write transaction under the folder's writer lock: all of it is committed, or none of it."""
        writer = None
        try:
            with WriterLock(self.index_dir, command, lock_timeout_s, on_wait) as lock:
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


class Writer:
    """Changes to the index inside one SQLite transaction; vectors go to one new segment, written at commit."""

    def __init__(self, store: Store, command: str) -> None:
        self.store, self.command = store, command
        self.conn = db.connect(store.index_dir / db.DB_NAME, write=True)
        self.conn.execute("BEGIN IMMEDIATE")
        meta = db.read_meta(self.conn)
        self.generation = int(meta["generation"])
        self.next_chunk_id = int(meta["next_chunk_id"])
        self._vectors: list[np.ndarray] = []
        self._ids: list[np.ndarray] = []
        self._files: list[Path] = []  # segment files written by this transaction: removed if it fails
        self.added = self.updated = self.removed = 0
        self._gone: list[int] = []  # chunk ids removed by this transaction
        self._clean_orphans()
        rebuild = Keywords.open(store.index_dir / KEYWORDS) is None
        self.keywords = KeywordWriter(store.index_dir / KEYWORDS, self.next_chunk_id)
        if rebuild:
            self._rebuild_keywords()

    def q(self, sql: str, args: tuple = ()) -> list[tuple]:
        return self.conn.execute(sql, args).fetchall()

    # ---- reads inside the transaction (they see this writer's own changes) ---------------------------------------
    def content_hash(self, article_id: str) -> str | None:
        rows = self.q("SELECT hash FROM articles WHERE id = ?", (article_id,))
        return rows[0][0] if rows else None

    def find_duplicate(self, article_id: str, sketch: list[int]) -> str | None:
        """An article already stored that tells the same story (near-duplicate text), or None."""
        if not sketch:
            return None
        hashes = [_signed(h) for h in sketch]
        rows = self.q(f"SELECT article_id, count(*) AS n FROM minhash WHERE hash IN ({','.join('?' * len(hashes))}) "
                      "AND article_id != ? GROUP BY article_id ORDER BY n DESC LIMIT 5", (*hashes, article_id))
        for other, n in rows:
            if n < len(sketch) * NEAR_DUPLICATE / 2:
                break
            blob = self.q("SELECT sketch FROM articles WHERE id = ?", (other,))[0][0]
            if similarity(sketch, [int(h) for h in np.frombuffer(blob, dtype=np.uint64)]) >= NEAR_DUPLICATE:
                return other
        return None

    # ---- changes -------------------------------------------------------------------------------------------------
    def add(self, article: Article, sketch: list[int], spans: list[tuple[int, int]], vectors: np.ndarray,
            sentences: list[Sentence] | None = None) -> None:
        """Add (or replace) one article whose chunk windows `spans` were embedded into `vectors`; pass the
        article's `sentences` when they are already split (ingestion does), else they are split here."""
        ids = np.arange(self.next_chunk_id, self.next_chunk_id + len(spans), dtype=np.int64)
        self.next_chunk_id += len(spans)
        self.add_with_ids(article, sketch, spans, vectors, ids, sentences)

    def add_with_ids(self, article: Article, sketch: list[int], spans: list[tuple[int, int]], vectors: np.ndarray,
                     ids: np.ndarray, sentences: list[Sentence] | None = None) -> None:
        """`add` with the chunk ids given (ids never used before in this index: `rag upgrade` keeps the old ones)."""
        replacing = self.content_hash(article.id) is not None
        if replacing:
            self.remove(article.id)
            self.removed -= 1
        sents = sentences if sentences is not None else split_sentences(article.id, article.text)
        offsets = np.array([(s.start, s.end) for s in sents], dtype=np.int32).reshape(-1, 2)
        self.conn.execute("INSERT INTO articles (id, title, date, source, url, host, hash, n_sentences, added_at, "
                          "spans, sketch, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          (article.id, article.title, article.date, article.source, article.url, _host(article.url),
                           article.content_hash, len(sents), time.time(), offsets.tobytes(),
                           np.array(sketch, dtype=np.uint64).tobytes(), article.text))
        self.conn.executemany("INSERT INTO minhash VALUES (?, ?)", [(_signed(h), article.id) for h in sketch])
        self.conn.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?)",
                              [(int(cid), article.id, a, b) for cid, (a, b) in zip(ids, spans, strict=True)])
        for cid, (a, b) in zip(ids, spans, strict=True):
            self.keywords.add(int(cid), chunk_words(article.title, sents[a : b + 1]))
        if len(spans):
            self._vectors.append(np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(spans), -1))
            self._ids.append(ids)
        if replacing:
            self.updated += 1
        else:
            self.added += 1

    def remove(self, article_id: str) -> Article:
        rows = self.q("SELECT id, title, text, date, source, url, spans FROM articles WHERE id = ?", (article_id,))
        if not rows:
            raise RagError(f"No article with id {article_id!r} in the index. List ids with: rag list")
        aid, title, text, date, source, url, _ = rows[0]
        chunks = self.q("SELECT id FROM chunks WHERE article_id = ?", (aid,))
        self.conn.executemany("INSERT OR IGNORE INTO tombstones VALUES (?)", chunks)
        self._gone += [cid for (cid,) in chunks]
        self.conn.execute("DELETE FROM chunks WHERE article_id = ?", (aid,))
        self.conn.execute("DELETE FROM minhash WHERE article_id = ?", (aid,))
        self.conn.execute("DELETE FROM articles WHERE id = ?", (aid,))
        self.removed += 1
        return Article(aid, title, text, date, source, url)

    # ---- commit --------------------------------------------------------------------------------------------------
    def _bump(self) -> None:
        self.generation += 1
        self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                              [("generation", str(self.generation)), ("next_chunk_id", str(self.next_chunk_id))])

    def _new_segment(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        sid = self.q("SELECT coalesce(max(id), 0) + 1 FROM segments")[0][0]
        name = f"seg-{sid:06d}-{self.generation + 1:08d}"
        self._files += [self.folder / f"{name}.npy", self.folder / f"{name}.ids.npy"]
        write_segment(self.folder, name, vectors, ids)
        self.conn.execute("INSERT INTO segments VALUES (?, ?, ?)", (sid, name, len(ids)))

    @property
    def folder(self) -> Path:
        return self.store.index_dir / FOLDER

    def commit(self) -> None:
        if not (self.added or self.updated or self.removed):
            self.conn.execute("ROLLBACK")
            return
        if self._ids:
            self._new_segment(np.concatenate(self._vectors), np.concatenate(self._ids))
        if self.keywords.pending:
            self.keywords.commit()  # before the SQLite commit: see rag.store.keywords for why that is safe
        self.conn.execute("INSERT INTO ingest_log (at, pid, command, added, updated, removed) "
                          "VALUES (?, ?, ?, ?, ?, ?)",
                          (time.time(), os.getpid(), self.command, self.added, self.updated, self.removed))
        self._bump()
        self.conn.execute("COMMIT")
        self._files = []
        with contextlib.suppress(sqlite3.Error):  # the main file then holds every commit (read-only readers)
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if self._gone:  # after the commit; until then, or if this fails, readers drop them (no chunk row)
            try:
                self.keywords.delete(self._gone)
                self.keywords.commit()
            except OSError as e:
                log.warning("removed chunks stay in the keyword index until the next write: %s", e)

    def abort(self) -> None:
        self.keywords.rollback()
        with contextlib.suppress(sqlite3.Error):
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # give back the log space the failed write used
        for f in self._files:
            with contextlib.suppress(OSError):
                f.unlink(missing_ok=True)

    def close(self) -> None:
        self.keywords.close()
        self.conn.close()

    def _rebuild_keywords(self) -> None:
        """The keyword index from the chunks SQLite holds (it was missing or unreadable)."""
        n = 0
        for (aid,) in self.q("SELECT id FROM articles"):
            title, text, spans = self.q("SELECT title, text, spans FROM articles WHERE id = ?", (aid,))[0]
            pairs = np.frombuffer(spans, dtype=np.int32).reshape(-1, 2)
            sents = [Sentence(aid, i, int(s), int(e), text[s:e]) for i, (s, e) in enumerate(pairs)]
            for cid, a, b in self.q("SELECT id, first, last FROM chunks WHERE article_id = ?", (aid,)):
                self.keywords.add(cid, chunk_words(title, sents[a : b + 1]))
                n += 1
        if n:
            log.warning("rebuilt the keyword index from %d chunks", n)
            self.keywords.commit()

    def _clean_orphans(self) -> None:
        """Files in vectors/ that no commit names: left by a writer that died before its commit (we hold the lock,
        so no other writer is between writing a file and committing it)."""
        if not self.folder.is_dir():
            return
        named = {r[0] for r in self.q("SELECT name FROM segments")}
        ann = self.q("SELECT value FROM meta WHERE key = 'ann'")
        keep = {f"{n}.npy" for n in named} | {f"{n}.ids.npy" for n in named} | ({ann[0][0]} if ann else set())
        for p in self.folder.iterdir():
            if p.name not in keep:
                with contextlib.suppress(OSError):
                    p.unlink()

    # ---- merging (after the commit, in transactions of its own) ----------------------------------------------------
    def maintain(self) -> None:
        """Merge small segments, and keep the ann over the older ones up to date. A failure here loses nothing:
        the write is already committed, and the next writer tries again."""
        try:
            self.conn = db.connect(self.store.index_dir / db.DB_NAME, write=True)
            self._merge_open_segments()
            self._update_ann()
        except (OSError, sqlite3.Error, RuntimeError, ValueError) as e:
            log.warning("merging the index's vector segments failed (%s); the write itself is committed", e)
            self.abort()
        finally:
            self.conn.close()

    def _state(self) -> tuple[list[Segment], np.ndarray, dict[str, str]]:
        segs = [Segment(*r) for r in self.q("SELECT id, name, count FROM segments ORDER BY id")]
        dead = np.array([r[0] for r in self.q("SELECT chunk_id FROM tombstones")], dtype=np.int64)
        return segs, dead, db.read_meta(self.conn)

    def _merge(self, merged: list[Segment], dead: np.ndarray) -> None:
        """Replace `merged` by one segment without their removed rows (committed), then delete their files."""
        dim = self.store.manifest.dim
        parts = [read_segment(self.folder, s, dim) for s in merged]
        keep = [~np.isin(ids, dead) for _, ids in parts]
        vectors = np.concatenate([np.asarray(v)[m] for (v, _), m in zip(parts, keep, strict=True)])
        ids = np.concatenate([np.asarray(i)[m] for (_, i), m in zip(parts, keep, strict=True)])
        gone = np.concatenate([np.asarray(i)[~m] for (_, i), m in zip(parts, keep, strict=True)])
        self.conn.execute("BEGIN IMMEDIATE")
        self._new_segment(vectors, ids)
        self.conn.executemany("DELETE FROM segments WHERE id = ?", [(s.id,) for s in merged])
        self.conn.executemany("DELETE FROM tombstones WHERE chunk_id = ?", [(int(i),) for i in gone])
        # the merged segment takes the id of the first one it replaces: the ann's cover (ann_upto) stays valid
        new_id = self.q("SELECT max(id) FROM segments")[0][0]
        self.conn.execute("UPDATE segments SET id = ? WHERE id = ?", (merged[0].id, new_id))
        self._bump()
        self.conn.execute("COMMIT")
        self._files = []
        for s in merged:
            for suffix in (".npy", ".ids.npy"):
                (self.folder / f"{s.name}{suffix}").unlink(missing_ok=True)

    def _merge_open_segments(self) -> None:
        segs, dead, meta = self._state()
        upto = int(meta.get("ann_upto", 0))
        open_segs = [s for s in segs if s.id > upto]
        if len(open_segs) > MAX_OPEN_SEGMENTS:
            self._merge(open_segs, dead)

    def _update_ann(self) -> None:
        segs, dead, meta = self._state()
        live = sum(s.count for s in segs) - len(dead)
        old_name, upto = meta.get("ann", ""), int(meta.get("ann_upto", 0))
        if live < self.store.ann_threshold:
            if old_name:
                self._set_ann("", 0, old_name)
            return
        ann = IvfIndex.read(self.folder / old_name, mmap=False) if old_name else None
        outside = [s for s in segs if s.id > upto]
        delta = min(ANN_DELTA, max(1, ANN_DELTA_SHARE * ann.ntotal)) if ann is not None else 0
        if ann is not None and not ann.stale(live) and sum(s.count for s in outside) < delta:
            return  # the few newer vectors are searched exactly beside it
        dim = self.store.manifest.dim
        if ann is None or ann.stale(live):  # build afresh, over one compacted segment
            if len(segs) > 1 or len(dead):
                self._merge(segs, dead)
                segs, dead, _ = self._state()
            ann = IvfIndex.build([read_segment(self.folder, s, dim) for s in segs])
        else:  # bring it up to date: add the newer segments, drop removed chunks
            for seg in outside:
                vectors, ids = read_segment(self.folder, seg, dim)
                keep = ~np.isin(ids, dead)
                ann.add(np.asarray(vectors)[keep], np.asarray(ids)[keep])
            if len(dead):
                ann.remove(dead)
        name = f"ann-{self.generation + 1:08d}.faiss"
        self._files = [self.folder / name]
        ann.write(self.folder / name)
        sync_folder(self.folder)
        self._set_ann(name, max(s.id for s in segs), old_name)

    def _set_ann(self, name: str, upto: int, old_name: str) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [("ann", name), ("ann_upto", str(upto))])
        self._bump()
        self.conn.execute("COMMIT")
        self._files = []
        if old_name:
            (self.folder / old_name).unlink(missing_ok=True)


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
               ann_threshold: int = ANN_THRESHOLD) -> Store:
    """Open an index for reading (and writing through `Store.write`). Checks it was built by `embedder`."""
    store = Store(Path(index_dir), ann_threshold)
    m = store.manifest
    if embedder and (m.embedder != embedder or (dim and m.dim != dim)):
        store.close()
        raise IndexMismatch(f"The index at {index_dir} was built with embedder {m.embedder} (dim {m.dim}), but this "
                            f"run uses {embedder} (dim {dim}). Use the same embedder, or rebuild into a new folder "
                            "with: rag ingest PATH --index NEW_DIR")
    return store


def create(index_dir: Path, manifest: Manifest, ann_threshold: int = ANN_THRESHOLD,
           on_wait: Callable[[str], None] | None = None) -> Store:
    """Open the index, creating an empty one first when the folder holds none (safe against a racing creator)."""
    index_dir = Path(index_dir)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        with WriterLock(index_dir, on_wait=on_wait):
            if not exists(index_dir):
                if (index_dir / "CURRENT").is_file():
                    raise _not_found(index_dir)
                tmp = index_dir / f".{db.DB_NAME}.new-{os.getpid()}"
                try:
                    conn = db.connect(tmp, create=True)
                    db.create_schema(conn, {**manifest.meta(), "generation": "1", "next_chunk_id": "0"})
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    conn.close()
                    os.replace(tmp, index_dir / db.DB_NAME)
                    sync_folder(index_dir)
                finally:
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    except (OSError, sqlite3.Error) as e:
        raise _write_failed(index_dir, e) from e
    return Store(index_dir, ann_threshold)
