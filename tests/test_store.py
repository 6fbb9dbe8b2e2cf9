"""The persisted index: chunk windows, vector and keyword search against brute force, reopening, removal,
manifests, format checks and damaged files."""

from __future__ import annotations

import math
import random
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from conftest import brute_force, new_store, numbered_article, okapi_bm25, storm_and_rates, unit_rows

from rag import store as store_mod
from rag.errors import IndexMismatch, IndexNotFound, RagError
from rag.ingest.articles import make_article
from rag.ingest.chunks import windows
from rag.ingest.pipeline import ingest_articles
from rag.library import Library
from rag.store import Chunk, open_store

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


# ---- vectors vs brute force -----------------------------------------------------------------------------------------




def _one_chunk_store(path: Path, vectors: np.ndarray, per_commit: int = 50, **kw):
    st = new_store(path, "fake/unit", vectors.shape[1], 5, 2, **kw)
    for start in range(0, len(vectors), per_commit):  # several commits: several segments
        with st.write() as w:
            for i in range(start, min(start + per_commit, len(vectors))):
                w.add(numbered_article(i), [], [(0, 0)], vectors[i].reshape(1, -1))
    return st


def test_removals_across_six_segments_are_seen_by_a_reopened_store(tmp_path: Path) -> None:
    """Exact search before and after removals is the contract of both engines (tests/test_store_contract.py); here,
    the embedded engine's own side: six segments, tombstones in each, and a second opening that sees the same."""
    rng = np.random.default_rng(7)
    vecs = unit_rows(rng, 300, 32)
    st = _one_chunk_store(tmp_path / "idx", vecs)
    assert st.stats()["vectors"] == 300 and len(st.vectors.segments) == 6
    with st.write() as w:
        for i in range(0, 300, 3):
            w.remove(numbered_article(i).id)
    keep = np.array([i for i in range(300) if i % 3])
    assert st.stats()["vectors"] == len(keep) == len(st.chunks())
    q = unit_rows(rng, 1, 32)[0]
    assert [i for i, _ in st.search_vectors(q, 15)] == [i for i, _ in brute_force(vecs[keep], keep, q, 15)]
    # another process opening the folder sees the same
    again = open_store(tmp_path / "idx")
    q = unit_rows(rng, 1, 32)[0]
    assert again.search_vectors(q, 15) == st.search_vectors(q, 15)


def test_many_small_writes_are_merged_into_few_segments(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    vecs = unit_rows(rng, 40, 8)
    st = _one_chunk_store(tmp_path / "idx", vecs, per_commit=2)  # 20 commits
    assert len(st.vectors.segments) <= store_mod.writer.MAX_OPEN_SEGMENTS + 1
    with st.write() as w:
        for i in range(0, 40, 2):
            w.remove(numbered_article(i).id)
    for _ in range(12):  # more writes: merging drops the removed rows and their tombstones
        with st.write() as w:
            w.add(numbered_article(1000 + _), [], [(0, 0)], unit_rows(rng, 1, 8))
    with closing(sqlite3.connect(tmp_path / "idx" / "store.sqlite3")) as conn:
        assert conn.execute("SELECT count(*) FROM tombstones").fetchone()[0] < 20
    assert st.stats()["vectors"] == len(st.chunks()) == 32
    q = vecs[1]
    assert st.search_vectors(q, 1)[0][0] == st.chunks_of(numbered_article(1).id)[0].id


def test_search_on_empty_store_returns_nothing(tmp_path: Path) -> None:
    st = new_store(tmp_path / "idx", "fake/unit", 8)
    assert st.search_vectors(np.ones(8, dtype=np.float32), 5) == []
    assert st.search_words(["anything"], 5) == []


# ---- keyword search: tantivy's BM25 against a reference implementation --------------------------------------------


def test_keyword_search_ranks_as_okapi_bm25_and_idf_matches(tmp_path: Path) -> None:
    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(40)]
    st = new_store(tmp_path / "idx", "fake/unit", 4)
    texts = {}
    with st.write() as w:
        for i in range(120):
            words = [rng.choice(vocab[: rng.randint(5, 40)]) for _ in range(rng.randint(3, 25))]
            art = make_article(f"t{i}", " ".join(words) + ".", url=f"https://e.x/{i}")
            w.add(art, [], [(0, 0)], np.ones((1, 4), np.float32) / 2)
            texts[i] = art
    chunks = {c.id: c for c in st.chunks().values()}
    docs = {cid: store_mod.store.chunk_words(texts[cid].title, st.sentences(c.article_id)).split()
            for cid, c in chunks.items()}
    for _ in range(20):
        query = rng.sample(vocab, rng.randint(1, 4))
        want = okapi_bm25(docs, query)
        found = st.search_words(query, 500)
        got = dict(found)
        assert got.keys() == want.keys()
        for cid, score in want.items():  # tantivy stores document lengths exactly up to 40 words
            assert got[cid] == pytest.approx(score, rel=1e-4)
        assert [s for _, s in found] == sorted(got.values(), reverse=True)
        top = [c for c, _ in st.search_words(query, 5)]  # the top k is the top of the full ranking
        assert top == [c for c, _ in found[:5]]
    n = len(docs)
    df = Counter(w for d in docs.values() for w in set(d))
    for word in (min(df, key=df.get), max(df, key=df.get), "w0"):  # the rarest, the commonest, one more
        assert st.idf[word] == pytest.approx(math.log(1 + (n - df[word] + 0.5) / (df[word] + 0.5)))
    assert st.idf.get("never-seen", 1.0) == 1.0 and "never-seen" not in st.idf
    assert set(st.idf) == set(df)


