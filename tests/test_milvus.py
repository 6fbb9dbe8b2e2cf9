"""The Milvus store setting and its faults: settings that name nothing known, a missing extra, an unreachable server,
a collection of another dimension, a setting that contradicts the index, a writer that dies between the Milvus
insert and the SQLite commit, an index file Milvus Lite left cut short, and Milvus Lite opened by a second process.
(The store contract itself, for both engines: tests/test_store_contract.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import ROOT

from rag.errors import IndexMismatch, RagError
from rag.ingest.articles import make_article
from rag.library import Library
from rag.settings import Settings
from rag.store import exists, open_store
from rag.store.engine import parse_store

pytest.importorskip("tantivy")


def _arts(start: int, n: int) -> list:
    return [make_article(f"Story {i}", f"Town {i} opened a bridge. Story {i} says zebra{i} crossed it.",
                         url=f"https://example.com/{i}", source="AP", date="2024-06-01")
            for i in range(start, start + n)]


# ---- the setting --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "kind", "uri"), [
    ("", "embedded", ""),
    ("embedded", "embedded", ""),
    ("milvus://milvus.internal:19531", "milvus", "http://milvus.internal:19531"),
    ("milvus://localhost", "milvus", "http://localhost:19530"),
    ("http://10.0.0.5:19530", "milvus", "http://10.0.0.5:19530"),
    ("https://in01.example.cloud", "milvus", "https://in01.example.cloud"),
    ("milvus:///srv/rag/vectors.db", "milvus", "/srv/rag/vectors.db"),
    ("milvus://./vectors.db", "milvus", os.path.abspath("vectors.db")),
    ("data/vectors.db", "milvus", os.path.abspath("data/vectors.db")),
])
def test_store_settings_that_parse(value: str, kind: str, uri: str) -> None:
    target = parse_store(value)
    assert (target.kind, target.uri) == (kind, uri)
    assert target.lite == uri.endswith(".db")


@pytest.mark.parametrize("value", ["milvus", "milvus://", "postgres://db:5432", "./vectors", "milvus://host:port",
                                   "http://", "vectors.sqlite"])
def test_a_store_setting_that_names_nothing_known_is_refused_with_the_forms(value: str, monkeypatch) -> None:
    with pytest.raises(RagError, match=rf"RAG_STORE={value!r} names no known store\. Use one of: .*milvus://host"):
        Settings(store=value)
    monkeypatch.setenv("RAG_STORE", value)
    with pytest.raises(RagError, match="RAG_STORE="):
        Settings.from_env()
    with pytest.raises(RagError, match="RAG_STORE="):
        Library("unused-index", embedder=object(), store=value)


def test_settings_read_the_store_from_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAG_STORE", str(tmp_path / "m.db"))
    assert Settings.from_env().store == str(tmp_path / "m.db")
    assert Settings().store == ""


# ---- faults -------------------------------------------------------------------------------------------------------

def test_a_missing_extra_names_it(tmp_path: Path, hash_embedder, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pymilvus", None)  # `import pymilvus` raises ImportError
    lib = Library(tmp_path / "idx", embedder=hash_embedder, store=str(tmp_path / "m.db"))
    with pytest.raises(RagError, match=r"RAG_STORE=.*m\.db needs the milvus extra: pip install 'rag-news\[milvus\]'"):
        lib.add_articles(_arts(0, 1))
    assert not exists(tmp_path / "idx")  # nothing half-made


def test_an_unreachable_server_is_a_clear_error_quickly(tmp_path: Path, hash_embedder) -> None:
    pytest.importorskip("pymilvus")
    lib = Library(tmp_path / "idx", embedder=hash_embedder, store="milvus://127.0.0.1:9")
    start = time.monotonic()
    with pytest.raises(RagError, match=r"Cannot reach Milvus at http://127\.0\.0\.1:9 \(RAG_STORE=milvus://127\.0\.0\.1:9\)"
                                       r".*Start Milvus there.*fix the address in RAG_STORE"):
        lib.add_articles(_arts(0, 1))
    assert time.monotonic() - start < 15
    assert not exists(tmp_path / "idx")


@pytest.fixture
def lite(tmp_path: Path) -> str:
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    return str(tmp_path / "milvus.db")


def test_a_collection_of_another_dimension_is_refused(tmp_path: Path, hash_embedder, lite: str) -> None:
    from rag.store import milvus

    lib = Library(tmp_path / "idx", embedder=hash_embedder, store=lite)
    lib.add_articles(_arts(0, 2))
    collection = lib.store.engine.collection
    lib.close()
    client = milvus.connect(lite)  # someone recreates the collection with another embedder's dimension
    client.drop_collection(collection)
    milvus.release(lite)
    milvus.create_collection(lite, collection, 8)
    with pytest.raises(IndexMismatch, match=rf"collection {collection} at .* holds vectors of dim 8, but the index at "
                                            r".* was built with an embedder of dim 16\. .*rebuild"):
        open_store(tmp_path / "idx")


def test_a_setting_that_contradicts_the_index_is_refused(tmp_path: Path, hash_embedder, lite: str) -> None:
    Library(tmp_path / "embedded", embedder=hash_embedder).add_articles(_arts(0, 1))
    with pytest.raises(IndexMismatch, match=r"keeps its vectors in the embedded store .* but RAG_STORE="):
        Library(tmp_path / "embedded", embedder=hash_embedder, store=lite).articles()
    with pytest.raises(IndexMismatch, match="RAG_STORE="):
        Library(tmp_path / "embedded", embedder=hash_embedder, store=lite).add_articles(_arts(1, 1))

    lib = Library(tmp_path / "milvus", embedder=hash_embedder, store=lite)
    lib.add_articles(_arts(0, 1))
    lib.close()
    for other in ("embedded", str(tmp_path / "other.db"), "milvus://localhost:19530"):
        with pytest.raises(IndexMismatch, match=rf"keeps its vectors in Milvus at {lite} .*Unset RAG_STORE"):
            Library(tmp_path / "milvus", embedder=hash_embedder, store=other).articles()
    assert len(Library(tmp_path / "milvus", embedder=hash_embedder).articles()) == 1  # no setting: its own
    assert len(Library(tmp_path / "milvus", embedder=hash_embedder, store=f"milvus://{lite}").articles()) == 1


def test_a_failed_commit_keeps_the_previous_index_and_removes_its_rows(tmp_path: Path, hash_embedder, lite: str,
                                                                       monkeypatch) -> None:
    import sqlite3

    from rag.store.writer import Writer

    lib = Library(tmp_path / "idx", embedder=hash_embedder, store=lite)
    lib.add_articles(_arts(0, 2))

    def full(self: Writer) -> None:  # the rows are in Milvus; the SQLite commit fails
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Writer, "_bump", full)
    with pytest.raises(RagError, match="previous index is unchanged"):
        lib.add_articles(_arts(2, 3))
    monkeypatch.undo()
    st = lib.store
    assert st.stats() == {"articles": 2, "sentences": 4, "chunks": 2, "vectors": 2}  # the rows went with the write
    assert st.search_words(["zebra3"], 10) == []
    lib.close()


WRITER_DIES = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, "tests")
    from conftest import HashEmbedder
    from rag.library import Library
    from rag.store.writer import Writer
    from test_milvus import _arts

    def die(self):  # the Milvus rows are inserted and flushed; the process dies before the SQLite commit
        os._exit(3)

    Writer._bump = die
    Library(sys.argv[1], embedder=HashEmbedder()).add_articles(_arts(2, 3))
""")


