"""Ingestion: files → articles → (dedupe) → chunks → vectors → a new index version on disk."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag import store as store_mod
from rag.articles import Article, Skipped, iter_files, load_file
from rag.embed import Embedder
from rag.sentences import split_sentences
from rag.store import Store, windows

NEAR_DUPLICATE = 0.8  # estimated Jaccard of word 5-shingles at which two texts are one story
SKETCH = 64


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


def sketch(text: str, k: int = SKETCH) -> list[int]:
    """Bottom-k MinHash sketch of the text's word 5-shingles."""
    words = re.findall(r"\w+", text.casefold())
    shingles = {" ".join(words[i : i + 5]) for i in range(max(1, len(words) - 4))}
    hashes = sorted(int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big") for s in shingles)
    return hashes[:k]


def similarity(a: list[int], b: list[int], k: int = SKETCH) -> float:
    """Jaccard estimate from two bottom-k sketches."""
    union = sorted(set(a) | set(b))[:k]
    if not union:
        return 0.0
    both = set(a) & set(b)
    return sum(1 for h in union if h in both) / len(union)


class _DuplicateFinder:
    def __init__(self, sketches: dict[str, list[int]]) -> None:
        self.sketches = dict(sketches)
        self.by_hash: dict[int, set[str]] = {}
        for aid, sk in sketches.items():
            self._index(aid, sk)

    def _index(self, aid: str, sk: list[int]) -> None:
        for h in sk:
            self.by_hash.setdefault(h, set()).add(aid)

    def find(self, aid: str, sk: list[int]) -> str | None:
        votes = Counter(other for h in sk for other in self.by_hash.get(h, ()) if other != aid)
        for other, n in votes.most_common(5):
            if n < len(sk) * NEAR_DUPLICATE / 2:
                break
            if similarity(sk, self.sketches[other]) >= NEAR_DUPLICATE:
                return other
        return None

    def add(self, aid: str, sk: list[int]) -> None:
        self.sketches[aid] = sk
        self._index(aid, sk)


def ingest_articles(store: Store, articles: list[Article], embedder: Embedder, skipped: list[Skipped] | None = None,
                    progress: Callable[[int, int], None] | None = None) -> IngestSummary:
    """Add articles to the in-memory store; the caller saves. Embeds all new chunks in one batch."""
    summary = IngestSummary(skipped=list(skipped or []))
    finder = _DuplicateFinder(store.sketches)
    todo: list[tuple[Article, list[int], list[tuple[int, int]]]] = []
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
        spans, chunk_texts = article_chunks(art, store.manifest.chunk_sentences, store.manifest.chunk_overlap)
        todo.append((art, sk, spans))
        texts += chunk_texts
    vectors = _embed_with_progress(embedder, texts, progress)
    row = 0
    for art, sk, spans in todo:
        store.add(art, sk, spans, vectors[row : row + len(spans)])
        row += len(spans)
    n_sent = sum(len(store.sentences[a.id]) for a, _, _ in todo)
    return IngestSummary(summary.added, summary.updated, summary.unchanged, summary.duplicates, summary.skipped,
                         n_sent, len(texts))


def article_chunks(art: Article, chunk_sentences: int, overlap: int) -> tuple[list[tuple[int, int]], list[str]]:
    """The article's chunks as (first, last) sentence numbers, and the text embedded for each: title + sentences."""
    sents = split_sentences(art.id, art.text)
    spans = windows(len(sents), chunk_sentences, overlap)
    return spans, [f"{art.title}\n" + " ".join(s.text for s in sents[a : b + 1]) for a, b in spans]


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


def open_or_create(index_dir: Path, embedder: Embedder, chunk_sentences: int = 5, chunk_overlap: int = 2) -> Store:
    if store_mod.exists(index_dir):
        return store_mod.load(index_dir, embedder.name, embedder.dim)
    return store_mod.new_store(embedder.name, embedder.dim, chunk_sentences, chunk_overlap)