def test_a_missing_keyword_index_is_rebuilt_by_the_next_writer(tmp_path: Path, hash_embedder) -> None:
    import shutil

    lib = Library(tmp_path / "idx", embedder=hash_embedder)
    lib.add_articles(ARTICLES[:2])
    before = lib.store.search_words(["fed", "rates", "storm"], 10)
    lib.close()
    shutil.rmtree(tmp_path / "idx" / "keywords")
    reader = open_store(tmp_path / "idx")
    assert reader.search_words(["fed"], 10) == []  # dense search still answers meanwhile
    Library(tmp_path / "idx", embedder=hash_embedder).add_articles(ARTICLES[2:])
    again = open_store(tmp_path / "idx")
    assert before and {c for c, _ in again.search_words(["fed", "rates", "storm"], 10)} == {c for c, _ in before}
    assert [c for c, _ in again.search_words(["wheat"], 5)] == [c.id for c in again.chunks_of(ARTICLES[2].id)]


# ---- ingest into a store, then reopen -------------------------------------------------------------------------------

ARTICLES = [
    *storm_and_rates(),
    make_article("Harvest record", "Wheat harvest hit a record.\nFarmers cheered.", source="AFP"),
]


def test_chunk_vectors_are_embeddings_of_chunk_text(tmp_path: Path, hash_embedder) -> None:
    st = new_store(tmp_path / "idx", hash_embedder.name, hash_embedder.dim, 3, 1)
    summary = ingest_articles(st, ARTICLES, hash_embedder)
    assert summary.added == [a.id for a in ARTICLES]
    # storm: 7 sentences -> windows (0,2) (2,4) (4,6); fed: 3 -> (0,2); harvest: 2 -> (0,1)
    assert [(c.article_id, c.first, c.last) for c in st.chunks().values()] == [
        (ARTICLES[0].id, 0, 2), (ARTICLES[0].id, 2, 4), (ARTICLES[0].id, 4, 6),
        (ARTICLES[1].id, 0, 2), (ARTICLES[2].id, 0, 1)]
    assert (summary.sentences, summary.chunks) == (12, 5)
    assert st.chunk_text(st.chunks()[4]) == "Harvest record\nWheat harvest hit a record. Farmers cheered."
    for cid, chunk in st.chunks().items():
        np.testing.assert_array_equal(st.vector(cid), hash_embedder.embed([st.chunk_text(chunk)])[0])
    assert st.stats() == {"articles": 3, "sentences": 12, "chunks": 5, "vectors": 5}


