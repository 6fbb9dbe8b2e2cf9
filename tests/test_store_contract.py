"""The store contract, one suite run against both search engines (rag.store.engine): the embedded store (vector
segments + tantivy in the index folder) and Milvus (Milvus Lite on a file under tmp_path, which speaks the client API
of a Milvus server). Add, update, remove, dense search against brute force, keyword search (BM25), filters by
source and date, persistence across a restart (also in another process), and exact citations."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    ROOT,
    SEED_FILE,
    UMEROV_QUESTION,
    UMEROV_SENTENCE,
    brute_force,
    new_store,
    numbered_article,
    okapi_bm25,
    storm_and_rates,
    unit_rows,
)

from rag.answer.retrieve import Filters
from rag.ingest.articles import make_article
from rag.library import Library
from rag.store import open_store
from rag.store.store import chunk_words

pytest.importorskip("tantivy")


@pytest.fixture(params=["embedded", "milvus"])
def setting(request, tmp_path: Path) -> str:
    """The store setting (RAG_STORE) of the index under test."""
    if request.param == "milvus":
        pytest.importorskip("pymilvus")
        pytest.importorskip("milvus_lite")
        return str(tmp_path / "milvus.db")
    return ""




def _visible(st, hits: list[tuple[int, float]]) -> list[int]:
    """What a reader shows of engine hits: chunks that have a committed row (rag.answer.retrieve does the same)."""
    chunks = st.chunks([c for c, _ in hits])
    return [c for c, _ in hits if c in chunks]


def _citations_exact(st) -> None:
    for aid in st.article_ids():
        art = st.article(aid)
        for s in st.sentences(aid):
            assert art.text[s.start : s.end] == s.text


ARTICLES = [
    *storm_and_rates(),
    make_article("Harvest record", "Wheat harvest hit a record in Łódź.\nFarmers cheered in 東京 too.", source="AFP",
                 date="2024-07-15", url="https://example.com/wheat"),
]


def test_engine_is_the_one_the_setting_names_and_the_index_records_it(tmp_path: Path, setting: str,
                                                                       hash_embedder) -> None:
    lib = Library(tmp_path / "idx", embedder=hash_embedder, store=setting)
    lib.add_articles(ARTICLES[:1])
    assert lib.store.engine.name == ("milvus" if setting else "embedded")
    assert (tmp_path / "idx" / "vectors").is_dir() == (not setting)  # a Milvus index keeps no vectors in the folder
    lib.close()
    again = Library(tmp_path / "idx", embedder=hash_embedder)  # no setting: the index knows its engine
    assert again.store.engine.name == ("milvus" if setting else "embedded")
    again.close()


def test_add_update_remove_with_exact_citations(tmp_path: Path, setting: str, hash_embedder) -> None:
    lib = Library(tmp_path / "idx", embedder=hash_embedder, chunk_sentences=3, chunk_overlap=1, store=setting)
    summary = lib.add_articles(ARTICLES)
    st = lib.store
    assert summary.added == [a.id for a in ARTICLES]
    assert st.stats() == {"articles": 3, "sentences": 12, "chunks": 5, "vectors": 5}
    for cid, chunk in st.chunks().items():  # the engine holds each chunk's own vector
        np.testing.assert_allclose(st.vector(cid), hash_embedder.embed([st.chunk_text(chunk)])[0], atol=1e-6)
    _citations_exact(st)
    assert _visible(st, st.search_words(["wheat"], 10)) == [c.id for c in st.chunks_of(ARTICLES[2].id)]
    assert _visible(st, st.search_words(["łodz"], 10)) == [c.id for c in st.chunks_of(ARTICLES[2].id)]
    assert _visible(st, st.search_words(["東京"], 10)) == [c.id for c in st.chunks_of(ARTICLES[2].id)]

    # update: the same article (same URL id) with new text replaces its chunks, vectors and words
    new = make_article("Rates cut", "The Fed cut rates by half a point. Bonds rallied.", date="2024-06-03",
                       source="Reuters", url="https://example.com/fed")
    assert new.id == ARTICLES[1].id
    old_chunks = [c.id for c in st.chunks_of(new.id)]
    assert lib.add_articles([new]).updated == [new.id]
    assert st.article(new.id) == new and not set(old_chunks) & set(st.chunks())
    assert _visible(st, st.search_words(["dollar"], 10)) == []
    assert _visible(st, st.search_words(["bonds", "rallied"], 10)) == [c.id for c in st.chunks_of(new.id)]
    q = st.vector(st.chunks_of(new.id)[0].id)
    assert st.search_vectors(q, 1)[0] == (st.chunks_of(new.id)[0].id, pytest.approx(1.0, abs=1e-5))
    assert st.stats()["vectors"] == len(st.chunks()) == 5
    _citations_exact(st)

    # remove: its chunks leave both searches
    gone = [c.id for c in st.chunks_of(ARTICLES[0].id)]
    lib.remove(ARTICLES[0].id)
    assert not set(gone) & {c for c, _ in st.search_vectors(q, 100)}
    assert not set(gone) & {c for c, _ in st.search_words(["storm", "coast", "winds"], 100)}
    assert st.stats() == {"articles": 2, "sentences": 4, "chunks": 2, "vectors": 2}
    with pytest.raises(KeyError):
        st.article(ARTICLES[0].id)
    lib.close()



def test_dense_search_equals_brute_force_over_the_live_vectors(tmp_path: Path, setting: str) -> None:
    rng = np.random.default_rng(7)
    vecs = unit_rows(rng, 150, 24)
    st = new_store(tmp_path / "idx", "fake/unit", 24, 5, 2, store=setting)
    for start in range(0, 150, 50):  # several commits
        with st.write() as w:
            for i in range(start, start + 50):
                w.add(numbered_article(i), [], [(0, 0)], vecs[i].reshape(1, -1))
    ids = np.arange(150)
    for q in unit_rows(rng, 8, 24):
        for k in (1, 10, 150, 400):
            got, want = st.search_vectors(q, k), brute_force(vecs, ids, q, min(k, 150))
            assert [i for i, _ in got] == [i for i, _ in want]
            np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-5, atol=1e-5)
    removed = set(range(0, 150, 3))
    with st.write() as w:
        for i in removed:
            w.remove(numbered_article(i).id)
    keep = np.array([i for i in range(150) if i not in removed])
    assert st.stats()["vectors"] == len(keep) == len(st.chunks())
    for q in unit_rows(rng, 8, 24):
        got, want = st.search_vectors(q, 15), brute_force(vecs[keep], keep, q, 15)
        assert [i for i, _ in got] == [i for i, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-5, atol=1e-5)
    st.close()



def test_keyword_search_finds_the_chunks_holding_the_words_ranked_by_bm25(tmp_path: Path, setting: str) -> None:
    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(30)]
    st = new_store(tmp_path / "idx", "fake/unit", 4, store=setting)
    with st.write() as w:
        for i in range(60):
            words = [rng.choice(vocab[: rng.randint(5, 30)]) for _ in range(rng.randint(3, 20))]
            w.add(make_article(f"t{i}", " ".join(words) + ".", url=f"https://e.x/{i}"), [], [(0, 0)],
                  np.ones((1, 4), np.float32) / 2)
    docs = {c.id: chunk_words(st.article(c.article_id).title, st.sentences(c.article_id)).split()
            for c in st.chunks().values()}
    for _ in range(15):
        query = rng.sample(vocab, rng.randint(1, 3))
        want = okapi_bm25(docs, query)
        found = st.search_words(query, 500)
        assert dict(found).keys() == want.keys()  # exactly the chunks holding any of the words
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
        for cid, score in found:  # one write: one Milvus segment, whose BM25 statistics are the global ones
            assert score == pytest.approx(want[cid], rel=1e-4)
    n, df = len(docs), Counter(w for d in docs.values() for w in set(d))
    for word in (min(df, key=df.get), max(df, key=df.get)):  # word rarity for the answer checks
        assert st.idf[word] == pytest.approx(math.log(1 + (n - df[word] + 0.5) / (df[word] + 0.5)))
    assert "never-seen" not in st.idf
    st.close()


def test_bm25_order_on_a_hand_made_example(tmp_path: Path, setting: str) -> None:
    st = new_store(tmp_path / "idx", "fake/unit", 4, store=setting)
    texts = ["apple apple cherry", "apple banana", "banana cherry", "durian"]  # one chunk each, ids 0..3
    with st.write() as w:
        for i, t in enumerate(texts):
            w.add(make_article(f"d{i}", t + ".", url=f"https://e.x/{i}"), [], [(0, 0)],
                  np.ones((1, 4), np.float32) / 2)
    title_words = {cid: f"d{cid}" for cid in range(4)}  # the title is part of the chunk's words
    assert chunk_words("d0", st.sentences(st.chunks()[0].article_id)).split() == [title_words[0], "apple", "apple",
                                                                                  "cherry"]
    assert [c for c, _ in st.search_words(["apple"], 10)] == [0, 1]  # twice beats once
    assert [c for c, _ in st.search_words(["durian"], 10)] == [3]
    assert [c for c, _ in st.search_words(["apple", "banana"], 10)] == [1, 0, 2]  # both words beat one
    st.close()


def test_filters_by_source_and_date(tmp_path: Path, setting: str, hash_embedder) -> None:
    lib = Library(tmp_path / "idx", embedder=hash_embedder, store=setting)
    lib.add_articles(ARTICLES)
    q = "storm rates wheat harvest fed coast"
    assert {e.article.source for e in lib.search(q, k=30)} == {"AP", "Reuters", "AFP"}
    assert {e.article.source for e in lib.search(q, k=30, filters=Filters(sources=("AP", "AFP")))} == {"AP", "AFP"}
    june = Filters(date_from="2024-06-01", date_to="2024-06-30")
    assert {e.article.title for e in lib.search(q, k=30, filters=june)} == {"Storm hits coast", "Rates held"}
    st = lib.store
    every = sorted(st.chunks())
    assert st.allowed(every, ("Reuters",), "", "") == {c.id for c in st.chunks_of(ARTICLES[1].id)}
    assert st.allowed(every, (), "2024-07-01", "") == {c.id for c in st.chunks_of(ARTICLES[2].id)}
    fresh = {c.id for a in ARTICLES[1:] for c in st.chunks_of(a.id)}  # dated on or after June 2
    assert st.allowed(every, (), "", "", fresh_from="2024-06-02") == fresh
    assert st.matching((), "", "", 100, fresh_from="2024-06-02") == sorted(fresh)
    # a narrow filter is searched whole: its chunks, and their vectors read in one go
    assert st.matching(("Reuters",), "", "", 10) == sorted(c.id for c in st.chunks_of(ARTICLES[1].id))
    assert st.matching((), "", "", 100) is None and st.matching(("AP", "Reuters", "AFP"), "", "", 1) is None
    held = st.vectors_of([*every, 10_000])
    assert sorted(held) == every and all(np.array_equal(held[c], st.vector(c)) for c in every)
    lib.close()


def test_a_restart_sees_the_same_index_in_this_process_and_another(tmp_path: Path, setting: str,
                                                                    hash_embedder) -> None:
    lib = Library(tmp_path / "idx", embedder=hash_embedder, store=setting)
    lib.add_articles(ARTICLES)
    lib.remove(ARTICLES[1].id)
    st = lib.store
    q = hash_embedder.embed(["query"])[0]
    dense, words = st.search_vectors(q, 5), st.search_words(["storm", "wheat", "fed"], 5)
    chunks, stats = st.chunks(), st.stats()
    lib.close()  # Milvus Lite: frees the data folder for the next process

    back = open_store(tmp_path / "idx", hash_embedder.name, hash_embedder.dim)  # a new Store, no setting
    assert back.chunks() == chunks and back.stats() == stats
    assert [c for c, _ in back.search_vectors(q, 5)] == [c for c, _ in dense]
    again = back.search_words(["storm", "wheat", "fed"], 5)
    assert [c for c, _ in again] == [c for c, _ in words]
    assert [s for _, s in again] == pytest.approx([s for _, s in words])
    _citations_exact(back)
    back.close()

    code = ("import json, sys, numpy as np\n"
            "from rag.store import open_store\n"
            "st = open_store(sys.argv[1])\n"
            "q = np.array(json.loads(sys.argv[2]), dtype=np.float32)\n"
            "words = st.search_words(['storm', 'wheat', 'fed'], 5)\n"
            "print(json.dumps({'dense': st.search_vectors(q, 5), 'words': words, 'stats': st.stats(),"
            " 'articles': st.article_ids()}))\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "idx"), json.dumps(q.tolist())], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert [c for c, _ in got["dense"]] == [c for c, _ in dense] and got["stats"] == stats
    assert [c for c, _ in got["words"]] == [c for c, _ in words]
    assert got["articles"] == [ARTICLES[0].id, ARTICLES[2].id]


def test_the_real_embedder_finds_the_answering_sentence(tmp_path: Path, setting: str, minilm) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / SEED_FILE.name).write_bytes(SEED_FILE.read_bytes())
    lib = Library(tmp_path / "idx", embedder=minilm, store=setting)
    assert lib.ingest([src]).added
    top = lib.search(UMEROV_QUESTION, k=3)[0]
    assert top.sentence.text == UMEROV_SENTENCE
    assert top.article.text[top.sentence.start : top.sentence.end] == UMEROV_SENTENCE
    lib.close()
