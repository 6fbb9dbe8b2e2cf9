"""Ingestion: files → articles → (dedupe) → chunks → vectors → committed to the index, a batch at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag import store as store_mod
from rag.embed import Embedder
from rag.ingest.articles import Article, Skipped, iter_files, load_file
from rag.ingest.chunks import article_chunks
from rag.ingest.dedupe import sketch
from rag.ingest.sentences import Sentence, split_sentences
from rag.settings import DEFAULTS
from rag.store import Manifest, Store

BATCH_ARTICLES = 1000  # articles per commit: a crash loses at most the batch in progress, never part of one
EMBED_BATCH = 512  # texts per call to the embedder (a call of at most 64 runs numpy fp32: MiniLM.uses_numpy)


@dataclass(frozen=True)
class IngestSummary:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (new title, id of the article kept)
    skipped: list[Skipped] = field(default_factory=list)
    sentences: int = 0
    chunks: int = 0

    def lines(self) -> list[str]:
        out = [f"added {len(self.added)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}, "
               f"near-duplicates {len(self.duplicates)}, skipped {len(self.skipped)}; "
               f"{self.sentences} sentences in {self.chunks} chunks embedded"]
        out += [f"  duplicate: {title!r} is the same story as article {kept}" for title, kept in self.duplicates]
        out += [f"  skipped: {s.path}: {s.reason}" for s in self.skipped]
        return out


def ingest_articles(store: Store, articles: list[Article], embedder: Embedder, skipped: list[Skipped] | None = None,
                    progress: Callable[[int, int], None] | None = None, command: str = "",
                    on_wait: Callable[[str], None] | None = None, batch: int = BATCH_ARTICLES,
                    embed_batch: int = EMBED_BATCH) -> IngestSummary:
    """Add articles to the index, `batch` articles per commit. Splitting and embedding happen outside the writer
    lock; under it, each article is checked again (another writer may have added it meanwhile) and written.
    (rag.ingest.distributed does the same on Ray workers, with the same batches, so it stores the same vectors.)"""
    total = IngestSummary(skipped=list(skipped or []))
    n_chunks = 0
    for start in range(0, len(articles), batch):
        part = articles[start : start + batch]
        todo, texts, unchanged = _plan(store, part)
        vectors = _embed_with_progress(embedder, texts, _offset(progress, n_chunks), embed_batch)
        n_chunks += len(texts)
        total = add_up(total, _write(store, todo, vectors, command, on_wait), unchanged)
    return total


def add_up(total: IngestSummary, part: IngestSummary, unchanged: list[str] | None = None) -> IngestSummary:
    """`total` and one more committed batch (`unchanged`: its articles found unchanged before embedding)."""
    return IngestSummary(total.added + part.added, total.updated + part.updated,
                         total.unchanged + (unchanged or []) + part.unchanged, total.duplicates + part.duplicates,
                         total.skipped, total.sentences + part.sentences, total.chunks + part.chunks)


def _offset(progress: Callable[[int, int], None] | None, base: int) -> Callable[[int, int], None] | None:
    """Progress of one batch reported as progress of the whole run so far."""
    return (lambda done, of: progress(base + done, base + of)) if progress else None


Planned = tuple[Article, list[int], list[Sentence], list[tuple[int, int]]]


def _plan(store: Store, articles: list[Article]) -> tuple[list[Planned], list[str], list[str]]:
    """What to embed: articles new or changed since the last commit (one of a repeated id: the last). The texts
    are each article's chunks then its sentences (questions rank sentences by the stored sentence vectors)."""
    todo: dict[str, Planned] = {}
    texts: dict[str, list[str]] = {}
    unchanged: list[str] = []
    m = store.manifest
    for art in articles:
        if store.content_hash(art.id) == art.content_hash:
            unchanged.append(art.id)
            continue
        todo.pop(art.id, None)
        todo[art.id], texts[art.id] = prepare(art, m.chunk_sentences, m.chunk_overlap)
    return list(todo.values()), [t for aid in todo for t in texts[aid]], unchanged


def prepare(art: Article, chunk_sentences: int, chunk_overlap: int) -> tuple[Planned, list[str]]:
    """One article's work before embedding, pure (Ray workers run it too): its sentences, chunks and MinHash
    sketch, and the texts to embed: its chunks, then its sentences."""
    sentences = split_sentences(art.id, art.text)  # once: the chunks and the store share them
    spans, chunk_texts = article_chunks(art.title, sentences, chunk_sentences, chunk_overlap)
    return (art, sketch(art.text), sentences, spans), chunk_texts + [s.text for s in sentences]


def _write(store: Store, todo: list[Planned], vectors: np.ndarray, command: str,
           on_wait: Callable[[str], None] | None) -> IngestSummary:
    out = IngestSummary()
    if not todo:
        return out
    row = n_sent = n_chunks = 0
    with store.write(command, on_wait) as w:
        for art, sk, sentences, spans in todo:
            vecs, row = vectors[row : row + len(spans)], row + len(spans)
            sent_vecs, row = vectors[row : row + len(sentences)], row + len(sentences)
            old = w.content_hash(art.id)
            if old == art.content_hash:  # another writer added it while we embedded
                out.unchanged.append(art.id)
                continue
            dup = w.find_duplicate(art.id, sk) if old is None else None
            if dup is not None:
                out.duplicates.append((art.title, dup))
                continue
            w.add(art, sk, spans, vecs, sentences, sent_vecs)
            (out.updated if old is not None else out.added).append(art.id)
            n_sent, n_chunks = n_sent + len(sentences), n_chunks + len(spans)
    return IngestSummary(out.added, out.updated, out.unchanged, out.duplicates, [], n_sent, n_chunks)


def _embed_with_progress(embedder: Embedder, texts: list[str], progress: Callable[[int, int], None] | None,
                         batch: int = EMBED_BATCH) -> np.ndarray:
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    parts = []
    for i in range(0, len(texts), batch):
        parts.append(embedder.embed(texts[i : i + batch]))
        if progress:
            progress(min(i + batch, len(texts)), len(texts))
    return np.concatenate(parts)


def load_paths(paths: list[Path]) -> tuple[list[Article], list[Skipped]]:
    articles: list[Article] = []
    skipped: list[Skipped] = []
    for item in iter_files([Path(p) for p in paths]):
        if isinstance(item, Skipped):
            skipped.append(item)
            continue
        arts, skips = load_file(item)
        articles += arts
        skipped += skips
    return articles, skipped


def open_or_create(index_dir: Path, embedder: Embedder, chunk_sentences: int = DEFAULTS.chunk_sentences,
                   chunk_overlap: int = DEFAULTS.chunk_overlap, variant: str = "fp32",
                   on_wait: Callable[[str], None] | None = None, store: str = DEFAULTS.store) -> Store:
    """The index in `index_dir`, created empty when there is none (its search engine chosen by `store`, the
    RAG_STORE setting); refuses one built by another embedder."""
    if store_mod.exists(index_dir):
        return store_mod.open_store(index_dir, embedder.name, embedder.dim, store=store)
    manifest = Manifest(store_mod.FORMAT_VERSION, embedder.name, embedder.dim, chunk_sentences, chunk_overlap, variant)
    st = store_mod.create(index_dir, manifest, on_wait=on_wait, store=store)
    if st.manifest.embedder != embedder.name or st.manifest.dim != embedder.dim:  # a racing creator's
        st.close()
        return store_mod.open_store(index_dir, embedder.name, embedder.dim, store=store)
    return st
