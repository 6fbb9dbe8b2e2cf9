"""The approximate (IVF) index a store switches to past a size threshold: recall against exact search, removals,
additions, persistence, and falling back to rebuilding when ann.faiss is missing or damaged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag import store as store_mod
from rag.ann import IvfIndex, nlist_for, recall_at
from rag.ingest.articles import make_article
from rag.store import Store, load, new_store, save

DIM = 48
THRESHOLD = 5_000
PER_ARTICLE = 100  # chunks (vectors) per synthetic article


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _clustered(rng: np.random.Generator, n: int, centres: np.ndarray, noise: float = 0.6) -> np.ndarray:
    """Unit vectors around random centres (a gaussian mixture): closer to real embeddings than uniform noise."""
    base = centres[rng.integers(0, len(centres), n)]
    return _unit(base + rng.standard_normal((n, DIM)).astype(np.float32) * (noise / np.sqrt(DIM)))


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    centres = _unit(rng.standard_normal((300, DIM)))
    vectors = _clustered(rng, 20_000, centres)
    queries = _clustered(rng, 200, centres, noise=1.5)  # questions sit between chunks, not on them
    return vectors, queries


def _article(i: int):
    return make_article(f"Article {i}", f"Sentence of article {i}.", url=f"https://example.com/{i}")


def _store(vectors: np.ndarray, threshold: int = THRESHOLD) -> Store:
    st = new_store("fake/clustered", DIM, 5, 2, ann_threshold=threshold)
    for a, start in enumerate(range(0, len(vectors), PER_ARTICLE)):
        part = vectors[start : start + PER_ARTICLE]
        st.add(_article(a), [], [(0, 0)] * len(part), part)
    return st


def _exact_top(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    scores = queries @ vectors.T
    return ids[np.argsort(-scores, axis=1, kind="stable")[:, :k]]


def _found(st: Store, queries: np.ndarray, k: int) -> np.ndarray:
    rows = [[i for i, _ in st.search_vectors(q, k)] for q in queries]
    return np.array([r + [-1] * (k - len(r)) for r in rows])


def test_large_store_searches_ivf_with_recall_at_10_of_095(data) -> None:
    vectors, queries = data
    st = _store(vectors)
    found = _found(st, queries, 10)
    assert isinstance(st.ann, IvfIndex)
    assert st.ann.ntotal == st.index.ntotal == len(vectors)
    assert st.ann.nlist == nlist_for(len(vectors))
    assert st.ann.nprobe < st.ann.nlist  # really approximate, not a full scan
    assert recall_at(found, _exact_top(vectors, np.arange(len(vectors)), queries, 10)) >= 0.95


def test_small_store_stays_exact(data) -> None:
    vectors, queries = data
    st = _store(vectors[:2_000])
    assert [i for i, _ in st.search_vectors(queries[0], 10)] == list(_exact_top(vectors[:2_000], np.arange(2_000),
                                                                                  queries[:1], 10)[0])
    assert st.ann is None


def test_removed_ids_are_never_returned(data) -> None:
    vectors, queries = data
    st = _store(vectors)
    st.search_vectors(queries[0], 10)  # builds the IVF index before the removals
    assert st.ann is not None
    gone_articles = range(0, len(vectors) // PER_ARTICLE, 3)
    gone = {c.id for c in st.chunks.values() if c.article_id in {_article(a).id for a in gone_articles}}
    for a in gone_articles:
        st.remove(_article(a).id)
    assert st.ann is not None and st.ann.ntotal == st.index.ntotal == len(st.chunks) == len(vectors) - len(gone)
    found = _found(st, queries, 50)
    assert not gone & set(found.ravel().tolist())
    keep = np.array(sorted(st.chunks))
    assert recall_at(found[:, :10], _exact_top(vectors[keep], keep, queries, 10)) >= 0.95

    # below the threshold again: back to exact search
    for a in range(len(vectors) // PER_ARTICLE):
        if a % 3 and len(st.chunks) >= THRESHOLD:
            st.remove(_article(a).id)
    keep = np.array(sorted(st.chunks))
    got = [i for i, _ in st.search_vectors(queries[1], 10)]
    assert st.ann is None
    assert got == list(_exact_top(vectors[keep], keep, queries[1:2], 10)[0])


def test_added_vectors_are_found(data) -> None:
    vectors, _ = data
    st = _store(vectors)
    st.search_vectors(vectors[0], 1)
    built = st.ann
    rng = np.random.default_rng(5)
    new = _unit(rng.standard_normal((PER_ARTICLE, DIM)))
    st.add(_article(10_000), [], [(0, 0)] * PER_ARTICLE, new)
    assert st.ann is built and built.ntotal == st.index.ntotal  # kept in step, not rebuilt
    first_new = max(st.chunks) - PER_ARTICLE + 1
    for j in range(0, PER_ARTICLE, 10):
        assert st.search_vectors(new[j], 1)[0][0] == first_new + j


def test_ivf_is_saved_and_loaded_with_its_nprobe(tmp_path: Path, data) -> None:
    vectors, queries = data
    st = _store(vectors)
    save(st, tmp_path / "idx")
    version = tmp_path / "idx" / (tmp_path / "idx" / "CURRENT").read_text()
    assert (version / "ann.faiss").is_file()
    back = load(tmp_path / "idx", ann_threshold=THRESHOLD)
    assert back.ann is not None and back.ann.nprobe == st.ann.nprobe and back.ann.ntotal == len(vectors)
    for q in queries[:20]:
        assert back.search_vectors(q, 10) == st.search_vectors(q, 10)
    # with the default threshold the same index is searched exactly, and ann.faiss is not even read
    assert load(tmp_path / "idx").ann is None


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_missing_or_damaged_ann_file_is_rebuilt(tmp_path: Path, data, damage: str) -> None:
    vectors, queries = data
    save(_store(vectors), tmp_path / "idx")
    path = tmp_path / "idx" / (tmp_path / "idx" / "CURRENT").read_text() / "ann.faiss"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:1000])
    else:
        path.unlink()
    back = load(tmp_path / "idx", ann_threshold=THRESHOLD)
    assert back.ann is None  # not trusted; vectors.faiss is the source of truth
    found = _found(back, queries, 10)
    assert back.ann is not None
    assert recall_at(found, _exact_top(vectors, np.arange(len(vectors)), queries, 10)) >= 0.95


def test_out_of_step_ann_file_is_ignored(tmp_path: Path, data) -> None:
    vectors, _ = data
    st = _store(vectors)
    save(st, tmp_path / "idx")
    version = tmp_path / "idx" / (tmp_path / "idx" / "CURRENT").read_text()
    st.ann.remove(np.arange(10))  # an ann.faiss from another state than vectors.faiss
    st.ann.write(version / "ann.faiss")
    back = store_mod.load(tmp_path / "idx", ann_threshold=THRESHOLD)
    assert back.ann is None


def test_stale_when_size_moves_fourfold() -> None:
    import faiss

    exact = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    rng = np.random.default_rng(1)
    exact.add_with_ids(_unit(rng.standard_normal((4_000, DIM))), np.arange(4_000))
    ivf = IvfIndex.build(exact)
    assert not ivf.stale(4_000)
    assert ivf.stale(3_999)  # out of step with the exact index
    ivf.add(_unit(rng.standard_normal((12_100, DIM))), np.arange(4_000, 16_100))
    assert ivf.stale(16_100)  # grew 4x: rebuild with more lists
