"""Ingestion through the Library and the CLI with the real MiniLM embedder and real FAISS, at small scale."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from rag import cli
from rag import store as store_mod
from rag.errors import BadInput, RagError
from rag.ingest.articles import Skipped, load_file
from rag.ingest.chunks import windows
from rag.ingest.sentences import split_sentences
from rag.library import Library

STORM = {"title": "Storm hits coast", "url": "https://example.com/storm", "date": "2024-06-01", "source": "AP",
         "text": "A storm hit the coast on Tuesday. The old bridge collapsed into the river. Winds reached 120 mph. "
                 "Power failed across the county. Schools closed for the week. Shelters opened downtown."}
STORM_V2 = dict(STORM, text="A storm hit the coast on Tuesday. The harbour wall was breached by waves. "
                            "Winds reached 140 mph. Ferries stopped running.")
FED = {"title": "Rates held", "url": "https://example.com/fed", "date": "2024-06-02", "source": "Reuters",
       "text": "The Federal Reserve held interest rates steady. Markets rose 1.2% after the decision. "
               "The U.S. dollar fell against the euro."}


def write_json(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def current(index: Path) -> int:
    """How many commits the index has had (1: created empty)."""
    with closing(sqlite3.connect(index / "store.sqlite3")) as conn:
        return int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])


def version_files(index: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file of the index but the writer lock."""
    return {str(p.relative_to(index)): (p.stat().st_mtime_ns, p.stat().st_size) for p in index.rglob("*")
            if p.is_file() and p.name != "write.lock"}


def consistent(lib: Library) -> None:
    """Invariants of a stored index: vectors match chunks, sentences match text, chunks cover sentences."""
    st = store_mod.open_store(lib.index_dir, lib.embedder.name, lib.embedder.dim)
    chunks = st.chunks()
    assert st.stats()["vectors"] == len(chunks)
    ids = st.article_ids()
    for aid in ids:
        art = st.article(aid)
        assert [(s.start, s.end) for s in st.sentences(aid)] == [
            (s.start, s.end) for s in split_sentences(aid, art.text)]
        mine = sorted((c.first, c.last) for c in chunks.values() if c.article_id == aid)
        assert mine == windows(len(st.sentences(aid)), st.manifest.chunk_sentences, st.manifest.chunk_overlap)
    assert {c.article_id for c in chunks.values()} == set(ids)
    for cid, chunk in chunks.items():  # every chunk's vector is the embedding of its text
        np.testing.assert_allclose(st.vector(cid), lib.embedder.embed([st.chunk_text(chunk)])[0], atol=1e-5)


@pytest.fixture
def lib(tmp_path: Path, minilm) -> Library:
    return Library(tmp_path / "index", embedder=minilm)


# ---- re-ingest, updates, removal ----------------------------------------------------------------------------------


