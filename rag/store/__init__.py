"""The persisted index (storage room): SQLite as the system of record; a keyword index and vector segments beside it.

    store.py     Store: reads the committed state; sees other processes' commits
    writer.py    Writer: one at a time, a transaction per write; merges segments and keeps the IVF up to date
    engine.py    the search-engine seam (chunk vectors + keyword words) and the store setting (RAG_STORE);
                 the embedded engine: segments + tantivy below
    milvus.py    the Milvus engine (a server, or Milvus Lite): vectors and BM25 in one collection per index
    db.py        the SQLite schema and connections
    keywords.py  keyword search: a tantivy BM25 index of each chunk's content words, rebuilt from SQLite if lost
    segments.py  append-only vector segments and the search over them
    ann.py       the IVF (8-bit) index over the older segments of a large store
    lock.py      the folder's writer lock, which says who holds it
    legacy.py    reading format-1 indexes (version folders) and `rag upgrade`
"""

from rag.store.db import FORMAT_VERSION
from rag.store.store import ArticleInfo, Chunk, Manifest, Store, create, exists, open_store, size_on_disk
from rag.store.writer import Writer

__all__ = ["FORMAT_VERSION", "ArticleInfo", "Chunk", "Manifest", "Store", "Writer", "create", "exists", "open_store",
           "size_on_disk"]
