"""The Python API: one object over one index folder, used by the CLI, the UI and the eval runner."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag import store as store_mod
from rag.answer.retrieve import Evidence, Filters, Retriever
from rag.embed import Embedder, MiniLM
from rag.errors import RagError
from rag.ingest.articles import Article
from rag.ingest.pipeline import IngestSummary, ingest_articles, load_paths, open_or_create
from rag.settings import DEFAULTS
from rag.store import ArticleInfo, Store
from rag.store.engine import parse_store


@dataclass(frozen=True)
class Stats:
    articles: int
    sentences: int
    chunks: int
    bytes_on_disk: int


class Library:
    """Articles in an index folder. Reads see every commit, by this process or another; writes are committed
    whole, one writer at a time (a waiting writer is told who it waits for through `on_wait`)."""

    def __init__(self, index_dir: Path | str = "index", embedder: Embedder | None = None,
                 chunk_sentences: int = DEFAULTS.chunk_sentences, chunk_overlap: int = DEFAULTS.chunk_overlap,
                 top_chunks: int = DEFAULTS.top_chunks, on_wait: Callable[[str], None] | None = None,
                 embedder_variant: str = DEFAULTS.embedder_variant, store: str = DEFAULTS.store) -> None:
        """Without an `embedder`, the packaged MiniLM embeds chunks in `embedder_variant` for a new index, and in
        the variant an existing index records (its manifest), so one index never mixes the two. `store` (RAG_STORE)
        chooses where a new index keeps its vectors and keywords (rag.store.engine.parse_store: the folder, a
        Milvus server, Milvus Lite); an existing index uses the engine it records, and a setting naming another
        is an error."""
        if str(store or "").strip():
            parse_store(store)  # a setting that names nothing known fails here, naming RAG_STORE and the forms
        self.index_dir = Path(index_dir)
        self.store_setting = store
        self._own_embedder = embedder is None
        self.embedder = embedder or MiniLM(variant=embedder_variant)
        self.chunk_sentences, self.chunk_overlap, self.top_chunks = chunk_sentences, chunk_overlap, top_chunks
        self.on_wait = on_wait
        self._store: Store | None = None
        self._retriever: Retriever | None = None
        self._lock = threading.RLock()

    # ---- state ---------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._opened(store_mod.open_store(self.index_dir, self.embedder.name, self.embedder.dim,
                                                  store=self.store_setting))
            return self._store

    def _opened(self, store: Store) -> None:
        self._store = store
        variant = store.manifest.embedder_variant
        if self._own_embedder and getattr(self.embedder, "variant", variant) != variant:
            self.embedder = MiniLM(variant=variant)

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._retriever is None:
                self._retriever = Retriever(self.store, self.embedder, self.top_chunks)
            return self._retriever

    def _writable(self) -> Store:
        with self._lock:
            if self._store is None:
                self._opened(open_or_create(self.index_dir, self.embedder, self.chunk_sentences, self.chunk_overlap,
                                            getattr(self.embedder, "variant", "fp32"), self.on_wait,
                                            self.store_setting))
            return self._store

    def close(self) -> None:
        """Close the index's files (the library opens them again on next use)."""
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store, self._retriever = None, None

    # ---- writing -------------------------------------------------------------------------
    def ingest(self, paths: list[Path | str], progress: Callable[[int, int], None] | None = None,
               command: str = "", engine: str = "local", address: str = "") -> IngestSummary:
        """Add the article files under `paths`. `engine="ray"` splits and embeds on Ray workers (the `ray` extra):
        a Ray started here on this machine's CPUs, or the cluster at `address` ("auto", HOST:6379,
        ray://HOST:10001); the index gets the same content either way."""
        from rag.ingest import distributed  # Ray itself is imported only for --engine ray

        if engine not in distributed.ENGINES:
            raise RagError(f"Unknown --engine {engine!r}: choose one of {', '.join(distributed.ENGINES)} "
                           "(ray needs pip install 'rag-news[ray]').")
        if engine == "local":
            if address:
                raise RagError(f"--address {address} is for --engine ray; add --engine ray or drop --address.")
            articles, skipped = load_paths([Path(p) for p in paths])
            return self.add_articles(articles, skipped, progress, command)
        distributed.require_ray()  # before reading any file: a missing extra or a dead address fails at once
        distributed.check_address(address)
        articles, skipped = load_paths([Path(p) for p in paths])
        return distributed.ingest_ray(self._writable(), articles, self.embedder, skipped, progress, command,
                                      self.on_wait, address=address)

    def add_articles(self, articles: list[Article], skipped: list | None = None,
                     progress: Callable[[int, int], None] | None = None, command: str = "") -> IngestSummary:
        return ingest_articles(self._writable(), articles, self.embedder, skipped, progress, command, self.on_wait)

    def remove(self, article_id: str, command: str = "") -> Article:
        with self.store.write(command, self.on_wait) as w:
            return w.remove(article_id)

    # ---- reading -------------------------------------------------------------------------
    def articles(self) -> list[ArticleInfo]:
        self.store.refresh()
        return self.store.article_rows()

    def article(self, article_id: str) -> Article:
        """The article with that id (KeyError when there is none)."""
        return self.store.article(article_id)

    def search(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Evidence]:
        """The k sentences likeliest to answer `query` (ranked by their stored vectors: `rag search`)."""
        return self.retriever.retrieve(query, filters, max_sentences=k, stored_vectors=True).sentences

    def stats(self) -> Stats:
        st = self.store.stats()
        return Stats(st["articles"], st["sentences"], st["chunks"], store_mod.size_on_disk(self.index_dir))
