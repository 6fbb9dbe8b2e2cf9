"""Approximate nearest-neighbour search for large indexes: an IVF index with 8-bit scalar quantisation.

The vector segments (rag.store.segments) stay the source of truth. Past a size threshold the store also keeps one
`IvfIndex` over the older segments and searches it instead of scanning them. Codes are 1 byte per dimension (384 B a
vector, a quarter of float32), and the file is memory-mapped, so opening it costs nothing and only the probed lists
are read: memory stays bounded as the index grows.

Why IVF (and not HNSW): on 2 cores, an IVF with ~sqrt(n) lists builds 1M x 384 vectors in well under a minute,
where HNSW (M=32) takes many minutes; IVF also removes ids in place, which HNSW cannot. Search scans `nprobe` lists,
so recall depends on `nprobe` (and a little on the quantisation): it is calibrated at build time against exact search.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

ANN_THRESHOLD = 200_000  # from this many vectors on, a store searches its older segments through an IvfIndex
TARGET_RECALL = 0.97  # recall@10 the build calibrates nprobe for; leaves room above the 0.95 we promise
TRAIN_PER_LIST = 40  # k-means training points per list (faiss warns under 39)
CALIBRATION_QUERIES = 100
CALIBRATION_NOISE = 3.0  # norm of the noise added to a stored unit vector: cos(query, vector) ~ 0.3, like a question


def nlist_for(n: int) -> int:
    """Number of inverted lists for n vectors: ~sqrt(n) (k-means training cost grows as nlist^2 on 2 cores)."""
    return max(1, round(math.sqrt(n)))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def _sample(parts: list[tuple[np.ndarray, np.ndarray]], m: int, rng: np.random.Generator) -> np.ndarray:
    """m vectors drawn evenly at random from all parts, as one float32 array."""
    sizes = np.array([len(i) for _, i in parts])
    rows = np.sort(rng.choice(int(sizes.sum()), m, replace=False))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    which = np.searchsorted(starts, rows, side="right") - 1
    return np.ascontiguousarray(np.concatenate(
        [np.asarray(parts[p][0][rows[which == p] - starts[p]]) for p in range(len(parts))]), dtype=np.float32)


def exact_top_k(queries: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray]], k: int) -> np.ndarray:
    """Exact inner-product top-k ids per query over all parts, a block at a time (no full copy of the vectors)."""
    import faiss

    truth = np.full((len(queries), k), -1, dtype=np.int64)
    best = np.full((len(queries), k), -np.inf, dtype=np.float32)
    for vectors, ids in parts:
        for start in range(0, len(ids), 200_000):
            block = np.ascontiguousarray(vectors[start : start + 200_000], dtype=np.float32)
            scores, rows = faiss.knn(queries, block, min(k, len(block)), metric=faiss.METRIC_INNER_PRODUCT)
            both_s = np.concatenate([best, scores], axis=1)
            both_i = np.concatenate([truth, np.asarray(ids[start : start + 200_000])[rows]], axis=1)
            order = np.argsort(-both_s, axis=1, kind="stable")[:, :k]
            best, truth = np.take_along_axis(both_s, order, 1), np.take_along_axis(both_i, order, 1)
    return truth


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row of `truth` (exact top-k ids; -1 = none) found in the same row of `found`."""
    hits = total = 0
    for f, t in zip(found, truth, strict=True):
        want = {int(i) for i in t if i >= 0}
        hits += len(want & {int(i) for i in f})
        total += len(want)
    return hits / total if total else 1.0


class IvfIndex:
    """An IndexIVFScalarQuantizer (8-bit, inner product) over chunk ids, with a calibrated nprobe."""

    def __init__(self, index: object) -> None:
        self.index = index  # faiss.IndexIVFFlat

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def d(self) -> int:
        return int(self.index.d)

    @property
    def nlist(self) -> int:
        return int(self.index.nlist)

    @property
    def nprobe(self) -> int:
        return int(self.index.nprobe)

    @classmethod
    def build(cls, parts: list[tuple[np.ndarray, np.ndarray]], target_recall: float = TARGET_RECALL,
              seed: int = 0) -> IvfIndex:
        """Train on a sample of the vectors in `parts` ((vectors, ids) pairs, e.g. memory-mapped segments), add
        them all, then calibrate nprobe against exact search. Never holds more than one part's float32 copy."""
        import faiss

        parts = [(v, i) for v, i in parts if len(i)]
        n, d = sum(len(i) for _, i in parts), parts[0][0].shape[1]
        nlist = nlist_for(n)
        rng = np.random.default_rng(seed)
        ivf = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(d), d, nlist, faiss.ScalarQuantizer.QT_8bit,
                                            faiss.METRIC_INNER_PRODUCT)
        ivf.cp.spherical = True  # centroids on the unit sphere, like the vectors
        ivf.cp.niter = 10
        ivf.cp.seed = seed
        ivf.train(_sample(parts, min(n, TRAIN_PER_LIST * nlist), rng))
        out = cls(ivf)
        for vectors, ids in parts:
            for start in range(0, len(ids), 100_000):
                out.add(vectors[start : start + 100_000], ids[start : start + 100_000])
        out.calibrate(parts, target_recall, rng)
        return out

    def calibrate(self, parts: list[tuple[np.ndarray, np.ndarray]], target_recall: float,
                  rng: np.random.Generator) -> None:
        """Set the smallest nprobe (8, 16, 32, ...) whose recall@10 against exact search reaches the target.

        Queries are stored vectors plus heavy noise (cosine ~0.3 to their source): questions sit between the
        stored chunks, not on them, and queries on the data itself would make every nprobe look good."""
        base = _sample(parts, CALIBRATION_QUERIES, rng)
        d = base.shape[1]
        noise = rng.standard_normal(base.shape).astype(np.float32) * (CALIBRATION_NOISE / math.sqrt(d))
        queries = np.ascontiguousarray(_unit(base + noise), dtype=np.float32)
        k = min(10, self.ntotal)
        truth = exact_top_k(queries, parts, k)
        nprobe = min(8, self.nlist)
        while True:
            self.index.nprobe = nprobe
            if nprobe >= self.nlist or recall_at(self.index.search(queries, k)[1], truth) >= target_recall:
                return
            nprobe = min(nprobe * 2, self.nlist)

    def stale(self, n: int) -> bool:
        """Retrain when n has moved 4x from the size the lists were trained for (k-means over the wrong scale)."""
        return not self.nlist / 2 <= nlist_for(n) <= self.nlist * 2

    def search(self, queries: np.ndarray, k: int, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query; ids in `exclude` (removed chunks) are skipped, not just filtered after."""
        import faiss

        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if exclude is None or not len(exclude):
            return self.index.search(queries, k)
        selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(np.ascontiguousarray(exclude, dtype=np.int64)))
        return self.index.search(queries, k, params=faiss.SearchParametersIVF(sel=selector, nprobe=self.nprobe))

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def write(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))  # nprobe is saved with the index

    @classmethod
    def read(cls, path: Path, mmap: bool = True) -> IvfIndex | None:
        """The saved index (memory-mapped unless `mmap` is False: a writer that changes it reads it whole), or None
        when the file is missing, damaged or not an IVF index (then it is rebuilt)."""
        import faiss

        if not Path(path).is_file():
            return None
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP if mmap else 0)
        except RuntimeError:
            return None
        return cls(index) if isinstance(index, faiss.IndexIVF) else None