def test_reingest_same_folder_is_a_noop(tmp_path: Path, lib: Library, seed_file: Path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    shutil.copy(seed_file, folder / seed_file.name)
    write_json(folder / "more.json", [STORM, FED])
    first = lib.ingest([folder])
    assert len(first.added) == 3 and first.updated == first.unchanged == first.duplicates == first.skipped == []
    assert (first.sentences, first.chunks) == (38 + 6 + 3, 12 + 2 + 1)
    assert current(lib.index_dir) == 2
    before_files, before_stats = version_files(lib.index_dir), lib.stats()

    calls = []
    again = Library(lib.index_dir, embedder=lib.embedder).ingest([folder], progress=lambda d, t: calls.append((d, t)))
    assert again.added == again.updated == again.duplicates == again.skipped == []
    assert sorted(again.unchanged) == sorted(first.added)
    assert (again.sentences, again.chunks) == (0, 0)
    assert calls == []  # nothing was embedded
    assert again.lines()[0] == ("added 0, updated 0, unchanged 3, near-duplicates 0, skipped 0; "
                                "0 sentences in 0 chunks embedded")
    assert current(lib.index_dir) == 2
    assert version_files(lib.index_dir) == before_files
    assert Library(lib.index_dir, embedder=lib.embedder).stats() == before_stats


def test_changed_article_replaces_old_one(tmp_path: Path, lib: Library) -> None:
    lib.ingest([write_json(tmp_path / "a.json", [STORM, FED])])
    storm_id = next(a.id for a in lib.articles() if a.title == "Storm hits coast")
    old_vectors = lib.stats().chunks

    summary = lib.ingest([write_json(tmp_path / "b.json", [STORM_V2])])
    assert summary.updated == [storm_id]
    assert summary.added == summary.unchanged == summary.duplicates == []
    assert current(lib.index_dir) == 3

    fresh = Library(lib.index_dir, embedder=lib.embedder)
    assert fresh.article(storm_id).text == STORM_V2["text"]
    sents = [s.text for s in fresh.store.sentences(storm_id)]
    assert sents == ["A storm hit the coast on Tuesday.", "The harbour wall was breached by waves.",
                     "Winds reached 140 mph.", "Ferries stopped running."]
    all_text = " ".join(s.text for aid in fresh.store.article_ids() for s in fresh.store.sentences(aid))
    assert "bridge" not in all_text and "120 mph" not in all_text
    # storm went from 6 sentences (2 chunks) to 4 sentences (1 chunk)
    assert fresh.stats().chunks == old_vectors - 1 == fresh.store.stats()["vectors"]
    for ev in fresh.search("Which bridge collapsed into the river?", k=20):
        assert "bridge" not in ev.sentence.text
    consistent(fresh)


def test_remove_deletes_article_and_its_vectors(tmp_path: Path, lib: Library) -> None:
    lib.ingest([write_json(tmp_path / "a.json", [STORM, FED])])
    storm_id = next(a.id for a in lib.articles() if a.title == "Storm hits coast")
    storm_chunks = len(lib.store.chunks_of(storm_id))
    assert storm_chunks == 2
    before = lib.store.stats()["vectors"]

    removed = lib.remove(storm_id)
    assert removed.title == "Storm hits coast"
    fresh = Library(lib.index_dir, embedder=lib.embedder)
    assert fresh.store.stats()["vectors"] == before - storm_chunks == len(fresh.store.chunks())
    assert [a.title for a in fresh.articles()] == ["Rates held"]
    assert all(ev.article.id != storm_id for ev in fresh.search("storm winds bridge coast", k=20))
    consistent(fresh)

    with pytest.raises(RagError, match=f"No article with id '{storm_id}'"):
        fresh.remove(storm_id)


def test_removing_last_article_leaves_a_valid_empty_index(tmp_path: Path, lib: Library) -> None:
    lib.ingest([write_json(tmp_path / "a.json", [FED])])
    lib.remove(lib.articles()[0].id)
    fresh = Library(lib.index_dir, embedder=lib.embedder)
    assert fresh.store.stats() == {"articles": 0, "sentences": 0, "chunks": 0, "vectors": 0}
    assert fresh.search("interest rates") == []


# ---- near-duplicates ----------------------------------------------------------------------------------------------


def _syndicated(seed_file: Path) -> tuple[dict, dict]:
    art = load_file(seed_file)[0][0]
    original = {"title": art.title, "text": art.text, "url": "https://news.example/zelensky", "source": "Wire"}
    edited = art.text.replace("once again extended an invitation", "again extended an invitation", 1)
    assert edited != art.text
    copy = {"title": art.title + " - Daily Herald", "text": edited, "url": "https://herald.example/z?utm=feed",
            "source": "Herald"}
    return original, copy


def test_near_duplicate_syndicated_copy_is_kept_once(tmp_path: Path, lib: Library, seed_file: Path) -> None:
    original, copy = _syndicated(seed_file)
    first = lib.ingest([write_json(tmp_path / "a.json", [original, FED])])
    assert len(first.added) == 2
    original_id = next(a.id for a in lib.articles() if a.source == "Wire")

    second = lib.ingest([write_json(tmp_path / "b.json", [copy])])
    assert second.added == second.updated == []
    assert second.duplicates == [(copy["title"], original_id)]
    assert second.lines()[0].startswith("added 0, updated 0, unchanged 0, near-duplicates 1, skipped 0")
    assert second.lines()[1] == f"  duplicate: {copy['title']!r} is the same story as article {original_id}"
    assert current(lib.index_dir) == 2
    assert sorted(a.source for a in Library(lib.index_dir, embedder=lib.embedder).articles()) == ["Reuters", "Wire"]


def test_near_duplicates_within_one_batch(tmp_path: Path, lib: Library, seed_file: Path) -> None:
    original, copy = _syndicated(seed_file)
    summary = lib.ingest([write_json(tmp_path / "a.json", [original, copy, STORM])])
    assert len(summary.added) == 2
    assert summary.duplicates == [(copy["title"], summary.added[0])]
    assert sorted(a.source for a in lib.articles()) == ["AP", "Wire"]


def test_different_stories_are_not_duplicates(tmp_path: Path, lib: Library) -> None:
    summary = lib.ingest([write_json(tmp_path / "a.json", [STORM, FED, STORM_V2 | {"url": "https://other/x"}])])
    # STORM_V2 shares one sentence with STORM but is a different text: not a near-duplicate
    assert len(summary.added) == 3 and summary.duplicates == []


# ---- bad input ----------------------------------------------------------------------------------------------------


def test_bad_file_in_batch_is_skipped_and_nothing_is_lost(tmp_path: Path, lib: Library, seed_file: Path) -> None:
    lib.ingest([seed_file])
    seed_id = lib.articles()[0].id
    seed_sentences = list(lib.store.sentences(seed_id))

    good = tmp_path / "batch" / "good.txt"
    good.parent.mkdir()
    good.write_text("Harvest record\nWheat harvest hit a record this year. Farmers cheered.", encoding="utf-8")
    bad = tmp_path / "batch" / "bad.txt"
    bad.write_bytes(b"\x00\x01\x02binary\xff\xfe")
    summary = lib.ingest([good.parent])
    assert len(summary.added) == 1
    assert summary.skipped == [Skipped(str(bad), "binary file, not text")]
    assert summary.lines()[-1] == f"  skipped: {bad}: binary file, not text"

    fresh = Library(lib.index_dir, embedder=lib.embedder)
    assert sorted(a.title for a in fresh.articles()) == ["Harvest record", "Zelensky Proposes New Meeting with Putin"]
    assert fresh.store.sentences(seed_id) == seed_sentences
    consistent(fresh)


def test_missing_path_raises_and_leaves_index_untouched(tmp_path: Path, lib: Library, seed_file: Path) -> None:
    lib.ingest([seed_file])
    before = version_files(lib.index_dir)
    with pytest.raises(BadInput, match="No such file or folder"):
        lib.ingest([seed_file, tmp_path / "missing"])
    assert current(lib.index_dir) == 2 and version_files(lib.index_dir) == before


def test_progress_reports_all_chunks_and_sentences(tmp_path: Path, lib: Library) -> None:
    calls: list[tuple[int, int]] = []
    summary = lib.ingest([write_json(tmp_path / "a.json", [STORM, FED])], progress=lambda d, t: calls.append((d, t)))
    assert (summary.chunks, summary.sentences) == (3, 9)
    assert calls == [(12, 12)]


# ---- CLI ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)


def test_cli_ingest_list_search_stats_remove(tmp_path: Path, seed_file: Path, capsys, clean_env) -> None:
    idx = str(tmp_path / "idx")
    folder = tmp_path / "news"
    folder.mkdir()
    shutil.copy(seed_file, folder / seed_file.name)

    assert cli.main(["ingest", str(folder), "--index", idx]) == 0
    out = capsys.readouterr().out
    assert out == "added 1, updated 0, unchanged 0, near-duplicates 0, skipped 0; 38 sentences in 12 chunks embedded\n"

    assert cli.main(["list", "--index", idx]) == 0
    out = capsys.readouterr().out
    aid = load_file(seed_file)[0][0].id
    assert out == f"{aid}  {'':10}    38 sentences  Zelensky Proposes New Meeting with Putin\n"

    assert cli.main(["search", "Who leads the Ukrainian delegation?", "-k", "3", "--index", idx]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6
    assert lines[0].startswith(" 1. ") and f"  {aid}:20  [Zelensky Proposes" in lines[0]
    assert lines[1] == ("    The Ukrainian delegation will be led by former Defense Minister Rustem Umerov, who now "
                        "serves as secretary of the National Security and Defense Council.")

    assert cli.main(["stats", "--index", idx]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["articles 1", "sentences 38", "chunks 12"]
    assert out[3].startswith("size on disk ") and out[3].endswith(" MB")

    assert cli.main(["remove", aid, "--index", idx]) == 0
    assert capsys.readouterr().out == f"removed {aid}: Zelensky Proposes New Meeting with Putin\n"
    assert cli.main(["stats", "--index", idx]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == ["articles 0", "sentences 0", "chunks 0"]


def test_cli_errors_exit_2_with_a_message(tmp_path: Path, capsys, clean_env) -> None:
    idx = str(tmp_path / "idx")
    assert cli.main(["ingest", str(tmp_path / "missing"), "--index", idx]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No such file or folder: ") and "missing" in err
    assert not (tmp_path / "idx" / "store.sqlite3").exists()

    (tmp_path / "empty").mkdir()
    assert cli.main(["ingest", str(tmp_path / "empty"), "--index", idx]) == 2
    assert "is empty" in capsys.readouterr().err

    assert cli.main(["list", "--index", idx]) == 2
    assert capsys.readouterr().err.startswith(f"error: No index at {idx}/")

    assert cli.main(["stats", "--index", idx]) == 2
    assert "No index at" in capsys.readouterr().err


def test_cli_remove_unknown_id_exits_2(tmp_path: Path, capsys, clean_env, minilm, seed_file: Path) -> None:
    idx = tmp_path / "idx"
    Library(idx, embedder=minilm).ingest([seed_file])
    assert cli.main(["remove", "nope", "--index", str(idx)]) == 2
    assert capsys.readouterr().err == "error: No article with id 'nope' in the index. List ids with: rag list\n"
    assert current(idx) == 2


def test_every_cli_command_parses_its_documented_options() -> None:
    """The parser builds (no clashing options) and each subcommand takes the options the README shows."""
    parser = cli.build_parser()
    for argv in (["ask", "q", "--json", "--index", "x"], ["chat", "--index", "x"], ["eval", "seed", "--limit", "3"],
                 ["bench", "--only", "cold,embedding", "--articles", "10", "--index", "x"]):
        assert parser.parse_args(argv).command == argv[0]
