"""Retrieval: RRF arithmetic, fusion and sentence ranking pinned with hand-made vectors, filters, and the seed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import new_store

from rag.answer.retrieve import Filters, Retriever, rrf
from rag.errors import RagError
from rag.ingest.articles import make_article
from rag.ingest.pipeline import ingest_articles
from rag.library import Library

# ---- rrf ----------------------------------------------------------------------------------------------------------


def test_rrf_worked_example() -> None:
    # 1: ranks 0 and 1 -> 1/61 + 1/62 ; 3: ranks 2 and 0 -> 1/63 + 1/61 ; 2: rank 1 -> 1/62
    got = rrf([[1, 2, 3], [3, 1]])
    assert [i for i, _ in got] == [1, 3, 2]
    assert got[0][1] == pytest.approx(1 / 61 + 1 / 62, rel=1e-12)
    assert got[1][1] == pytest.approx(1 / 63 + 1 / 61, rel=1e-12)
    assert got[2][1] == pytest.approx(1 / 62, rel=1e-12)


def test_rrf_small_k_and_ties() -> None:
    assert rrf([[7, 8, 9]], k=0) == [(7, 1.0), (8, 0.5), (9, pytest.approx(1 / 3))]
    # equal scores are ordered by id
    assert rrf([[5, 1], [1, 5]], k=1) == [(1, pytest.approx(1 / 2 + 1 / 3)), (5, pytest.approx(1 / 2 + 1 / 3))]
    assert rrf([[9], [4]]) == [(4, 1 / 61), (9, 1 / 61)]
    assert rrf([]) == [] and rrf([[], []]) == []


# ---- fusion and sentence ranking with hand-made vectors ------------------------------------------------------------


class TableEmbedder:
    """Returns the hand-made vector for each known text; an unknown text is a test error."""

    name = "fake/table"
    dim = 3

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = {k: np.asarray(v, dtype=np.float32) for k, v in table.items()}

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.table[t] for t in texts]) if texts else np.zeros((0, 3), np.float32)


ARTS = [
    make_article("Alpha", "Grain exports rose sharply.", source="S1", date="2024-01-10", url="u1"),
    make_article("Beta", "Ports reopened after the storm.", source="S2", date="2024-02-15T08:00:00Z",
                 url="https://ports.example/beta"),
    make_article("Gamma", "Wheat harvest hit a record.", source="S3", url="u3"),
]
QUESTION = "wheat harvest record"
TABLE = {
    # chunk texts (title + sentences) for the dense index
    "Alpha\nGrain exports rose sharply.": [1, 0, 0],
    "Beta\nPorts reopened after the storm.": [0.6, 0.8, 0],
    "Gamma\nWheat harvest hit a record.": [0, 0, 1],
    # sentence texts, for ranking sentences inside the hits
    "Grain exports rose sharply.": [1, 0, 0],
    "Ports reopened after the storm.": [0, 1, 0],
    "Wheat harvest hit a record.": [0, 0, 1],
    QUESTION: [1, 0, 0],
}


@pytest.fixture
def table_retriever(tmp_path) -> Retriever:
    emb = TableEmbedder(TABLE)
    st = new_store(tmp_path / "idx", emb.name, emb.dim, 5, 2)
    ingest_articles(st, ARTS, emb)
    assert [c.article_id for c in st.chunks().values()] == [a.id for a in ARTS]  # chunk ids 0, 1, 2
    return Retriever(st, emb, top_chunks=2)


def test_fusion_is_rrf_of_dense_and_keyword_rankings(table_retriever: Retriever) -> None:
    # dense: [0 (1.0), 1 (0.6), 2 (0.0)] ; BM25: only chunk 2 has the question words
    assert [cid for cid, _ in table_retriever.store.search_vectors(TABLE[QUESTION], 30)] == [0, 1, 2]
    assert [cid for cid, _ in table_retriever.store.search_words(["wheat", "harvest", "record"], 30)] == [2]
    r = table_retriever.retrieve(QUESTION)
    assert [h.chunk.id for h in r.hits] == [2, 0]
    assert r.hits[0].score == pytest.approx(1 / 63 + 1 / 61, rel=1e-12)
    assert r.hits[1].score == pytest.approx(1 / 61, rel=1e-12)

    # sentences: score = 0.7 * dense + 0.3 * idf-weighted question-word overlap
    assert [(e.sentence.text, e.article.title) for e in r.sentences] == [
        ("Grain exports rose sharply.", "Alpha"), ("Wheat harvest hit a record.", "Gamma")]
    assert [e.dense for e in r.sentences] == [pytest.approx(1.0), pytest.approx(0.0)]
    assert [e.score for e in r.sentences] == [pytest.approx(0.7), pytest.approx(0.3)]
    assert r.best == pytest.approx(0.7)

    three = table_retriever.retrieve(QUESTION, top_chunks=3)
    assert [h.chunk.id for h in three.hits] == [2, 0, 1]
    assert three.hits[2].score == pytest.approx(1 / 62, rel=1e-12)
    assert table_retriever.retrieve(QUESTION, top_chunks=3, max_sentences=1).sentences[0].article.title == "Alpha"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(sources=("S2",)), [(1, 1 / 61)]),
        (Filters(sources=("S1", "S3")), [(2, 1 / 62 + 1 / 61), (0, 1 / 61)]),
        (Filters(sources=("ports.example",)), [(1, 1 / 61)]),  # a web host names an outlet as a source does
        (Filters(sources=("nope",)), []),
        (Filters(date_from="2024-02-01"), [(1, 1 / 61)]),  # undated Gamma is excluded by any date bound
        (Filters(date_to="2024-01-31"), [(0, 1 / 61)]),
        (Filters(date_from="2024-01-10", date_to="2024-02-15"), [(0, 1 / 61), (1, 1 / 62)]),
    ],
    ids=["source", "two-sources", "web-host", "no-source", "from", "to", "inclusive-range"],
)
def test_filters_apply_before_fusion(table_retriever: Retriever, filters: Filters,
                                     expected: list[tuple[int, float]]) -> None:
    r = table_retriever.retrieve(QUESTION, filters)
    assert [(h.chunk.id, h.score) for h in r.hits] == [(cid, pytest.approx(s, rel=1e-12)) for cid, s in expected]
    assert all(filters.allows(e.article) for e in r.sentences)


class PrefixEmbedder:
    """A crowd of texts close to the question, one text ("Target…") further from it."""

    name = "fake/prefix"
    dim = 3

    def embed(self, texts: list[str]) -> np.ndarray:
        vec = {"Crowd": [1.0, 0.1, 0.0], "Target": [0.5, 0.0, 0.866]}
        return np.array([vec.get(t.split()[0], [1.0, 0.0, 0.0]) for t in texts], dtype=np.float32).reshape(-1, 3)


def test_a_narrow_filter_is_searched_whole_not_only_among_library_wide_candidates(tmp_path) -> None:
    """A long question's own report ("as CNN reported on October 24") can rank below the first few hundred chunks
    of the whole library; the filter then left only other chunks of that day, or none. A filter that leaves few
    chunks is searched chunk by chunk."""
    emb = PrefixEmbedder()
    st = new_store(tmp_path / "idx", emb.name, emb.dim, 5, 2)
    crowd = [make_article(f"Crowd {i}", f"Crowd story {i} ran.", source="Daily", url=f"c{i}") for i in range(400)]
    target = make_article("Target", "Target story ran on Monday.", source="Wire", date="2022-10-24", url="t")
    ingest_articles(st, [*crowd, target], emb)
    r = Retriever(st, emb, top_chunks=2)
    assert r.store.matching(("Wire",), "", "", 10) == [400]
    assert r.store.matching(("Daily",), "", "", 10) is None  # too many to score one by one
    assert [cid for cid, _ in st.search_vectors(emb.embed(["which qqq"])[0], 300)][-1] < 400  # not a candidate
    got = r.retrieve("which qqq", Filters(sources=("Wire",), date_from="2022-10-23", date_to="2022-10-25"))
    assert [h.chunk.article_id for h in got.hits] == [target.id]
    assert [e.sentence.text for e in got.sentences] == ["Target story ran on Monday."]


def test_filters_allows() -> None:
    a = make_article("T", "x", source="AP", date="2024-03-05T10:00:00Z")
    assert Filters().allows(a)
    assert Filters(sources=("AP",)).allows(a) and not Filters(sources=("Reuters",)).allows(a)
    hosted = make_article("T", "x", source="AP", url="https://apnews.com/x")
    assert Filters(sources=("apnews.com",)).allows(hosted) and not Filters(sources=("apnews.com",)).allows(a)
    assert Filters(date_from="2024-03-05", date_to="2024-03-05").allows(a)
    assert not Filters(date_from="2024-03-06").allows(a)
    assert not Filters(date_to="2024-03-04").allows(a)
    assert not Filters(date_from="2000-01-01").allows(make_article("T", "x"))


def test_empty_question_and_bad_top_chunks(table_retriever: Retriever) -> None:
    with pytest.raises(RagError, match="question is empty"):
        table_retriever.retrieve("  \n ")
    with pytest.raises(RagError, match="top_chunks must be greater than 0"):
        Retriever(table_retriever.store, table_retriever.embedder, top_chunks=0)


# ---- the real embedder --------------------------------------------------------------------------------------------

UMEROV = ("The Ukrainian delegation will be led by former Defense Minister Rustem Umerov, who now serves as secretary "
          "of the National Security and Defense Council.")


def test_seed_question_returns_umerov_sentence_first(seed_library: Library) -> None:
    hits = seed_library.search("Who leads the Ukrainian delegation?")
    assert hits[0].sentence.text == UMEROV
    best = hits[0]
    assert best.sentence.id == f"{best.article.id}:20"
    assert best.article.text[best.sentence.start : best.sentence.end] == UMEROV
    assert best.article.title == "Zelensky Proposes New Meeting with Putin"
    assert len(hits) == 10 and len({e.sentence.id for e in hits}) == 10
    assert [e.score for e in hits] == sorted((e.score for e in hits), reverse=True)


NEWS = [
    {"title": "Storm hits Florida coast", "source": "AP", "date": "2024-06-01", "url": "https://e.x/1",
     "text": "A hurricane hit the Florida coast on Tuesday. Winds reached 120 mph and power failed."},
    {"title": "Storm floods Texas towns", "source": "Reuters", "date": "2024-07-15", "url": "https://e.x/2",
     "text": "A tropical storm flooded towns in Texas. Rivers rose above flood stage overnight."},
    {"title": "Typhoon hits Manila", "source": "AFP", "date": "2023-09-02", "url": "https://e.x/3",
     "text": "A typhoon struck Manila with heavy rain. Thousands were evacuated from the coast."},
]


@pytest.fixture(scope="module")
def news_library(tmp_path_factory, minilm) -> Library:
    folder = tmp_path_factory.mktemp("news")
    (folder / "news.jsonl").write_text("\n".join(json.dumps(r) for r in NEWS), encoding="utf-8")
    lib = Library(tmp_path_factory.mktemp("news-index"), embedder=minilm)
    assert len(lib.ingest([folder]).added) == 3
    return lib


@pytest.mark.parametrize(
    ("filters", "titles"),
    [
        (None, {"Storm hits Florida coast", "Storm floods Texas towns", "Typhoon hits Manila"}),
        (Filters(sources=("Reuters",)), {"Storm floods Texas towns"}),
        (Filters(sources=("AP", "AFP")), {"Storm hits Florida coast", "Typhoon hits Manila"}),
        (Filters(date_from="2024-01-01"), {"Storm hits Florida coast", "Storm floods Texas towns"}),
        (Filters(date_from="2024-06-01", date_to="2024-06-30"), {"Storm hits Florida coast"}),
        (Filters(date_to="2023-12-31"), {"Typhoon hits Manila"}),
    ],
    ids=["none", "reuters", "ap-afp", "since-2024", "june-2024", "before-2024"],
)
def test_library_search_filters(news_library: Library, filters: Filters | None, titles: set[str]) -> None:
    hits = news_library.search("Where did the storm hit?", k=20, filters=filters)
    assert {e.article.title for e in hits} == titles


def test_library_search_filters_to_nothing(news_library: Library) -> None:
    assert news_library.search("storm", filters=Filters(sources=("BBC",))) == []


def test_sentences_are_ranked_by_the_vectors_stored_at_ingestion(table_retriever: Retriever) -> None:
    st = table_retriever.store
    stored = st.sentence_vectors(ARTS[1].id)
    assert stored is not None and stored.dtype == np.float16
    assert stored.tolist() == [[0.0, 1.0, 0.0]]
    # the question is embedded; the sentences are not (their vectors come from the store)
    asked: list[str] = []
    embed = table_retriever.embedder.embed
    table_retriever.embedder.embed = lambda texts: asked.extend(texts) or embed(texts)  # type: ignore[method-assign]
    r = table_retriever.retrieve(QUESTION, stored_vectors=True)
    assert asked == [QUESTION]
    assert [e.dense for e in r.sentences] == [pytest.approx(1.0), pytest.approx(0.0)]
    # the answer path embeds them now (its verifier is calibrated on the fp32 encoder's similarities)
    asked.clear()
    assert [e.dense for e in table_retriever.retrieve(QUESTION).sentences] == [pytest.approx(1.0), pytest.approx(0.0)]
    assert sorted(asked) == sorted([QUESTION, "Grain exports rose sharply.", "Wheat harvest hit a record."])


def test_an_index_without_sentence_vectors_embeds_them_on_the_fly(table_retriever: Retriever) -> None:
    st = table_retriever.store
    with st.write("test") as w:  # as a store written before sentence vectors were kept (or by `rag upgrade`)
        w.conn.execute("DELETE FROM sentence_vectors")
        w.removed = 1  # a change, so the transaction commits
    assert st.sentence_vectors(ARTS[0].id) is None
    r = table_retriever.retrieve(QUESTION, stored_vectors=True)
    assert [(e.sentence.text, e.dense) for e in r.sentences] == [
        ("Grain exports rose sharply.", pytest.approx(1.0)), ("Wheat harvest hit a record.", pytest.approx(0.0))]


def test_removing_an_article_removes_its_sentence_vectors(table_retriever: Retriever) -> None:
    st = table_retriever.store
    with st.write("test") as w:
        w.remove(ARTS[0].id)
    assert st.sentence_vectors(ARTS[0].id) is None
    assert st.query("SELECT count(*) FROM sentence_vectors")[0][0] == 2
