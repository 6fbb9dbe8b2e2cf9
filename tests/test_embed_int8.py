"""MiniLM(variant="int8"): bulk chunks embedded with int8 weights stay close to fp32 and rank the same; questions
(small batches, the numpy engine) are fp32 either way; a wrong variant name is a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from rag.errors import ModelError, RagError
from rag.ingest.chunks import article_chunks, chunk_text
from rag.ingest.sentences import split_sentences
from tests.conftest import SEED_FILE

# Measured on this machine over these 92 texts at batch 16: min cosine 0.9642, mean 0.981 (batch 32: min 0.9636).
# Activations are quantised per batch, so a text's int8 vector also depends on its batch mates (the same text alone vs
# in a batch of 16: cosine down to 0.966). Real RealTimeQA chunks go lower: python -m rag.evals.bench.int8.
MIN_COSINE = 0.96
# Every question tried whose fp32 top-1 leads the runner-up by >= 0.018 (all agree under int8).
QUESTIONS = [
    "Who leads the Ukrainian delegation?",
    "Where will the talks take place?",
    "What did Peskov say?",
    "What did Zelensky post on Telegram?",
    "Who accused Russia of stalling?",
    "Why did Putin reject face-to-face talks?",
    "What are Western officials worried about?",
    "When is the next round of negotiations?",
    "What did Trump say?",
    "drone attacks",
]


@pytest.fixture(scope="module")
def texts() -> tuple[list[str], list[str]]:
    """78 chunk-length windows (3 and 5 sentences at every start) of the seed article, and its 14 store chunks."""
    text = SEED_FILE.read_text(encoding="utf-8")
    title = text.splitlines()[0]
    sents = split_sentences("seed", text)
    windows = [chunk_text(title, sents[i : i + k]) for k in (3, 5) for i in range(len(sents) - k + 1)]
    _, chunks = article_chunks(title, sents, 5, 2)
    return windows, chunks


@pytest.fixture(scope="module")
def vectors(minilm, texts):
    from rag.embed import MiniLM

    int8 = MiniLM(variant="int8")
    minilm.model, int8.model  # noqa: B018 - load torch now, so embed() takes the bulk (torch) path
    windows, chunks = texts
    everything = windows + chunks
    assert len(everything) > minilm.small_batch
    return int8, minilm.embed(everything), int8.embed(everything)


def test_variant_attribute_and_quantised_layers(minilm, vectors) -> None:
    import torch

    int8, _, _ = vectors
    assert minilm.variant == "fp32" and int8.variant == "int8"
    assert int8.name == minilm.name == "sentence-transformers/all-MiniLM-L6-v2"
    with pytest.raises(AttributeError):
        int8.variant = "fp32"  # read-only
    layers = list(int8.model.modules())
    assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in layers)
    assert not any(type(m) is torch.nn.Linear for m in layers)
    assert any(type(m) is torch.nn.Linear for m in minilm.model.modules())  # the fp32 engine is untouched


def test_int8_vectors_close_to_fp32(vectors) -> None:
    _, fp32, int8 = vectors
    assert fp32.shape == int8.shape == (92, 384) and int8.dtype == np.float32
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    cosine = (fp32 * int8).sum(axis=1)
    assert cosine.min() >= MIN_COSINE, f"min cosine {cosine.min():.4f} at text {cosine.argmin()}"
    assert cosine.max() < 0.9999  # really quantised, not the fp32 model again


def test_same_top1_chunk_and_fp32_questions(minilm, vectors, texts) -> None:
    int8, fp32_vecs, int8_vecs = vectors
    n_chunks = len(texts[1])
    questions = int8.embed(QUESTIONS)  # a small batch: the numpy engine, fp32 whatever the variant
    assert np.array_equal(questions, minilm.embed(QUESTIONS))
    top_fp32 = (questions @ fp32_vecs[-n_chunks:].T).argmax(axis=1)
    top_int8 = (questions @ int8_vecs[-n_chunks:].T).argmax(axis=1)
    assert top_fp32.tolist() == top_int8.tolist()


def test_unknown_variant_names_the_valid_ones() -> None:
    from rag.embed import MiniLM

    with pytest.raises(ModelError) as err:
        MiniLM(variant="fp16")
    assert isinstance(err.value, RagError)
    assert "'fp16'" in str(err.value) and "fp32" in str(err.value) and "int8" in str(err.value)
