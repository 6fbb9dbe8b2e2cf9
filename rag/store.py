"""The persisted index: articles, sentence offsets, chunks and a FAISS index, written atomically.

Layout of an index folder:
    CURRENT              name of the live version folder (replaced atomically)
    v000007/manifest.json, articles.jsonl, chunks.json, vectors.faiss
A write builds a new version folder, then swaps CURRENT; a crash before the swap leaves the old one live.
A store of `ann_threshold` vectors or more also writes ann.faiss, an approximate (IVF) index over the same ids that
search uses instead of the exact one (see rag.ann); vectors.faiss stays the source of truth.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.ann import ANN_THRESHOLD, IvfIndex
from rag.errors import IndexMismatch, IndexNotFound, RagError
from rag.ingest.articles import Article
from rag.ingest.chunks import chunk_text
from rag.ingest.sentences import Sentence, split_sentences

FORMAT_VERSION = 1


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


@dataclass
class Store:
    """In-memory view of one index version. Mutate with add/remove, then `save`."""

    manifest: Manifest
    articles: dict[str, Article] = field(default_factory=dict)
    sketches: dict[str, list[int]] = field(default_factory=dict)
    sentences: dict[str, list[Sentence]] = field(default_factory=dict)
    chunks: dict[int, Chunk] = field(default_factory=dict)
    index: object = None  # faiss.IndexIDMap2
    next_chunk_id: int = 0
    ann_threshold: int = ANN_THRESHOLD  # from this many vectors on, search goes through `ann`
    ann: IvfIndex | None = field(default=None, repr=False, compare=False)
    _ann_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.index is None:
            import faiss

            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.manifest.dim))

    # ---- reading -------------------------------------------------------------------------
    def sentence(self, sentence_id: str) -> Sentence:
        article_id, _, n = sentence_id.rpartition(":")
        return self.sentences[article_id][int(n)]

    def chunk_text(self, chunk: Chunk) -> str:
        sents = self.sentences[chunk.article_id][chunk.first : chunk.last + 1]
        return chunk_text(self.articles[chunk.article_id].title, sents)

    def search_vectors(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        n = self.index.ntotal
        if n == 0:
            return []
        index = self.approximate() or self.index
        scores, ids = index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), min(k, n))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def approximate(self) -> IvfIndex | None:
        """The approximate index search uses once the store holds `ann_threshold` vectors (None below that).

        Built from the exact vectors on first need (or when stale), then kept in step by add/remove."""
        n = self.index.ntotal
        with self._ann_lock:
            if n < self.ann_threshold:
                self.ann = None
            elif self.ann is None or self.ann.stale(n):
                self.ann = None  # free the old one before building the new one
                self.ann = IvfIndex.build(self.index)
            return self.ann

    # ---- writing -------------------------------------------------------------------------
    def add(self, article: Article, sketch: list[int], spans: list[tuple[int, int]], vectors: np.ndarray,
            sentences: list[Sentence] | None = None) -> None:
        """Add (or replace) one article whose chunk windows `spans` were embedded into `vectors`; pass the
        article's `sentences` when they are already split (ingestion does), else they are split here."""
        if article.id in self.articles:
            self.remove(article.id)
        self.articles[article.id] = article
        self.sketches[article.id] = sketch
        self.sentences[article.id] = sentences if sentences is not None else split_sentences(article.id, article.text)
        ids = np.arange(self.next_chunk_id, self.next_chunk_id + len(spans), dtype=np.int64)
        self.next_chunk_id += len(spans)
        for cid, (first, last) in zip(ids, spans, strict=True):
            self.chunks[int(cid)] = Chunk(int(cid), article.id, first, last)
        if len(spans):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
            if self.ann is not None:
                self.ann.add(vectors, ids)

    def remove(self, article_id: str) -> Article:
        if article_id not in self.articles:
            raise RagError(f"No article with id {article_id!r} in the index. List ids with: rag list")
        ids = np.array([c.id for c in self.chunks.values() if c.article_id == article_id], dtype=np.int64)
        if len(ids):
            self.index.remove_ids(ids)
            if self.ann is not None:
                self.ann.remove(ids)
        for cid in ids:
            del self.chunks[int(cid)]
        del self.sentences[article_id]
        self.sketches.pop(article_id, None)
        return self.articles.pop(article_id)

    def stats(self) -> dict[str, int]:
        return {"articles": len(self.articles), "sentences": sum(len(s) for s in self.sentences.values()),
                "chunks": len(self.chunks), "vectors": int(self.index.ntotal)}


