"""`rag upgrade`: an index of format 1 (version folders) opens with a message saying how to upgrade, and is
migrated in place with its chunk ids and vectors (nothing re-embedded); the old files are kept as a backup."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import storm_and_rates

from rag import cli
from rag.errors import IndexMismatch
from rag.ingest.articles import make_article
from rag.ingest.chunks import article_chunks
from rag.ingest.dedupe import sketch
from rag.ingest.sentences import split_sentences
from rag.library import Library
from rag.store import open_store
from rag.store.legacy import BACKUP, upgrade

ARTICLES = [
    *storm_and_rates(),
    make_article("Зерно", "Урожай пшениці став рекордним. Фермери раді.", source="Укрінформ"),
]


def write_format1(folder: Path, embedder, chunk_sentences: int = 3, overlap: int = 1) -> dict[int, np.ndarray]:
    """A format-1 index as rag wrote it before the SQLite store (one version folder, with a gap in chunk ids)."""
    import faiss

    version = folder / "v000003"
    version.mkdir(parents=True)
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(embedder.dim))
    chunks, vectors, next_id = [], {}, 5  # ids 0-4 belonged to a removed article
    with open(version / "articles.jsonl", "w", encoding="utf-8") as f:
        for art in ARTICLES:
            sents = split_sentences(art.id, art.text)
            spans, texts = article_chunks(art.title, sents, chunk_sentences, overlap)
            for (first, last), vec in zip(spans, embedder.embed(texts), strict=True):
                chunks.append([next_id, art.id, first, last])
                vectors[next_id] = vec
                index.add_with_ids(vec.reshape(1, -1), np.array([next_id], dtype=np.int64))
                next_id += 1
            f.write(json.dumps(dict(art.__dict__, spans=[[s.start, s.end] for s in sents], sketch=sketch(art.text)),
                               ensure_ascii=False) + "\n")
    (version / "chunks.json").write_text(json.dumps({"next_id": next_id + 2, "chunks": chunks}))
    (version / "manifest.json").write_text(json.dumps({"format": 1, "embedder": embedder.name, "dim": embedder.dim,
                                                       "chunk_sentences": chunk_sentences, "chunk_overlap": overlap}))
    faiss.write_index(index, str(version / "vectors.faiss"))
    (folder / "CURRENT").write_text("v000003")
    return vectors


def test_old_index_says_how_to_upgrade_then_upgrades_in_place(tmp_path: Path, hash_embedder, capsys,
                                                               monkeypatch) -> None:
    index = tmp_path / "index"
    vectors = write_format1(index, hash_embedder)
    with pytest.raises(IndexMismatch, match=rf"old format .*rag upgrade --index {index}"):
        Library(index, embedder=hash_embedder).search("storm")

    monkeypatch.setenv("RAG_INDEX_DIR", str(index))
    assert cli.main(["upgrade", "--index", str(index)]) == 0
    out = capsys.readouterr()
    assert "format 2: 3 articles" in out.out and f"the old files are in {index / BACKUP}" in out.err

    st = open_store(index, hash_embedder.name, hash_embedder.dim)
    assert (st.manifest.chunk_sentences, st.manifest.chunk_overlap) == (3, 1)
    assert sorted(st.article_ids()) == sorted(a.id for a in ARTICLES)
    for art in ARTICLES:
        assert st.article(art.id) == art
        assert st.sentences(art.id) == split_sentences(art.id, art.text)
    assert sorted(st.chunks()) == sorted(vectors)  # the same chunk ids, gap included
    for cid, vec in vectors.items():
        np.testing.assert_array_equal(st.vector(cid), vec)  # the same vectors: nothing re-embedded
    assert sorted(p.name for p in (index / BACKUP).iterdir()) == ["CURRENT", "v000003"]
    assert not (index / "CURRENT").exists()

    lib = Library(index, embedder=hash_embedder)
    assert lib.search("Fed held rates", k=3)
    lib.add_articles([make_article("New story", "Something new happened today.")])
    new_ids = [c.id for c in st.chunks_of(make_article("New story", "Something new happened today.").id)]
    assert min(new_ids) >= max(vectors) + 3  # ids are never reused, even those of chunks removed before

    assert cli.main(["upgrade", "--index", str(index)]) == 2
    assert "already in format 2; nothing to upgrade" in capsys.readouterr().err


def test_an_upgrade_stopped_after_the_switch_is_finished_by_running_it_again(tmp_path: Path, hash_embedder,
                                                                              monkeypatch) -> None:
    import rag.store.legacy as legacy

    index = tmp_path / "index"
    write_format1(index, hash_embedder)

    def stop(_index_dir: Path) -> None:
        raise KeyboardInterrupt  # killed right after the new store was put in place

    monkeypatch.setattr(legacy, "_move_old_files", stop)
    with pytest.raises(KeyboardInterrupt):
        upgrade(index)
    monkeypatch.undo()
    assert open_store(index).stats()["articles"] == 3  # the new store is already the index
    upgrade(index)
    assert not (index / "CURRENT").exists() and (index / BACKUP / "v000003").is_dir()
    assert open_store(index).stats()["articles"] == 3


def test_upgrade_without_an_old_index_says_so(tmp_path: Path, capsys) -> None:
    assert cli.main(["upgrade", "--index", str(tmp_path / "none")]) == 2
    assert "No format-1 index at" in capsys.readouterr().err
