"""Chunks: overlapping windows of sentences, and the one text embedded and keyword-indexed for each."""

from __future__ import annotations

from collections.abc import Sequence

from rag.errors import RagError
from rag.ingest.sentences import Sentence


def windows(n: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """Inclusive (first, last) sentence windows of `size` with `overlap`, covering all n sentences."""
    if size < 1 or not 0 <= overlap < size:
        raise RagError(f"chunk size must be >= 1 and 0 <= overlap < size; got size={size}, overlap={overlap}")
    if n == 0:
        return []
    step = size - overlap
    out = []
    for first in range(0, n, step):
        out.append((first, min(first + size, n) - 1))
        if first + size >= n:
            break
    return out


def chunk_text(title: str, sentences: Sequence[Sentence]) -> str:
    """The text of a chunk as it is embedded and searched: the article title, then its sentences."""
    return f"{title}\n" + " ".join(s.text for s in sentences)


def article_chunks(title: str, sentences: list[Sentence], size: int,
                   overlap: int) -> tuple[list[tuple[int, int]], list[str]]:
    """An article's chunks as (first, last) sentence numbers, and the text embedded for each."""
    spans = windows(len(sentences), size, overlap)
    return spans, [chunk_text(title, sentences[a : b + 1]) for a, b in spans]