def test_a_writer_that_dies_before_the_sqlite_commit_leaves_nothing_visible_and_the_next_writer_cleans_up(
        tmp_path: Path, hash_embedder, lite: str) -> None:
    lib = Library(tmp_path / "idx", embedder=hash_embedder, store=lite)
    lib.add_articles(_arts(0, 2))
    lib.close()  # Milvus Lite: one process at a time
    out = subprocess.run([sys.executable, "-c", WRITER_DIES, str(tmp_path / "idx")], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 3, out.stderr[-2000:]

    st = lib.store
    assert st.stats()["chunks"] == 2 and st.stats()["vectors"] == 5  # 3 rows no commit names
    assert st.search_words(["zebra3"], 10) != []  # the engine has them...
    assert lib.search("zebra3 crossed the bridge", k=10)  # ...a reader shows only committed chunks:
    assert {e.article.title for e in lib.search("zebra3 crossed the bridge", k=10)} == {"Story 0", "Story 1"}

    lib.add_articles(_arts(5, 1))  # the next writer drops them first, then reuses their ids
    assert st.stats() == {"articles": 3, "sentences": 6, "chunks": 3, "vectors": 3}
    assert st.search_words(["zebra3"], 10) == []
    assert [c for c, _ in st.search_words(["zebra5"], 10)] == [c.id for c in st.chunks_of(_arts(5, 1)[0].id)] == [2]
    lib.close()


def test_an_index_file_milvus_lite_left_cut_short_is_rebuilt_and_nothing_is_lost(
        tmp_path: Path, hash_embedder, lite: str, caplog: pytest.LogCaptureFixture) -> None:
    # Milvus Lite saves a segment's index file in a background thread after a flush; a process killed meanwhile
    # (as in the test above, now and then) leaves a file that failed every later open of the index.
    lib = Library(tmp_path / "idx", embedder=hash_embedder, store=lite)
    lib.add_articles(_arts(0, 2))
    lib.add_articles(_arts(2, 2))
    before = lib.store.stats()
    lib.close()
    files = sorted(Path(lite).glob("collections/*/partitions/*/indexes/*.idx"))
    assert len(files) == 2  # one a flushed write
    with open(files[-1], "r+b") as f:
        f.truncate(128)  # the header of the saved array, none of its rows

    lib = Library(tmp_path / "idx", embedder=hash_embedder, store=lite)
    assert lib.store.stats() == before
    assert {e.article.title for e in lib.search("zebra3 crossed the bridge", k=10)} == {f"Story {i}" for i in range(4)}
    assert "removed its 2 index files (rebuilt from the stored data)" in caplog.text
    lib.close()
    lib = Library(tmp_path / "idx", embedder=hash_embedder, store=lite)
    assert len(lib.search("zebra3 crossed the bridge", k=10)) == 8
    lib.close()
    assert all(f.stat().st_size > 128 for f in files)  # built again


def test_milvus_lite_in_use_by_another_process_says_so(tmp_path: Path, hash_embedder, lite: str) -> None:
    lib = Library(tmp_path / "idx", embedder=hash_embedder, store=lite)
    lib.add_articles(_arts(0, 1))  # this process holds the Milvus Lite folder
    code = "import sys\nfrom rag.store import open_store\nopen_store(sys.argv[1])\n"
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "idx")], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode != 0
    assert "is open in another process; Milvus Lite serves one process at a time" in out.stderr
    assert "RAG_STORE=milvus://host:19530" in out.stderr
    lib.close()
