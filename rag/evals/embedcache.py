"""Vectors remembered by text across eval index builds: the built-in sets share most of their articles.

`long --split test`, `polar --split test` and `absent` are all built over RealTimeQA's pages, so a CI run that builds
their indexes one after another used to embed the same chunks and sentences three times, most of its eval time on
a slow machine. `CachedEmbedder` wraps the embedder that builds an eval index and keeps every vector it computes in
one SQLite file per model and variant, keyed by the sha1 of the text; a text seen before is read back instead of
embedded again.

A vector read back is the one a fresh build would compute: the int8 engine embeds each text alone, so a text's
vector depends on the text only (`rag.embed`), unless one of the two builds embedded it in a call small enough for
the fp32 numpy engine (`MiniLM.uses_numpy`; the two engines' vectors are within cosine ~0.97). Until 2026-12-01 the
int8 engine embedded batches of 16 with one quantisation scale per batch, a vector read back differed from a fresh
one, and that changed answers: outlets-refusal's 40 test questions over an index built for them and over one whose
vectors were all read back, same code and machine, 6 answers differed (refusal 0.30 against 0.25). Files are keyed
by `rag.embed.VECTOR_KINDS`, so vectors of the old scheme are never read as the new. Eval indexes only: an index a
user builds embeds its own texts.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.embed import Embedder

_LOOKUP = 500  # keys per SELECT (SQLite's default limit on host parameters is 999 on old builds)


class CachedEmbedder:
    """`inner`'s vectors, read from `path` when the text was embedded before (see the module docstring)."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        self.hits = self.misses = 0

    @property
    def variant(self) -> str:
        """The wrapped embedder's variant: the index manifest records it."""
        return getattr(self.inner, "variant", "fp32")

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        keys = [hashlib.sha1(t.encode("utf-8", "surrogatepass")).digest() for t in texts]
        found = self._lookup(keys)
        todo = []  # where the texts never embedded before go
        for i, k in enumerate(keys):
            if k in found:
                out[i] = found[k]
            else:
                todo.append(i)
        if todo:
            fresh = self.inner.embed([texts[i] for i in todo])
            out[todo] = fresh
            with self._db:
                self._db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?)",
                                     [(keys[i], fresh[j].astype(np.float32).tobytes()) for j, i in enumerate(todo)])
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        return out

    def _lookup(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), _LOOKUP):
            part = unique[i : i + _LOOKUP]
            rows = self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})",
                                    part)
            for key, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape == (self.dim,):
                    found[key] = vec
        return found

    def close(self) -> None:
        self._db.close()


def cache_path(root: Path, name: str, variant: str) -> Path:
    """One file per embedding model and variant: "sentence-transformers/all-MiniLM-L6-v2", int8 ->
    root/all-MiniLM-L6-v2-int8.sqlite3."""
    return Path(root) / f"{name.rsplit('/', 1)[-1]}-{variant}.sqlite3"
