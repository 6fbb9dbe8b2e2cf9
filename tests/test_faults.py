"""Faults give clear errors and lose nothing: a missing or corrupt model file, an index folder that cannot be
written, a full disk."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from rag import store as store_mod
from rag.errors import ModelError, RagError
from rag.generate import Prompt, make_generator
from rag.library import Library


def test_missing_model_file_names_the_path_and_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"Model file not found: .*nope\.gguf.*'gemma' or 'smollm2'"):
        make_generator(str(tmp_path / "nope.gguf"))


def test_corrupt_model_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00garbage" * 100)
    generator = make_generator(str(bad))
    with pytest.raises(ModelError, match="Could not load the model file .*broken.gguf"):
        list(generator.stream(Prompt("", "context", "question"), 4))


def test_unknown_model_lists_the_valid_choices() -> None:
    with pytest.raises(RagError, match="Use 'gemma', 'smollm2', a path to a .gguf file, or an OpenAI-compatible"):
        make_generator("gpt-17")


def _articles(tmp_path: Path, n: int) -> Path:
    src = tmp_path / f"src{n}"
    src.mkdir()
    recs = [{"title": f"Story {n}-{i}", "text": f"Batch {n} story {i} happened in town {i * 7 + n}. It was widely "
             f"reported by {n * 11 + i} outlets.", "url": f"https://example.test/{n}/{i}"} for i in range(n)]
    (src / "a.jsonl").write_text("\n".join(json.dumps(r) for r in recs))
    return src


def test_index_folder_that_cannot_be_written_is_a_clear_error(tmp_path: Path, hash_embedder) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the index folder should be")
    lib = Library(blocker / "index", embedder=hash_embedder)
    with pytest.raises(RagError, match="Could not write the index .*previous index is unchanged"):
        lib.ingest([_articles(tmp_path, 2)])


def _files(index: Path) -> dict[str, int]:
    """The index's files but the lock, the SQLite log and the keyword index (tantivy collects its own garbage;
    what it holds is checked by searching)."""
    return {str(p.relative_to(index)): p.stat().st_size for p in index.rglob("*")
            if p.is_file() and p.name not in ("write.lock", "store.sqlite3-wal", "store.sqlite3-shm")
            and not str(p.relative_to(index)).startswith("keywords")}


def _state(index: Path) -> tuple[dict, list[str]]:
    st = store_mod.open_store(index)
    return st.stats(), sorted(st.article_ids())


def test_full_disk_while_writing_vectors_keeps_the_previous_index(tmp_path: Path, hash_embedder,
                                                                  monkeypatch) -> None:
    import numpy as np

    index = tmp_path / "index"
    lib = Library(index, embedder=hash_embedder)
    lib.ingest([_articles(tmp_path, 3)])
    before, files = _state(index), _files(index)

    def disk_full(*args: object, **kwargs: object) -> None:  # what a write does when the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", disk_full)
    with pytest.raises(RagError, match="No space left on device.*previous index is unchanged"):
        lib.ingest([_articles(tmp_path, 5)])
    monkeypatch.undo()

    assert _state(index) == before and lib.stats().articles == 3
    assert _files(index) == files  # no half-written segment left behind
    lib.ingest([_articles(tmp_path, 4)])  # the next write works
    assert store_mod.open_store(index).stats()["articles"] == 7


def test_database_full_at_commit_keeps_the_previous_index_and_removes_the_new_segment(tmp_path: Path, hash_embedder,
                                                                                        monkeypatch) -> None:
    import sqlite3

    from rag.store.writer import Writer

    index = tmp_path / "index"
    lib = Library(index, embedder=hash_embedder)
    lib.ingest([_articles(tmp_path, 3)])
    before, files = _state(index), _files(index)

    def full(self: Writer) -> None:  # the segment is written; the commit itself fails as SQLite does on a full disk
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Writer, "_bump", full)
    with pytest.raises(RagError, match="No space left on device.*previous index is unchanged"):
        lib.ingest([_articles(tmp_path, 5)])
    monkeypatch.undo()
    assert _state(index) == before and _files(index) == files
    lib.ingest([tmp_path / "src5"])
    assert lib.stats().articles == 8
    # the failed write had committed its words to the keyword index; the next writer dropped them before reusing
    # their chunk ids, so every keyword hit is a committed chunk whose text holds the word
    st = store_mod.open_store(index)
    hits = st.search_words(["batch", "story", "town", "outlets"], 100)
    chunks = st.chunks([c for c, _ in hits])
    assert len(hits) == len(chunks) == 8


def test_failure_while_merging_after_the_commit_keeps_the_write(tmp_path: Path, hash_embedder, monkeypatch,
                                                               caplog) -> None:
    from rag.store.writer import Writer

    index = tmp_path / "index"
    lib = Library(index, embedder=hash_embedder)
    lib.ingest([_articles(tmp_path, 3)])

    def broken(self: Writer) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(Writer, "_merge_open_segments", broken)
    lib.ingest([_articles(tmp_path, 5)])  # no error: the write is committed, merging waits for the next writer
    assert "merging the index's vector segments failed" in caplog.text
    monkeypatch.undo()
    assert store_mod.open_store(index).stats()["articles"] == 8


# ---- the same faults for real: a small tmpfs that fills up, and one remounted read-only (root only) -----------------
@pytest.fixture
def small_disk(tmp_path: Path):  # noqa: ANN201 - yields (mount point, remount function)
    """A real 2 MB tmpfs; skipped where mounting is not allowed (not root, or a container without CAP_SYS_ADMIN)."""
    import subprocess

    point = tmp_path / "disk"
    point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(point)], capture_output=True,
                             check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()}); the simulated cases above ran")

    def remount(mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(point)], check=True)

    try:
        yield point, remount
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def _big_articles(tmp_path: Path, name: str, n: int, words: int) -> Path:
    src = tmp_path / name
    src.mkdir()
    recs = [{"title": f"{name} {i}", "url": f"https://example.test/{name}/{i}",
             "text": " ".join(f"Sentence {j} of {name} {i} says the value was {i * 1000 + j}." for j in range(words))}
            for i in range(n)]
    (src / "a.jsonl").write_text("\n".join(json.dumps(r) for r in recs))
    return src


def test_really_full_disk_keeps_the_previous_index_and_frees_the_partial_write(tmp_path: Path, small_disk,
                                                                                hash_embedder) -> None:
    point, _ = small_disk
    index = point / "index"
    lib = Library(index, embedder=hash_embedder)
    lib.ingest([_big_articles(tmp_path, "small", 3, 20)])
    before, files = _state(index), _files(index)
    with pytest.raises(RagError, match="No space left on device.*previous index is unchanged"):
        lib.ingest([_big_articles(tmp_path, "huge", 80, 500)])  # ~2.5 MB of text alone on a 2 MB disk
    assert _state(index) == before
    assert {k: v for k, v in _files(index).items() if k != "store.sqlite3"} == \
        {k: v for k, v in files.items() if k != "store.sqlite3"}  # no partial segment: the space came back
    lib.ingest([_big_articles(tmp_path, "more", 2, 20)])  # and the next write that fits works
    assert store_mod.open_store(index).stats()["articles"] == 5


def test_really_read_only_index_folder_is_a_clear_error_and_still_answers(tmp_path: Path, small_disk,
                                                                          hash_embedder) -> None:
    point, remount = small_disk
    index = point / "index"
    writer = Library(index, embedder=hash_embedder)
    writer.ingest([_big_articles(tmp_path, "small", 3, 5)])
    writer.close()  # a file open for writing keeps the disk from being remounted read-only
    remount("ro")
    try:
        lib = Library(index, embedder=hash_embedder)
        with pytest.raises(RagError, match="Could not write the index .*Read-only file system.*previous index is "
                                           "unchanged"):
            lib.ingest([_big_articles(tmp_path, "more", 2, 5)])
        assert store_mod.open_store(index).stats()["articles"] == 3  # reading still works
        assert lib.search("value was 1002", k=3)  # and so does searching
    finally:
        remount("rw")