def test_reopen_sees_the_same_index(tmp_path: Path, hash_embedder) -> None:
    st = new_store(tmp_path / "idx", hash_embedder.name, hash_embedder.dim, 3, 1)
    ingest_articles(st, ARTICLES, hash_embedder)
    with st.write() as w:
        w.remove(ARTICLES[1].id)  # leaves a gap in the chunk ids
    ingest_articles(st, [ARTICLES[1]], hash_embedder)

    back = open_store(tmp_path / "idx", hash_embedder.name, hash_embedder.dim)
    assert back.manifest == st.manifest
    assert back.article_ids() == st.article_ids() == [ARTICLES[0].id, ARTICLES[2].id, ARTICLES[1].id]
    for art in ARTICLES:
        assert back.article(art.id) == art
        assert back.sentences(art.id) == st.sentences(art.id)
    assert back.chunks() == st.chunks()
    assert sorted(back.chunks()) == [0, 1, 2, 4, 5]
    for cid in back.chunks():
        np.testing.assert_array_equal(back.vector(cid), st.vector(cid))
    q = hash_embedder.embed(["query"])[0]
    assert back.search_vectors(q, 5) == st.search_vectors(q, 5)
    assert back.search_words(["fed", "rates"], 5) == st.search_words(["fed", "rates"], 5)
    with pytest.raises(KeyError):
        back.article("nope")


def test_a_reader_sees_commits_of_another_writer_without_reopening(tmp_path: Path, hash_embedder) -> None:
    reader = Library(tmp_path / "idx", embedder=hash_embedder)
    writer = Library(tmp_path / "idx", embedder=hash_embedder)
    writer.add_articles(ARTICLES[:1])
    assert [a.title for a in reader.articles()] == ["Storm hits coast"]
    assert {e.article.title for e in reader.search("storm coast winds")} == {"Storm hits coast"}
    writer.add_articles(ARTICLES[1:])
    assert {a.title for a in reader.articles()} == {a.title for a in ARTICLES}
    assert "Rates held" in {e.article.title for e in reader.search("Fed held rates", k=20)}
    writer.remove(ARTICLES[0].id)
    assert "Storm hits coast" not in {e.article.title for e in reader.search("storm coast winds", k=20)}


def test_round_trip_keeps_unicode(tmp_path: Path, hash_embedder) -> None:
    art = make_article("Зеленський — «мир»", "Президент сказав: «Ми готові». Переговори тривають 🙂.",
                       source="Укрінформ")
    st = new_store(tmp_path / "idx", hash_embedder.name, hash_embedder.dim, 5, 2)
    ingest_articles(st, [art], hash_embedder)
    back = open_store(tmp_path / "idx")
    assert back.article(art.id) == art
    assert back.sentences(art.id) == st.sentences(art.id)
    assert [s.text for s in back.sentences(art.id)][-1].endswith("тривають 🙂.")
    assert back.search_words(["переговори"], 3)


# ---- manifest, format checks and damaged files ----------------------------------------------------------------------


@pytest.fixture
def fake_index(tmp_path: Path, hash_embedder_cls) -> Path:
    emb = hash_embedder_cls("fake/alpha", 16)
    lib = Library(tmp_path / "idx", embedder=emb)
    lib.add_articles(ARTICLES[:2])
    return tmp_path / "idx"


def _set_meta(index: Path, key: str, value: str) -> None:
    with closing(sqlite3.connect(index / "store.sqlite3")) as conn, conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))


def test_manifest_mismatch_names_both_embedders(fake_index: Path, hash_embedder_cls) -> None:
    with pytest.raises(IndexMismatch) as e:
        open_store(fake_index, "fake/beta", 16)
    assert "fake/alpha" in str(e.value) and "fake/beta" in str(e.value)
    assert "rag ingest" in str(e.value)

    lib = Library(fake_index, embedder=hash_embedder_cls("fake/beta", 16))
    with pytest.raises(IndexMismatch, match=r"built with embedder fake/alpha \(dim 16\), but this run uses fake/beta"):
        lib.search("storm")
    with pytest.raises(IndexMismatch, match="fake/alpha"):
        lib.add_articles(ARTICLES[2:])
    # a refused write left the index as it was
    assert sorted(open_store(fake_index).article_ids()) == sorted(a.id for a in ARTICLES[:2])