# ---- persistence ---------------------------------------------------------------------------
def load(index_dir: Path, embedder: str | None = None, dim: int | None = None,
         ann_threshold: int = ANN_THRESHOLD) -> Store:
    """Open the live version of an index. Checks the manifest against the embedder in use."""
    import faiss

    index_dir = Path(index_dir)
    current = index_dir / "CURRENT"
    if not current.exists():
        raise IndexNotFound(f"No index at {index_dir}/. Build it with: rag ingest seeds/ --index {index_dir}")
    version = index_dir / current.read_text().strip()
    try:
        raw = json.loads((version / "manifest.json").read_text())
        manifest = Manifest(**raw)
    except (OSError, ValueError, TypeError) as e:
        raise _damaged(index_dir, e) from e
    if manifest.format > FORMAT_VERSION:
        raise IndexMismatch(f"The index at {index_dir} has format {manifest.format}, newer than this version of rag "
                            f"understands ({FORMAT_VERSION}). Upgrade rag, or rebuild the index into a new folder.")
    if embedder and (manifest.embedder != embedder or (dim and manifest.dim != dim)):
        raise IndexMismatch(f"The index at {index_dir} was built with embedder {manifest.embedder} "
                            f"(dim {manifest.dim}), but this run uses {embedder} (dim {dim}). Use the same "
                            f"embedder, or rebuild into a new folder with: rag ingest PATH --index NEW_DIR")
    try:
        index = faiss.read_index(str(version / "vectors.faiss"))
    except RuntimeError as e:  # missing or truncated; faiss's own message is a C++ trace
        raise _damaged(index_dir, "vectors.faiss cannot be read") from e
    try:  # a truncated or damaged data file: invalid JSON, or records of the wrong shape
        store = _read_data(version, manifest, index)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        raise _damaged(index_dir, e) from e
    store.ann_threshold = ann_threshold
    if index.ntotal >= ann_threshold:  # a missing, damaged or out-of-step ann.faiss is rebuilt on first search
        approx = IvfIndex.read(version / "ann.faiss")
        if approx is not None and approx.ntotal == index.ntotal and approx.d == index.d:
            store.ann = approx
    return store


