"""Shared fixtures: the real MiniLM embedder (loaded once per session), a seed library, and a tiny fake embedder."""

from __future__ import annotations

import hashlib
import math
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILE = SEEDS / "000_518c15d28a5a5fac.txt"


class HashEmbedder:
    """Deterministic fake embedder: each distinct text maps to a fixed random unit vector (seeded by its hash).

    Only for exercising the write path and exact ranking logic; never for relevance.
    """

    def __init__(self, name: str = "fake/hash-16", dim: int = 16) -> None:
        self.name, self.dim = name, dim
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha1(t.encode("utf-8", "surrogatepass")).digest()[:8], "big")
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out


def new_store(index_dir: Path, name: str, dim: int, chunk_sentences: int = 5, chunk_overlap: int = 2, **kw):
    """An empty index of format 2 in `index_dir`, for tests that write to a Store directly."""
    from rag.store import FORMAT_VERSION, Manifest, create

    return create(index_dir, Manifest(FORMAT_VERSION, name, dim, chunk_sentences, chunk_overlap), **kw)


# ---- small stores by hand: articles, unit vectors and the exact search they must agree with -----------------------

def storm_and_rates():
    """Two small dated articles the store tests share (each adds its own third: another script, another layout)."""
    from rag.ingest.articles import make_article

    return [
        make_article("Storm hits coast", "A storm hit the coast on Tuesday. Winds reached 120 mph. Power failed. "
                     "Schools closed. Shelters opened. Roads flooded. Crews worked overnight.",
                     date="2024-06-01", source="AP", url="https://example.com/storm"),
        make_article("Rates held", "The Fed held rates. Markets rose 1.2%. The U.S. dollar fell.",
                     date="2024-06-02", source="Reuters", url="https://example.com/fed"),
    ]


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def numbered_article(i: int):
    """Article i of a store written by hand: one sentence, one chunk, its own URL."""
    from rag.ingest.articles import make_article

    return make_article(f"Title {i}", f"Sentence number {i}.", url=f"https://example.com/{i}")


def brute_force(vectors: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The exact top k by inner product, ties broken by id: what every vector search must return."""
    scores = vectors @ q
    order = np.lexsort((ids, -scores))[:k]
    return [(int(ids[i]), float(scores[i])) for i in order]


def okapi_bm25(docs: dict[int, list[str]], query: list[str], k1: float = 1.2, b: float = 0.75) -> dict[int, float]:
    """Okapi BM25 with idf = log(1 + (N - n + 0.5) / (n + 0.5)), as tantivy (and Lucene) computes it."""
    n_docs = len(docs)
    avg = sum(len(d) for d in docs.values()) / n_docs
    df = Counter(w for d in docs.values() for w in set(d))
    out = {}
    for cid, doc in docs.items():
        tf = Counter(doc)
        score = 0.0
        for w in set(query):
            if tf[w]:
                idf = math.log(1 + (n_docs - df[w] + 0.5) / (df[w] + 0.5))
                score += idf * tf[w] * (k1 + 1) / (tf[w] + k1 * (1 - b + b * len(doc) / avg))
        if score:
            out[cid] = score
    return out


@pytest.fixture(scope="session")
def minilm():
    """The real all-MiniLM-L6-v2 embedder, loaded once for the whole session."""
    from rag.embed import MiniLM

    emb = MiniLM()
    emb.embed(["warm up"])  # load the model now so per-test timings are honest
    return emb


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def hash_embedder_cls() -> type[HashEmbedder]:
    return HashEmbedder


@pytest.fixture(scope="session")
def seed_file() -> Path:
    return SEED_FILE


@pytest.fixture(scope="session")
def seed_library(tmp_path_factory, minilm):
    """A Library over a copy of seeds/, built once with the real embedder. Read-only: do not mutate it."""
    from rag.library import Library

    src = tmp_path_factory.mktemp("seeds")
    shutil.copy(SEED_FILE, src / SEED_FILE.name)
    lib = Library(tmp_path_factory.mktemp("seed-index"), embedder=minilm)
    lib.ingest([src])
    return lib


# ---- the real embedded language model (appended for the answering tests) --------------------------------------------
UMEROV_QUESTION = "Who leads the Ukrainian delegation?"
UMEROV_SENTENCE = ("The Ukrainian delegation will be led by former Defense Minister Rustem Umerov, who now serves as "
                   "secretary of the National Security and Defense Council.")


@pytest.fixture(scope="session")
def seed_assistant(seed_library, minilm):
    """An Assistant over the seed index with the real embedded model 'gemma'. The model loads lazily, once per
    session, on the first answer; other assistants share it through `generator=seed_assistant.generator`."""
    from rag.assistant import Assistant
    from rag.settings import Settings

    return Assistant(Settings(index_dir=seed_library.index_dir, model="gemma"), embedder=minilm)


@pytest.fixture(scope="session")
def umerov_answer(seed_assistant):
    """The real model's answer to the question the seed article answers best (asked once per session)."""
    return seed_assistant.ask(UMEROV_QUESTION)