def test_manifest_dim_mismatch(fake_index: Path) -> None:
    with pytest.raises(IndexMismatch, match=r"dim 16\), but this run uses fake/alpha \(dim 32\)"):
        open_store(fake_index, "fake/alpha", 32)


def test_newer_format_version_is_a_clear_error(fake_index: Path) -> None:
    _set_meta(fake_index, "format", str(store_mod.FORMAT_VERSION + 1))
    with pytest.raises(IndexMismatch, match=rf"has format {store_mod.FORMAT_VERSION + 1}, newer than this version of "
                                            rf"rag understands \({store_mod.FORMAT_VERSION}\)"):
        open_store(fake_index, "fake/alpha", 16)


def test_missing_index_is_index_not_found(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match=r"No index at .*nothing.*rag ingest"):
        open_store(tmp_path / "nothing")


def test_damaged_manifest_is_a_clear_error(fake_index: Path) -> None:
    with closing(sqlite3.connect(fake_index / "store.sqlite3")) as conn, conn:
        conn.execute("DELETE FROM meta WHERE key = 'embedder'")
    with pytest.raises(RagError, match="is damaged .*no valid manifest.*rag ingest PATH --index NEW_DIR"):
        open_store(fake_index)


def test_corrupt_database_file_is_a_clear_error(fake_index: Path) -> None:
    db = fake_index / "store.sqlite3"
    data = bytearray(db.read_bytes())
    data[:100] = b"\x00" * 100  # the header gone: not a database any more
    db.write_bytes(bytes(data))
    with pytest.raises(RagError, match=r"is damaged \(store.sqlite3: file is not a database\)"):
        open_store(fake_index)


@pytest.mark.parametrize("damage", ["missing", "truncated"])
@pytest.mark.parametrize("suffix", [".npy", ".ids.npy"])
def test_missing_or_truncated_vector_segment_is_a_clear_error(fake_index: Path, damage: str, suffix: str) -> None:
    (seg,) = [p for p in (fake_index / "vectors").iterdir() if p.name.endswith(suffix)
              and not (suffix == ".npy" and p.name.endswith(".ids.npy"))]
    if damage == "missing":
        seg.unlink()
    else:
        seg.write_bytes(seg.read_bytes()[:-20])
    with pytest.raises(RagError, match=rf"is damaged \(vectors/{seg.name} (is missing|cannot be read)"):
        open_store(fake_index)


def test_an_index_of_the_old_format_says_how_to_upgrade(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "CURRENT").write_text("v000001")
    with pytest.raises(IndexMismatch, match=r"old format .*rag upgrade --index .*old"):
        open_store(tmp_path / "old")
    with pytest.raises(IndexMismatch, match=r"rag upgrade"):
        Library(tmp_path / "old").add_articles(ARTICLES[:1])


def test_chunk_sentence_ids() -> None:
    assert Chunk(3, "abc", 2, 4).sentence_ids() == ["abc:2", "abc:3", "abc:4"]


def test_an_index_records_its_embedder_variant_and_keeps_it(tmp_path: Path) -> None:
    lib = Library(tmp_path / "idx", embedder_variant="fp32")
    lib.add_articles([])  # creates the index
    assert lib.store.manifest.embedder_variant == "fp32"
    later = Library(tmp_path / "idx", embedder_variant="int8")  # the default now; the index was built in fp32
    assert later.store.manifest.embedder_variant == "fp32" and later.embedder.variant == "fp32"
    fresh = Library(tmp_path / "new", embedder_variant="int8")
    fresh.add_articles([])
    assert fresh.store.manifest.embedder_variant == "int8" and fresh.embedder.variant == "int8"
