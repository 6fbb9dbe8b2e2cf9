"""The approximate (IVF, 8-bit) index a store keeps over its older segments past a size threshold: recall against
exact search, removals, additions, incremental updates, persistence, and a missing or damaged ann file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import new_store

from rag.ingest.articles import make_article
from rag.store import Store, open_store
from rag.store.ann import IvfIndex, recall_at

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


def _add(st: Store, vectors: np.ndarray, first_article: int, per_commit: int = 5_000) -> None:
    for start in range(0, len(vectors), per_commit):
        with st.write() as w:
            for off in range(start, min(start + per_commit, len(vectors)), PER_ARTICLE):
                part = vectors[off : off + PER_ARTICLE]
                w.add(_article(first_article + off // PER_ARTICLE), [], [(0, 0)] * len(part), part)


def _store(path: Path, vectors: np.ndarray, threshold: int = THRESHOLD) -> Store:
    st = new_store(path, "fake/clustered", DIM, 5, 2, ann_threshold=threshold)
    _add(st, vectors, 0)
    return st


def _exact_top(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    scores = queries @ vectors.T
    return ids[np.argsort(-scores, axis=1, kind="stable")[:, :k]]


def _found(st: Store, queries: np.ndarray, k: int) -> np.ndarray:
    rows = [[i for i, _ in st.search_vectors(q, k)] for q in queries]
    return np.array([r + [-1] * (k - len(r)) for r in rows])


@pytest.fixture(scope="module")
def big(tmp_path_factory, data) -> Path:
    """A store of 20,000 vectors (4 commits), built once; tests copy it before changing it."""
    path = tmp_path_factory.mktemp("ann") / "idx"
    _store(path, data[0])
    return path


def _copy(big: Path, tmp_path: Path) -> Store:
    import shutil

    shutil.copytree(big, tmp_path / "idx")
    return open_store(tmp_path / "idx", ann_threshold=THRESHOLD)


def test_large_store_searches_ivf_with_recall_at_10_of_095(big: Path, data) -> None:
    vectors, queries = data
    st = open_store(big, ann_threshold=THRESHOLD)
    ann = st.vectors.ann
    assert isinstance(ann, IvfIndex)
    assert ann.ntotal == len(vectors) and not ann.stale(len(vectors))  # trained at 5,000: lists within 2x
    assert ann.nprobe < ann.nlist  # really approximate, not a full scan
    assert st.vectors.ann_upto == max(st.vectors.segments)  # every segment is covered
    found = _found(st, queries, 10)
    assert recall_at(found, _exact_top(vectors, np.arange(len(vectors)), queries, 10)) >= 0.95
    assert (big / "vectors" / st.vectors.ann_name).stat().st_size < len(vectors) * (DIM + 16)  # 1 byte a dimension


def test_small_store_stays_exact(tmp_path: Path, data) -> None:
    vectors, queries = data
    st = _store(tmp_path / "idx", vectors[:2_000])
    assert [i for i, _ in st.search_vectors(queries[0], 10)] == list(_exact_top(vectors[:2_000], np.arange(2_000),
                                                                                  queries[:1], 10)[0])
    assert st.vectors.ann is None


def test_removed_ids_are_never_returned(tmp_path: Path, big: Path, data) -> None:
    vectors, queries = data
    st = _copy(big, tmp_path)
    gone_articles = range(0, len(vectors) // PER_ARTICLE, 3)
    gone = {c.id for a in gone_articles for c in st.chunks_of(_article(a).id)}
    with st.write() as w:
        for a in gone_articles:
            w.remove(_article(a).id)
    assert st.vectors.ann is not None and st.stats()["vectors"] == len(st.chunks()) == len(vectors) - len(gone)
    found = _found(st, queries, 50)
    assert not gone & set(found.ravel().tolist())
    keep = np.array(sorted(st.chunks()))
    assert recall_at(found[:, :10], _exact_top(vectors[keep], keep, queries, 10)) >= 0.95

    # below the threshold again: back to exact search
    with st.write() as w:
        for a in range(len(vectors) // PER_ARTICLE):
            if a % 3 and len(st.chunks()) - w.removed * PER_ARTICLE >= THRESHOLD:
                w.remove(_article(a).id)
    keep = np.array(sorted(st.chunks()))
    got = [i for i, _ in st.search_vectors(queries[1], 10)]
    assert st.vectors.ann is None
    assert got == list(_exact_top(vectors[keep], keep, queries[1:2], 10)[0])


def test_added_vectors_are_found_then_folded_into_the_ann(tmp_path: Path, big: Path) -> None:
    st = _copy(big, tmp_path)
    built = st.vectors.ann_name
    rng = np.random.default_rng(5)
    new = _unit(rng.standard_normal((PER_ARTICLE, DIM)))
    _add(st, new, 10_000)
    assert st.vectors.ann_name == built  # a small addition is searched exactly beside the ann, not rebuilt
    first_new = max(st.chunks()) - PER_ARTICLE + 1
    for j in range(0, PER_ARTICLE, 10):
        assert st.search_vectors(new[j], 1)[0][0] == first_new + j
    more = _unit(rng.standard_normal((2_000, DIM)))  # past a tenth of the ann's size: added to it
    _add(st, more, 20_000)
    assert st.vectors.ann_name != built and st.vectors.ann_upto == max(st.vectors.segments)
    assert st.vectors.ann.ntotal == 20_000 + 2_100 and not st.vectors.ann.stale(22_100)
    for j in range(0, PER_ARTICLE, 10):
        assert st.search_vectors(new[j], 1)[0][0] == first_new + j
    assert sorted(p.name for p in (tmp_path / "idx" / "vectors").glob("ann-*")) == [st.vectors.ann_name]


def test_ivf_is_reopened_with_its_nprobe(big: Path, data) -> None:
    _, queries = data
    a, b = open_store(big, ann_threshold=THRESHOLD), open_store(big, ann_threshold=THRESHOLD)
    assert b.vectors.ann.nprobe == a.vectors.ann.nprobe
    for q in queries[:20]:
        assert b.search_vectors(q, 10) == a.search_vectors(q, 10)


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_missing_or_damaged_ann_file_falls_back_to_exact_and_is_rebuilt(tmp_path: Path, big: Path, data,
                                                                        damage: str) -> None:
    vectors, queries = data
    st = _copy(big, tmp_path)
    path = tmp_path / "idx" / "vectors" / st.vectors.ann_name
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:1000])
    else:
        path.unlink()
    back = open_store(tmp_path / "idx", ann_threshold=THRESHOLD)
    assert back.vectors.ann is None  # not trusted; the segments are the source of truth
    truth = _exact_top(vectors, np.arange(len(vectors)), queries[:20], 10)
    assert recall_at(_found(back, queries[:20], 10), truth) == 1.0
    _add(back, _unit(np.random.default_rng(2).standard_normal((PER_ARTICLE, DIM))), 10_000)  # the next writer
    assert back.vectors.ann is not None and back.vectors.ann.ntotal == len(vectors) + PER_ARTICLE


def test_stale_when_size_moves_fourfold() -> None:
    rng = np.random.default_rng(1)
    ivf = IvfIndex.build([(_unit(rng.standard_normal((4_000, DIM))), np.arange(4_000))])
    assert not ivf.stale(4_000) and not ivf.stale(3_000)
    ivf.add(_unit(rng.standard_normal((12_100, DIM))), np.arange(4_000, 16_100))
    assert ivf.stale(16_100)  # grew 4x: rebuild with more lists
