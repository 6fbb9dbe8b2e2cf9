"""The persisted index: chunk windows, FAISS search against brute force, save/load, manifests and format checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag import store as store_mod
from rag.errors import IndexMismatch, IndexNotFound, RagError
from rag.ingest.articles import make_article
from rag.ingest.chunks import windows
from rag.ingest.pipeline import ingest_articles
from rag.library import Library
from rag.store import Chunk, load, new_store, save

# ---- windows ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "size", "overlap", "expected"),
    [
        (0, 5, 2, []),
        (1, 5, 2, [(0, 0)]),
        (5, 5, 2, [(0, 4)]),
        (6, 5, 2, [(0, 4), (3, 5)]),
        (8, 5, 2, [(0, 4), (3, 7)]),
        (10, 5, 2, [(0, 4), (3, 7), (6, 9)]),
        (7, 3, 0, [(0, 2), (3, 5), (6, 6)]),
        (4, 1, 0, [(0, 0), (1, 1), (2, 2), (3, 3)]),
        (5, 2, 1, [(0, 1), (1, 2), (2, 3), (3, 4)]),
        (38, 5, 2, [(0, 4), (3, 7), (6, 10), (9, 13), (12, 16), (15, 19), (18, 22), (21, 25), (24, 28), (27, 31),
                    (30, 34), (33, 37)]),
    ],
)
def test_windows_worked_examples(n: int, size: int, overlap: int, expected: list[tuple[int, int]]) -> None:
    got = windows(n, size, overlap)
    assert got == expected
    covered = sorted({i for a, b in got for i in range(a, b + 1)})
    assert covered == list(range(n))


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (3, 3), (3, 4), (3, -1)])
def test_windows_rejects_bad_settings(size: int, overlap: int) -> None:
    with pytest.raises(RagError, match=f"got size={size}, overlap={overlap}"):
        windows(10, size, overlap)


# ---- FAISS vs brute force -----------------------------------------------------------------------------------------


def _unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _one_chunk_store(vectors: np.ndarray):
    st = new_store("fake/unit", vectors.shape[1], 5, 2)
    for i, vec in enumerate(vectors):
        art = make_article(f"Title {i}", f"Sentence number {i}.", url=f"https://example.com/{i}")
        st.add(art, [], [(0, 0)], vec.reshape(1, -1))
    return st


def _brute_force(vectors: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> list[tuple[int, float]]:
    scores = vectors @ q
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(ids[i]), float(scores[i])) for i in order]


def test_faiss_top_k_equals_numpy_brute_force() -> None:
    rng = np.random.default_rng(7)
    vecs = _unit_rows(rng, 300, 32)
    st = _one_chunk_store(vecs)
    ids = np.arange(300)
    assert st.index.ntotal == 300
    for q in _unit_rows(rng, 20, 32):
        for k in (1, 10, 300, 1000):
            got = st.search_vectors(q, k)
            want = _brute_force(vecs, ids, q, min(k, 300))
            assert [i for i, _ in got] == [i for i, _ in want]
            np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-5, atol=1e-6)

    # after removing a third of the articles, search sees exactly the rest
    removed = set(range(0, 300, 3))
    for i in removed:
        st.remove(make_article(f"Title {i}", "", url=f"https://example.com/{i}").id)
    keep = np.array([i for i in range(300) if i not in removed])
    assert st.index.ntotal == len(keep) == len(st.chunks)
    for q in _unit_rows(rng, 10, 32):
        got = st.search_vectors(q, 15)
        want = _brute_force(vecs[keep], keep, q, 15)
        assert [i for i, _ in got] == [i for i, _ in want]


def test_search_on_empty_store_returns_nothing() -> None:
    st = new_store("fake/unit", 8, 5, 2)
    assert st.search_vectors(np.ones(8, dtype=np.float32), 5) == []


# ---- ingest into a store, then save/load --------------------------------------------------------------------------

ARTICLES = [
    make_article("Storm hits coast", "A storm hit the coast on Tuesday. Winds reached 120 mph. Power failed. "
                 "Schools closed. Shelters opened. Roads flooded. Crews worked overnight.",
                 date="2024-06-01", source="AP", url="https://example.com/storm"),
    make_article("Rates held", "The Fed held rates. Markets rose 1.2%. The U.S. dollar fell.",
                 date="2024-06-02", source="Reuters", url="https://example.com/fed"),
    make_article("Harvest record", "Wheat harvest hit a record.\nFarmers cheered.", source="AFP"),
]


def _vectors_by_id(st) -> dict[int, np.ndarray]:
    return {cid: st.index.reconstruct(int(cid)) for cid in st.chunks}


def test_chunk_vectors_are_embeddings_of_chunk_text(hash_embedder) -> None:
    st = new_store(hash_embedder.name, hash_embedder.dim, 3, 1)
    summary = ingest_articles(st, ARTICLES, hash_embedder)
    assert summary.added == [a.id for a in ARTICLES]
    # storm: 7 sentences -> windows (0,2) (2,4) (4,6); fed: 3 -> (0,2); harvest: 2 -> (0,1)
    assert [(c.article_id, c.first, c.last) for c in st.chunks.values()] == [
        (ARTICLES[0].id, 0, 2), (ARTICLES[0].id, 2, 4), (ARTICLES[0].id, 4, 6),
        (ARTICLES[1].id, 0, 2), (ARTICLES[2].id, 0, 1)]
    assert (summary.sentences, summary.chunks) == (12, 5)
    assert st.chunk_text(st.chunks[4]) == "Harvest record\nWheat harvest hit a record. Farmers cheered."
    for cid, vec in _vectors_by_id(st).items():
        np.testing.assert_array_equal(vec, hash_embedder.embed([st.chunk_text(st.chunks[cid])])[0])
    assert st.stats() == {"articles": 3, "sentences": 12, "chunks": 5, "vectors": 5}


def test_save_load_round_trip(tmp_path: Path, hash_embedder) -> None:
    st = new_store(hash_embedder.name, hash_embedder.dim, 3, 1)
    ingest_articles(st, ARTICLES, hash_embedder)
    st.remove(ARTICLES[1].id)  # leaves a gap in the chunk ids
    ingest_articles(st, [ARTICLES[1]], hash_embedder)
    final = save(st, tmp_path / "idx")
    assert final.name == "v000001"
    assert (tmp_path / "idx" / "CURRENT").read_text() == "v000001"

    back = load(tmp_path / "idx", hash_embedder.name, hash_embedder.dim)
    assert back.manifest == st.manifest
    assert back.articles == st.articles
    assert list(back.articles) == list(st.articles)
    assert back.sentences == st.sentences
    assert back.sketches == st.sketches
    assert back.chunks == st.chunks
    assert back.next_chunk_id == st.next_chunk_id == 6
    assert sorted(back.chunks) == [0, 1, 2, 4, 5]
    assert back.index.ntotal == st.index.ntotal == 5
    a, b = _vectors_by_id(st), _vectors_by_id(back)
    assert a.keys() == b.keys()
    for cid in a:
        np.testing.assert_array_equal(a[cid], b[cid])
    q = hash_embedder.embed(["query"])[0]
    assert back.search_vectors(q, 5) == st.search_vectors(q, 5)

    # a second save bumps the version and leaves only the live version folder behind
    save(back, tmp_path / "idx")
    assert (tmp_path / "idx" / "CURRENT").read_text() == "v000002"
    assert sorted(p.name for p in (tmp_path / "idx").iterdir() if p.is_dir()) == ["v000002"]


def test_round_trip_keeps_unicode(tmp_path: Path, hash_embedder) -> None:
    art = make_article("Зеленський — «мир»", "Президент сказав: «Ми готові». Переговори тривають 🙂.",
                       source="Укрінформ")
    st = new_store(hash_embedder.name, hash_embedder.dim, 5, 2)
    ingest_articles(st, [art], hash_embedder)
    save(st, tmp_path / "idx")
    back = load(tmp_path / "idx")
    assert back.articles == {art.id: art}
    assert back.sentences == st.sentences
    assert [s.text for s in back.sentences[art.id]][-1].endswith("тривають 🙂.")


# ---- manifest and format checks -----------------------------------------------------------------------------------


@pytest.fixture
def fake_index(tmp_path: Path, hash_embedder_cls) -> Path:
    emb = hash_embedder_cls("fake/alpha", 16)
    lib = Library(tmp_path / "idx", embedder=emb)
    lib.add_articles(ARTICLES[:2])
    return tmp_path / "idx"


def test_manifest_mismatch_names_both_embedders(fake_index: Path, hash_embedder_cls) -> None:
    with pytest.raises(IndexMismatch) as e:
        load(fake_index, "fake/beta", 16)
    assert "fake/alpha" in str(e.value) and "fake/beta" in str(e.value)
    assert "rag ingest" in str(e.value)

    lib = Library(fake_index, embedder=hash_embedder_cls("fake/beta", 16))
    with pytest.raises(IndexMismatch, match=r"built with embedder fake/alpha \(dim 16\), but this run uses fake/beta"):
        lib.search("storm")
    with pytest.raises(IndexMismatch, match="fake/alpha"):
        lib.add_articles(ARTICLES[2:])
    # a refused write left the index as it was
    assert sorted(load(fake_index).articles) == sorted(a.id for a in ARTICLES[:2])


def test_manifest_dim_mismatch(fake_index: Path) -> None:
    with pytest.raises(IndexMismatch, match=r"dim 16\), but this run uses fake/alpha \(dim 32\)"):
        load(fake_index, "fake/alpha", 32)


def test_newer_format_version_is_a_clear_error(fake_index: Path) -> None:
    manifest = fake_index / (fake_index / "CURRENT").read_text() / "manifest.json"
    raw = json.loads(manifest.read_text())
    raw["format"] = store_mod.FORMAT_VERSION + 1
    manifest.write_text(json.dumps(raw))
    with pytest.raises(IndexMismatch, match=rf"has format {store_mod.FORMAT_VERSION + 1}, newer than this version of "
                                            rf"rag understands \({store_mod.FORMAT_VERSION}\)"):
        load(fake_index, "fake/alpha", 16)


def test_missing_index_is_index_not_found(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match=r"No index at .*nothing.*rag ingest"):
        load(tmp_path / "nothing")


def test_missing_manifest_is_damaged(fake_index: Path) -> None:
    (fake_index / (fake_index / "CURRENT").read_text() / "manifest.json").unlink()
    with pytest.raises(RagError, match="is damaged"):
        load(fake_index)


@pytest.mark.parametrize("name", ["articles.jsonl", "chunks.json", "vectors.faiss"])
def test_damaged_data_file_is_a_rag_error(fake_index: Path, name: str) -> None:
    # A truncated data file should give the same friendly "damaged, rebuild" error as a bad manifest.
    path = fake_index / (fake_index / "CURRENT").read_text() / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RagError, match="damaged"):
        load(fake_index)


def test_chunk_sentence_ids() -> None:
    assert Chunk(3, "abc", 2, 4).sentence_ids() == ["abc:2", "abc:3", "abc:4"]
