"""The persisted index (storage room): SQLite as the system of record; a keyword index and vector segments beside it.

    store.py     Store (reads the committed state; sees other processes' commits) and Writer (one at a time)
    db.py        the SQLite schema and connections
    keywords.py  keyword search: a tantivy BM25 index of each chunk's content words, rebuilt from SQLite if lost
    segments.py  append-only vector segments and the search over them
    ann.py       the IVF (8-bit) index over the older segments of a large store
    lock.py      the folder's writer lock, which says who holds it
    legacy.py    reading format-1 indexes (version folders) and `rag upgrade`
"""

from rag.store.db import FORMAT_VERSION
from rag.store.store import ArticleRow, Chunk, Manifest, Store, Writer, create, exists, open_store, size_on_disk

__all__ = ["FORMAT_VERSION", "ArticleRow", "Chunk", "Manifest", "Store", "Writer", "create", "exists", "open_store",
           "size_on_disk"]
