"""MiniLM(variant="int8"): bulk chunks embedded with int8 weights stay close to fp32 and rank the same, and a text's
vector does not depend on the texts embedded with it; questions (small batches, the numpy engine) are fp32 either
way; a wrong variant name is a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from rag.errors import ModelError, RagError
from rag.ingest.chunks import article_chunks, chunk_text
from rag.ingest.sentences import split_sentences
from tests.conftest import SEED_FILE

# Measured on this machine over these 92 texts, each embedded alone: min cosine 0.9681, mean 0.982. (In batches of 16,
# as until 2026-12-01, activations were quantised per batch: min 0.9642, and a text's vector depended on its
# batchmates.) Real RealTimeQA chunks go lower: python -m rag.evals.bench.int8.
MIN_COSINE = 0.965
# Questions about the seed article. Each embedded alone, int8 keeps the fp32 top-1 chunk of 9 of them; "What did Trump
# say?" (fp32 top-1 ahead by 0.021) goes to its runner-up by 0.002. One whose fp32 top-1 leads by CLEAR keeps it.
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
CLEAR = 0.025


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


def test_an_int8_vector_depends_on_its_text_alone(vectors, texts) -> None:
    """Other batchmates, another order: the very same vectors (each text is embedded alone, with its own
    activation scale; in batches of 16 the same sentence moved down to cosine 0.84)."""
    int8, _, int8_vecs = vectors
    windows, chunks = texts
    everything = windows + chunks
    others = [w.upper() for w in windows[:40]]
    again = int8.embed(others + everything[::-1])[len(others):][::-1]
    assert np.array_equal(again, int8_vecs)


def test_same_top1_chunk_and_fp32_questions(minilm, vectors, texts) -> None:
    int8, fp32_vecs, int8_vecs = vectors
    n_chunks = len(texts[1])
    questions = int8.embed(QUESTIONS)  # a small batch: the numpy engine, fp32 whatever the variant
    assert np.array_equal(questions, minilm.embed(QUESTIONS))
    fp32_scores = questions @ fp32_vecs[-n_chunks:].T
    top_fp32 = fp32_scores.argmax(axis=1)
    top_int8 = (questions @ int8_vecs[-n_chunks:].T).argmax(axis=1)
    ranked = np.sort(fp32_scores, axis=1)
    clear = ranked[:, -1] - ranked[:, -2] >= CLEAR
    assert clear.sum() == 8  # all but Trump's (0.021) and "Who accused Russia of stalling?" (0.018)
    assert (top_fp32 == top_int8)[clear].all()
    assert (top_fp32 == top_int8).sum() >= 9


def test_unknown_variant_names_the_valid_ones() -> None:
    from rag.embed import MiniLM

    with pytest.raises(ModelError) as err:
        MiniLM(variant="fp16")
    assert isinstance(err.value, RagError)
    assert "'fp16'" in str(err.value) and "fp32" in str(err.value) and "int8" in str(err.value)
