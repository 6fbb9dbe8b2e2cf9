"""Ingestion: files → articles → (dedupe) → chunks → vectors → a new index version on disk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag import store as store_mod
from rag.embed import Embedder
from rag.ingest.articles import Article, Skipped, iter_files, load_file
from rag.ingest.chunks import article_chunks
from rag.ingest.dedupe import DuplicateFinder, sketch
from rag.ingest.sentences import Sentence, split_sentences
from rag.settings import DEFAULTS
from rag.store import Store


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
                    progress: Callable[[int, int], None] | None = None) -> IngestSummary:
    """Add articles to the in-memory store; the caller saves. Embeds all new chunks in one batch."""
    summary = IngestSummary(skipped=list(skipped or []))
    finder = DuplicateFinder(store.sketches)
    todo: list[tuple[Article, list[int], list[Sentence], list[tuple[int, int]]]] = []
    texts: list[str] = []
    for art in articles:
        sk = sketch(art.text)
        old = store.articles.get(art.id)
        if old is not None and old.content_hash == art.content_hash:
            summary.unchanged.append(art.id)
            continue
        dup = finder.find(art.id, sk)
        if dup is not None and old is None:
            summary.duplicates.append((art.title, dup))
            continue
        (summary.updated if old is not None else summary.added).append(art.id)
        finder.add(art.id, sk)
        sentences = split_sentences(art.id, art.text)  # once: the chunks and the store share them
        spans, chunk_texts = article_chunks(art.title, sentences, store.manifest.chunk_sentences,
                                            store.manifest.chunk_overlap)
        todo.append((art, sk, sentences, spans))
        texts += chunk_texts
    vectors = _embed_with_progress(embedder, texts, progress)
    row = 0
    for art, sk, sentences, spans in todo:
        store.add(art, sk, spans, vectors[row : row + len(spans)], sentences)
        row += len(spans)
    n_sent = sum(len(sentences) for _, _, sentences, _ in todo)
    return IngestSummary(summary.added, summary.updated, summary.unchanged, summary.duplicates, summary.skipped,
                         n_sent, len(texts))


def _embed_with_progress(embedder: Embedder, texts: list[str], progress: Callable[[int, int], None] | None,
                         batch: int = 512) -> np.ndarray:
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
                   chunk_overlap: int = DEFAULTS.chunk_overlap) -> Store:
    if store_mod.exists(index_dir):
        return store_mod.load(index_dir, embedder.name, embedder.dim)
    return store_mod.new_store(embedder.name, embedder.dim, chunk_sentences, chunk_overlap)
