"""The eval builds' vector cache: a text embedded once is read back, in order, by any later build."""

from __future__ import annotations

import numpy as np

from rag.embed import MiniLM
from rag.evals.embedcache import CachedEmbedder, cache_path


class Counting:
    """Vectors that name their text (its length and first letter), and a record of what was embedded."""

    name, dim, variant = "org/fake-model", 4, "int8"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(t), ord(t[0]), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_a_text_is_embedded_once_and_read_back_in_order(tmp_path):
    inner = Counting()
    path = cache_path(tmp_path, inner.name, inner.variant)
    assert path == tmp_path / "fake-model-int8.sqlite3"
    cached = CachedEmbedder(inner, path)
    first = cached.embed(["alpha", "be"])
    assert inner.calls == [["alpha", "be"]]
    second = cached.embed(["be", "gamma", "alpha"])
    assert inner.calls[1] == ["gamma"]  # only the new text
    np.testing.assert_array_equal(second, [[2, ord("b"), 1, 0], [5, ord("g"), 1, 0], [5, ord("a"), 1, 0]])
    np.testing.assert_array_equal(first, second[[2, 0]])
    assert (cached.hits, cached.misses) == (2, 3)
    assert cached.variant == "int8" and cached.dim == 4 and cached.name == "org/fake-model"
    cached.close()

    again = CachedEmbedder(inner, path)  # another build, another process: the file is the memory
    np.testing.assert_array_equal(again.embed(["gamma"]), [[5, ord("g"), 1, 0]])
    assert len(inner.calls) == 2 and (again.hits, again.misses) == (1, 0)
    assert again.embed([]).shape == (0, 4)


def test_real_vectors_come_back_unchanged(tmp_path):
    inner = MiniLM(variant="fp32")
    texts = ["Kyiv said the talks would resume in Istanbul.", "The drones were shot down near Moscow."]
    cached = CachedEmbedder(inner, cache_path(tmp_path, inner.name, inner.variant))
    fresh = cached.embed(texts)
    np.testing.assert_allclose(fresh, inner.embed(texts), atol=1e-6)
    read = cached.embed(texts[::-1])
    assert cached.hits == 2
    np.testing.assert_array_equal(read, fresh[::-1])
    assert read.dtype == np.float32