def _read_data(version: Path, manifest: Manifest, index: object) -> Store:
    store = Store(manifest=manifest, index=index)
    with open(version / "articles.jsonl", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            spans, sketch = rec.pop("spans"), rec.pop("sketch")
            art = Article(**rec)
            store.articles[art.id] = art
            store.sketches[art.id] = sketch
            store.sentences[art.id] = [Sentence(art.id, n, s, e, art.text[s:e]) for n, (s, e) in enumerate(spans)]
    chunks = json.loads((version / "chunks.json").read_text(encoding="utf-8"))
    store.next_chunk_id = chunks["next_id"]
    for cid, aid, first, last in chunks["chunks"]:
        store.chunks[cid] = Chunk(cid, aid, first, last)
    # A file cut at a line or record boundary still parses: check the parts agree with each other.
    if index.d != manifest.dim or index.ntotal != len(store.chunks):
        raise ValueError(f"vectors.faiss holds {index.ntotal} vectors of dim {index.d}, expected "
                         f"{len(store.chunks)} of dim {manifest.dim}")
    if any(c.article_id not in store.sentences or c.last >= len(store.sentences[c.article_id])
           for c in store.chunks.values()):
        raise ValueError("chunks.json refers to articles or sentences missing from articles.jsonl")
    return store


def _damaged(index_dir: Path, reason: object) -> RagError:
    return RagError(f"The index at {index_dir} is damaged ({reason}). Rebuild it with: rag ingest ... --index "
                    f"{index_dir}")


def exists(index_dir: Path) -> bool:
    return (Path(index_dir) / "CURRENT").exists()


def save(store: Store, index_dir: Path) -> Path:
    """Write a new version folder, fsync it, then atomically point CURRENT at it."""
    import faiss

    index_dir = Path(index_dir)
    tmp: Path | None = None  # the version being written, removed again if the save fails
    switched = False  # CURRENT already names the new version
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        previous = (index_dir / "CURRENT").read_text().strip() if (index_dir / "CURRENT").exists() else ""
        number = int(previous[1:]) + 1 if previous.startswith("v") else 1
        name = f"v{number:06d}"
        tmp = index_dir / f".tmp-{name}-{os.getpid()}-{time.time_ns()}"
        tmp.mkdir()
        (tmp / "manifest.json").write_text(json.dumps(store.manifest.__dict__, indent=1))
        with open(tmp / "articles.jsonl", "w", encoding="utf-8") as f:
            for art in store.articles.values():
                rec = dict(art.__dict__, spans=[[s.start, s.end] for s in store.sentences[art.id]],
                           sketch=store.sketches.get(art.id, []))
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        chunks = [[c.id, c.article_id, c.first, c.last] for c in store.chunks.values()]
        (tmp / "chunks.json").write_text(json.dumps({"next_id": store.next_chunk_id, "chunks": chunks}))
        faiss.write_index(store.index, str(tmp / "vectors.faiss"))
        approx = store.approximate()  # built here past the threshold, so readers open it ready
        if approx is not None:
            approx.write(tmp / "ann.faiss")
        _fsync_dir(tmp)
        final = index_dir / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        tmp = final  # not yet current: a failure from here on removes it too
        pointer = index_dir / f".CURRENT-{os.getpid()}"
        pointer.write_text(name)
        _fsync_file(pointer)
        os.replace(pointer, index_dir / "CURRENT")
        switched, tmp = True, None
        _fsync_dir(index_dir)
    except (OSError, RuntimeError) as e:  # faiss reports a failed write (e.g. a full disk) as RuntimeError
        if switched:
            raise RagError(f"The index at {index_dir} was written, but syncing its folder to disk failed ({e}); "
                           "it is in use, and a power cut now could lose the last change.") from e
        if tmp is not None:  # a half-written version must not keep holding the space a retry needs
            shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(OSError):
            (index_dir / f".CURRENT-{os.getpid()}").unlink(missing_ok=True)
        reason = getattr(e, "strerror", None) or str(e).strip().splitlines()[-1][:200]
        raise RagError(f"Could not write the index at {index_dir}: {reason}. The previous index is "
                       "unchanged; free disk space or fix the folder's permissions, then retry.") from e
    _cleanup(index_dir, keep=name)
    return final


def _cleanup(index_dir: Path, keep: str) -> None:
    for p in index_dir.iterdir():
        if p.is_dir() and p.name != keep and (p.name.startswith("v") or p.name.startswith(".tmp-")):
            shutil.rmtree(p, ignore_errors=True)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    for p in path.iterdir():
        if p.is_file():
            _fsync_file(p)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def size_on_disk(index_dir: Path) -> int:
    return sum(p.stat().st_size for p in Path(index_dir).rglob("*") if p.is_file())


def new_store(embedder: str, dim: int, chunk_sentences: int, chunk_overlap: int,
              ann_threshold: int = ANN_THRESHOLD) -> Store:
    return Store(Manifest(FORMAT_VERSION, embedder, dim, chunk_sentences, chunk_overlap), ann_threshold=ann_threshold)
