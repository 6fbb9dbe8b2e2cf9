"""The Python API: one object over one index folder, used by the CLI, the UI and the eval runner."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag import store as store_mod
from rag.answer.retrieve import Evidence, Filters, Retriever
from rag.embed import Embedder, MiniLM
from rag.ingest.articles import Article
from rag.ingest.pipeline import IngestSummary, ingest_articles, load_paths, open_or_create
from rag.settings import DEFAULTS
from rag.store import Store


@dataclass(frozen=True)
class ArticleInfo:
    id: str
    title: str
    date: str
    source: str
    url: str
    sentences: int


@dataclass(frozen=True)
class Stats:
    articles: int
    sentences: int
    chunks: int
    bytes_on_disk: int


class Library:
    """Articles in an index folder. Reads are cheap; writes build a new index version atomically."""

    def __init__(self, index_dir: Path | str = "index", embedder: Embedder | None = None,
                 chunk_sentences: int = DEFAULTS.chunk_sentences, chunk_overlap: int = DEFAULTS.chunk_overlap,
                 top_chunks: int = DEFAULTS.top_chunks) -> None:
        self.index_dir = Path(index_dir)
        self.embedder = embedder or MiniLM()
        self.chunk_sentences, self.chunk_overlap, self.top_chunks = chunk_sentences, chunk_overlap, top_chunks
        self._store: Store | None = None
        self._retriever: Retriever | None = None
        self._lock = threading.RLock()

    # ---- state ---------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = store_mod.load(self.index_dir, self.embedder.name, self.embedder.dim)
            return self._store

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._retriever is None:
                self._retriever = Retriever(self.store, self.embedder, self.top_chunks)
            return self._retriever

    def _commit(self, store: Store) -> None:
        store_mod.save(store, self.index_dir)
        self._store, self._retriever = store, None

    # ---- writing -------------------------------------------------------------------------
    def ingest(self, paths: list[Path | str], progress: Callable[[int, int], None] | None = None) -> IngestSummary:
        articles, skipped = load_paths([Path(p) for p in paths])
        return self.add_articles(articles, skipped, progress)

    def add_articles(self, articles: list[Article], skipped: list | None = None,
                     progress: Callable[[int, int], None] | None = None) -> IngestSummary:
        with self._lock:
            # Work on a freshly loaded copy: if anything fails, the live store and the files are untouched.
            store = open_or_create(self.index_dir, self.embedder, self.chunk_sentences, self.chunk_overlap)
            summary = ingest_articles(store, articles, self.embedder, skipped, progress)
            if summary.added or summary.updated or not store_mod.exists(self.index_dir):
                self._commit(store)
            return summary

    def remove(self, article_id: str) -> Article:
        with self._lock:
            store = store_mod.load(self.index_dir, self.embedder.name, self.embedder.dim)
            removed = store.remove(article_id)
            self._commit(store)
            return removed

    # ---- reading -------------------------------------------------------------------------
    def articles(self) -> list[ArticleInfo]:
        s = self.store
        return [ArticleInfo(a.id, a.title, a.date, a.source, a.url, len(s.sentences[a.id]))
                for a in sorted(s.articles.values(), key=lambda a: (a.date, a.title))]

    def article(self, article_id: str) -> Article:
        return self.store.articles[article_id]

    def search(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Evidence]:
        return self.retriever.retrieve(query, filters, max_sentences=k).sentences

    def stats(self) -> Stats:
        st = self.store.stats()
        return Stats(st["articles"], st["sentences"], st["chunks"], store_mod.size_on_disk(self.index_dir))
