"""Vectors on disk as append-only segments, and the search over them that one reader holds.

Each write adds one segment: `vectors/<name>.npy` (float32 rows) and `vectors/<name>.ids.npy` (their chunk ids),
written and synced before the SQLite commit that names it, so a crash leaves at most an unnamed file (removed by
the next writer). Removing a chunk records a tombstone in SQLite; its vector stays until the segment is merged.
Readers memory-map the segments (nothing is copied at start) and search small ones exactly; past a size threshold
an IvfIndex (rag.store.ann) covers the older segments. The writer merges (rag.store.store.Writer.maintain).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.store.ann import IvfIndex

FOLDER = "vectors"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Segment:
    id: int
    name: str
    count: int


def write_segment(folder: Path, name: str, vectors: np.ndarray, ids: np.ndarray) -> None:
    """Write both files of a segment under temporary names, sync them, then rename them into place."""
    folder.mkdir(parents=True, exist_ok=True)
    for suffix, array in ((".npy", np.ascontiguousarray(vectors, dtype=np.float32)),
                          (".ids.npy", np.ascontiguousarray(ids, dtype=np.int64))):
        final = folder / f"{name}{suffix}"
        tmp = folder / f".tmp-{name}{suffix}"
        try:
            with open(tmp, "wb") as f:
                np.save(f, array)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
    sync_folder(folder)


def read_segment(folder: Path, seg: Segment, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The segment's (vectors, ids), memory-mapped. Raises ValueError naming the file when it is missing or cut."""
    out = []
    for suffix in (".npy", ".ids.npy"):
        path = folder / f"{seg.name}{suffix}"
        try:
            out.append(np.load(path, mmap_mode="r"))
        except FileNotFoundError as e:
            raise ValueError(f"{FOLDER}/{path.name} is missing") from e
        except (OSError, ValueError) as e:
            raise ValueError(f"{FOLDER}/{path.name} cannot be read: {e}") from e
    vectors, ids = out
    if vectors.shape != (seg.count, dim) or ids.shape != (seg.count,):
        raise ValueError(f"{FOLDER}/{seg.name}.npy holds {vectors.shape}, expected ({seg.count}, {dim})")
    return vectors, ids


def sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def top_k(scores: np.ndarray, ids: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k best (id, score), best first, ties by id: the same order exact search gives."""
    if len(scores) > k:
        keep = np.argpartition(-scores, k - 1)[:k]
        scores, ids = scores[keep], ids[keep]
    order = np.lexsort((ids, -scores))
    return [(int(ids[i]), float(scores[i])) for i in order]


class Vectors:
    """One reader's view of the committed vectors: the segments it has mapped and the ann over the older ones."""

    def __init__(self, folder: Path, dim: int) -> None:
        self.folder, self.dim = folder, dim
        self.segments: dict[int, tuple[Segment, np.ndarray, np.ndarray]] = {}
        self.ann: IvfIndex | None = None
        self.ann_name = ""
        self.ann_upto = 0  # segments with an id up to this one are searched through the ann
        self.dead = np.zeros(0, dtype=np.int64)  # sorted tombstoned chunk ids

    def sync(self, segments: list[Segment], ann_name: str, ann_upto: int, dead: np.ndarray) -> None:
        """Match the committed state: map new segments, drop merged ones, (re)open the ann if it changed."""
        wanted = {s.id: s for s in segments}
        for sid in [sid for sid in self.segments if sid not in wanted or self.segments[sid][0] != wanted[sid]]:
            del self.segments[sid]
        for sid, seg in wanted.items():
            if sid not in self.segments:
                self.segments[sid] = (seg, *read_segment(self.folder, seg, self.dim))
        if ann_name != self.ann_name:
            self.ann = IvfIndex.read(self.folder / ann_name) if ann_name else None
            if ann_name and self.ann is None:  # derived data: search the segments exactly; the next writer rebuilds it
                log.warning("%s/%s is missing or damaged: searching all segments exactly until it is rebuilt",
                            FOLDER, ann_name)
            self.ann_name = ann_name
        self.ann_upto = ann_upto if self.ann is not None else 0
        self.dead = np.sort(np.asarray(dead, dtype=np.int64))

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        found: list[tuple[int, float]] = []
        if self.ann is not None:
            scores, ids = self.ann.search(q.reshape(1, -1), k, self.dead)
            found += [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        for sid, (_, vectors, ids) in sorted(self.segments.items()):
            if sid <= self.ann_upto or not len(ids):
                continue
            scores = vectors @ q
            if len(self.dead):
                scores = np.where(np.isin(ids, self.dead, assume_unique=False), -np.inf, scores)
            found += [(i, s) for i, s in top_k(scores, np.asarray(ids), k) if s != -np.inf]
        if not found:
            return []
        return top_k(np.array([s for _, s in found]), np.array([i for i, _ in found]), k)

    def vector(self, chunk_id: int) -> np.ndarray:
        for _, vectors, ids in self.segments.values():
            row = np.flatnonzero(ids == chunk_id)
            if len(row):
                return np.array(vectors[row[-1]])
        raise KeyError(chunk_id)

    def many(self, chunk_ids: list[int]) -> dict[int, np.ndarray]:
        """The vectors of those of `chunk_ids` that are held (the latest row of each), in one pass per segment."""
        out: dict[int, np.ndarray] = {}
        wanted = np.asarray(chunk_ids)
        for _, vectors, ids in self.segments.values():
            for row in np.flatnonzero(np.isin(ids, wanted)):
                out[int(ids[row])] = np.array(vectors[row])
        return out

    @property
    def total(self) -> int:
        """Vectors held in segments, tombstoned ones included."""
        return sum(seg.count for seg, _, _ in self.segments.values())
