"""The numpy MiniLM must give the vectors sentence-transformers gives, and keep torch out of `rag ask`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, SEED_FILE

TEXTS = [
    "Who leads the Ukrainian delegation?",
    "",
    "a",
    "Zelensky said on Tuesday that the talks in Istanbul would resume; Umerov will lead the team.",
    "Ünïcödé – “quotes”, emoji 🙂, 日本語のテキスト, عربى, and zero\u200bwidth.",
    "word " * 400,  # past the 256-token limit: truncated the same way
    "The U.S. and E.U. met at 10:30 a.m. on Jan. 5, 2024; prices rose 3.5% to $1,200.",
]


@pytest.fixture(scope="module")
def numpy_model(minilm):
    return minilm.numpy_model


def test_numpy_forward_matches_sentence_transformers(minilm, numpy_model):
    seed_sentences = [line for line in SEED_FILE.read_text(encoding="utf-8").splitlines() if line.strip()][:40]
    texts = TEXTS + seed_sentences
    ours = numpy_model.encode(texts)
    theirs = minilm.model.encode(texts, batch_size=16, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.shape == theirs.shape == (len(texts), 384)
    assert ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 1e-4
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_batching_and_order_do_not_change_vectors(numpy_model):
    alone = np.stack([numpy_model.encode([t])[0] for t in TEXTS])
    together = numpy_model.encode(TEXTS, batch_size=3)
    assert np.abs(alone - together).max() < 1e-5
    assert numpy_model.encode([]).shape == (0, 384)


def test_small_batches_use_numpy_and_big_ones_torch() -> None:
    from rag.embed import MiniLM

    fresh = MiniLM()
    small = fresh.embed(TEXTS[:2])
    assert np.abs(small - fresh.numpy_model.encode(TEXTS[:2])).max() == 0.0
    middling = [f"sentence {i} about the talks" for i in range(fresh.small_batch + 1)]
    fresh.embed(middling)
    assert fresh._model is None  # torch not loaded yet: numpy takes up to 4x small_batch rather than import it
    texts = [f"sentence {i} about the talks" for i in range(4 * fresh.small_batch + 1)]
    big = fresh.embed(texts)
    assert big.shape == (len(texts), 384)
    assert fresh._model is not None  # the torch engine took the big batch
    assert np.abs(big - fresh.numpy_model.encode(texts)).max() < 1e-4  # and gave the same vectors
    assert np.abs(fresh.embed(middling) - fresh.numpy_model.encode(middling)).max() < 1e-4  # torch now


def test_rag_ask_never_imports_torch(seed_library):
    """Cold start: `rag ask` answers without importing torch, sentence-transformers or llama-index."""
    code = (
        "import sys, json; from rag.cli import main; "
        f"rc = main(['ask', 'Who leads the Ukrainian delegation?', '--index', {str(seed_library.index_dir)!r}]); "
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'llama_index') "
        "if m in sys.modules); print(json.dumps({'rc': rc, 'heavy': heavy}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"rc": 0, "heavy": []}, proc.stderr[-2000:]
    assert "Umerov" in proc.stdout
