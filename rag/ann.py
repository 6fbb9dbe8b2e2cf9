"""Approximate nearest-neighbour search for large indexes: an IVF index built from the store's exact vectors.

The exact `IndexIDMap2(IndexFlatIP)` stays the source of truth (adds, removals, persistence). Past a size
threshold the store also keeps an `IvfIndex` beside it, searches that instead, and keeps it in step on add/remove.

Why IVF (and not HNSW): on 2 cores, an IVF with ~sqrt(n) lists builds 1M x 384 vectors in well under a minute,
where HNSW (M=32) takes many minutes; IVF also removes ids in place, which HNSW cannot. Search scans `nprobe` lists
with exact inner products, so recall depends only on `nprobe`: it is calibrated at build time against exact search.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

ANN_THRESHOLD = 200_000  # a store with this many vectors or more is searched through an IvfIndex
TARGET_RECALL = 0.97  # recall@10 the build calibrates nprobe for; leaves room above the 0.95 we promise
TRAIN_PER_LIST = 40  # k-means training points per list (faiss warns under 39)
CALIBRATION_QUERIES = 100
CALIBRATION_NOISE = 3.0  # norm of the noise added to a stored unit vector: cos(query, vector) ~ 0.3, like a question


def nlist_for(n: int) -> int:
    """Number of inverted lists for n vectors: ~sqrt(n) (k-means training cost grows as nlist^2 on 2 cores)."""
    return max(1, round(math.sqrt(n)))


def exact_vectors(exact: object) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, ids) of an IndexIDMap2 over an IndexFlat. The vectors are a view of the index's own memory (no
    1.5 GB copy at 1M): valid only while `exact` is alive and unchanged; copy them to keep them longer."""
    import faiss

    flat = faiss.downcast_index(exact.index)
    n, d = flat.ntotal, flat.d
    vectors = faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d) if n else np.zeros((0, d), np.float32)
    return vectors, faiss.vector_to_array(exact.id_map).astype(np.int64)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row of `truth` (exact top-k ids; -1 = none) found in the same row of `found`."""
    hits = total = 0
    for f, t in zip(found, truth, strict=True):
        want = {int(i) for i in t if i >= 0}
        hits += len(want & {int(i) for i in f})
        total += len(want)
    return hits / total if total else 1.0


class IvfIndex:
    """An IndexIVFFlat (inner product) over the same ids as the exact index, with a calibrated nprobe."""

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
    def build(cls, exact: object, target_recall: float = TARGET_RECALL, seed: int = 0) -> IvfIndex:
        """Train on a sample of the exact vectors, add them all under their ids, then calibrate nprobe."""
        import faiss

        vectors, ids = exact_vectors(exact)
        n, d = vectors.shape
        nlist = nlist_for(n)
        rng = np.random.default_rng(seed)
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.spherical = True  # centroids on the unit sphere, like the vectors
        ivf.cp.niter = 10
        ivf.cp.seed = seed
        sample = np.sort(rng.choice(n, min(n, TRAIN_PER_LIST * nlist), replace=False))
        ivf.train(np.ascontiguousarray(vectors[sample]))
        for start in range(0, n, 100_000):
            ivf.add_with_ids(vectors[start : start + 100_000], ids[start : start + 100_000])
        out = cls(ivf)
        out.calibrate(exact, target_recall, rng)
        return out

    def calibrate(self, exact: object, target_recall: float, rng: np.random.Generator) -> None:
        """Set the smallest nprobe (8, 16, 32, ...) whose recall@10 against exact search reaches the target.

        Queries are stored vectors plus heavy noise (cosine ~0.3 to their source): questions sit between the
        stored chunks, not on them, and queries on the data itself would make every nprobe look good."""
        vectors, _ = exact_vectors(exact)
        n, d = vectors.shape
        base = vectors[rng.choice(n, min(n, CALIBRATION_QUERIES), replace=False)]
        noise = rng.standard_normal(base.shape).astype(np.float32) * (CALIBRATION_NOISE / math.sqrt(d))
        queries = np.ascontiguousarray(_unit(base + noise), dtype=np.float32)
        k = min(10, n)
        _, truth = exact.search(queries, k)
        nprobe = min(8, self.nlist)
        while True:
            self.index.nprobe = nprobe
            if nprobe >= self.nlist or recall_at(self.index.search(queries, k)[1], truth) >= target_recall:
                return
            nprobe = min(nprobe * 2, self.nlist)

    def stale(self, n: int) -> bool:
        """Rebuild when out of step with the exact index, or when n has moved 4x from the size it was built for."""
        return self.ntotal != n or not self.nlist / 2 <= nlist_for(n) <= self.nlist * 2

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def write(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))  # nprobe is saved with the index

    @classmethod
    def read(cls, path: Path) -> IvfIndex | None:
        """The saved index, or None when the file is missing, damaged or not an IVF index (then it is rebuilt)."""
        import faiss

        if not Path(path).is_file():
            return None
        try:
            index = faiss.read_index(str(path))
        except RuntimeError:
            return None
        return cls(index) if isinstance(index, faiss.IndexIVFFlat) else None
