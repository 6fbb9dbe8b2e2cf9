"""The Writer: changes to an index inside one SQLite transaction, under the folder's writer lock (Store.write), and
the merging of vector segments and the IVF after each commit. The chunks' vectors and words go to the index's search
engine (rag.store.engine: the embedded segments + tantivy, or Milvus) through its EngineWriter."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from pathlib import Path

import numpy as np

from rag.errors import RagError
from rag.ingest.articles import Article
from rag.ingest.dedupe import NEAR_DUPLICATE, similarity
from rag.ingest.sentences import Sentence, split_sentences
from rag.store import db
from rag.store.ann import IvfIndex
from rag.store.segments import FOLDER, Segment, read_segment, sync_folder, write_segment
from rag.store.store import Store, chunk_words, signed64, url_host

log = logging.getLogger(__name__)

MAX_OPEN_SEGMENTS = 8  # past this many segments outside the ann, the writer merges them into one
# The ann is brought up to date once the segments outside it (scanned exactly on every search) hold a tenth of its
# size or 20,000 vectors, whichever is less (rough costs, not benchmarked apart: an exact scan of 20k x 384 floats
# takes milliseconds; rewriting a 1M ann takes seconds, against minutes to embed 20k chunks).
ANN_DELTA, ANN_DELTA_SHARE = 20_000, 0.1


class Writer:
    """Changes to the index inside one SQLite transaction; vectors go to one new segment, written at commit."""

    def __init__(self, store: Store, command: str) -> None:
        self.store, self.command = store, command
        self.conn = db.connect(store.index_dir / db.DB_NAME, write=True)
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(db.SENTENCE_VECTORS)
        meta = db.read_meta(self.conn)
        self.generation = int(meta["generation"])
        self.next_chunk_id = int(meta["next_chunk_id"])
        self._files: list[Path] = []  # segment files written by this transaction: removed if it fails
        self.added = self.updated = self.removed = 0
        self._gone: list[int] = []  # chunk ids removed by this transaction
        try:  # drops what a writer that died before its SQLite commit left in the engine
            self.engine = store.engine.writer(self)
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
                self.conn.close()
            raise

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
        hashes = [signed64(h) for h in sketch]
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
            sentences: list[Sentence] | None = None, sentence_vectors: np.ndarray | None = None) -> None:
        """Add (or replace) one article whose chunk windows `spans` were embedded into `vectors`; pass the
        article's `sentences` when they are already split (ingestion does), else they are split here, and their
        `sentence_vectors` (one row per sentence) when embedded (else questions embed them on the fly)."""
        ids = np.arange(self.next_chunk_id, self.next_chunk_id + len(spans), dtype=np.int64)
        self.next_chunk_id += len(spans)
        self.add_with_ids(article, sketch, spans, vectors, ids, sentences, sentence_vectors)

    def add_with_ids(self, article: Article, sketch: list[int], spans: list[tuple[int, int]], vectors: np.ndarray,
                     ids: np.ndarray, sentences: list[Sentence] | None = None,
                     sentence_vectors: np.ndarray | None = None) -> None:
        """`add` with the chunk ids given (ids never used before in this index: `rag upgrade` keeps the old ones)."""
        replacing = self._delete(article.id) is not None
        sents = sentences if sentences is not None else split_sentences(article.id, article.text)
        if sentence_vectors is not None:
            if len(sentence_vectors) != len(sents):
                raise ValueError(f"{len(sentence_vectors)} sentence vectors for {len(sents)} sentences of "
                                 f"article {article.id}")
            self.conn.execute("INSERT INTO sentence_vectors VALUES (?, ?)",
                              (article.id, np.asarray(sentence_vectors, dtype=np.float16).tobytes()))
        offsets = np.array([(s.start, s.end) for s in sents], dtype=np.int32).reshape(-1, 2)
        self.conn.execute("INSERT INTO articles (id, title, date, source, url, host, hash, n_sentences, added_at, "
                          "spans, sketch, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          (article.id, article.title, article.date, article.source, article.url, url_host(article.url),
                           article.content_hash, len(sents), time.time(), offsets.tobytes(),
                           np.array(sketch, dtype=np.uint64).tobytes(), article.text))
        self.conn.executemany("INSERT INTO minhash VALUES (?, ?)", [(signed64(h), article.id) for h in sketch])
        self.conn.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?)",
                              [(int(cid), article.id, a, b) for cid, (a, b) in zip(ids, spans, strict=True)])
        if len(spans):
            self.engine.add(np.asarray(ids, dtype=np.int64),
                            np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(spans), -1),
                            [chunk_words(article.title, sents[a : b + 1]) for a, b in spans])
        if replacing:
            self.updated += 1
        else:
            self.added += 1

    def remove(self, article_id: str) -> Article:
        article = self._delete(article_id)
        if article is None:
            raise RagError(f"No article with id {article_id!r} in the index. List ids with: rag list")
        self.removed += 1
        return article

    def _delete(self, article_id: str) -> Article | None:
        """Delete the article, its chunks and sketch (its vectors get tombstones); None when there is none."""
        rows = self.q("SELECT id, title, text, date, source, url FROM articles WHERE id = ?", (article_id,))
        if not rows:
            return None
        aid, title, text, date, source, url = rows[0]
        chunks = [cid for (cid,) in self.q("SELECT id FROM chunks WHERE article_id = ?", (aid,))]
        self.engine.delete(chunks)
        self._gone += chunks
        self.conn.execute("DELETE FROM chunks WHERE article_id = ?", (aid,))
        self.conn.execute("DELETE FROM minhash WHERE article_id = ?", (aid,))
        self.conn.execute("DELETE FROM sentence_vectors WHERE article_id = ?", (aid,))
        self.conn.execute("DELETE FROM articles WHERE id = ?", (aid,))
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
        self.engine.prepare()  # the additions are durable before the SQLite commit that names them
        self.conn.execute("INSERT INTO ingest_log (at, pid, command, added, updated, removed) "
                          "VALUES (?, ?, ?, ?, ?, ?)",
                          (time.time(), os.getpid(), self.command, self.added, self.updated, self.removed))
        self._bump()
        self.conn.execute("COMMIT")
        self._files = []
        with contextlib.suppress(sqlite3.Error):  # the main file then holds every commit (read-only readers)
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.engine.after_commit(self._gone)  # removals after the commit; until then readers drop them (no chunk row)

    def abort(self) -> None:
        self.engine.abort()
        with contextlib.suppress(sqlite3.Error):
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # give back the log space the failed write used
        for f in self._files:
            with contextlib.suppress(OSError):
                f.unlink(missing_ok=True)

    def close(self) -> None:
        self.engine.close()
        self.conn.close()

    # ---- merging (after the commit, in transactions of its own) ----------------------------------------------------
    def maintain(self) -> None:
        """Merge small segments, and keep the ann over the older ones up to date. A failure here loses nothing:
        the write is already committed, and the next writer tries again."""
        try:
            self.conn = db.connect(self.store.index_dir / db.DB_NAME, write=True)
            self.engine.maintain()  # embedded: _merge_open_segments, then _update_ann
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
