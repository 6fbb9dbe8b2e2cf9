"""Keyword search: a tantivy index (Okapi BM25, block-max WAND) of each chunk's content words, in `keywords/`.

Why tantivy and not SQLite's FTS5: on the same million chunks, an `OR` of a question's words took FTS5 ~300 ms
(its bm25 reads every posting of every word) and tantivy ~2 ms (it skips postings that cannot reach the top k).

Derived data, like the IVF: SQLite stays the system of record, and the keyword index can be rebuilt from it. A
write adds its chunks' words and commits them just before the SQLite commit; removed chunks are deleted just
after it. A keyword hit whose chunk is not committed is dropped by the reader (it reads the chunk rows from SQLite),
committed chunk ids are never reused, and each writer first deletes any document at or above the committed
`next_chunk_id` (left by a write that failed between the two commits).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER = "keywords"
HEAP_BYTES = 50_000_000  # tantivy's indexing buffer (it refuses less than ~15 MB a thread)


def _tantivy():  # noqa: ANN202 - the module, imported when an index is opened
    import tantivy

    return tantivy


def _schema():  # noqa: ANN202 - tantivy.Schema
    tv = _tantivy()
    sb = tv.SchemaBuilder()
    sb.add_integer_field("cid", stored=False, indexed=True, fast=True)
    sb.add_text_field("words", stored=False, tokenizer_name="whitespace", index_option="freq")
    return sb.build()


class KeywordError(OSError):
    """A keyword index that cannot be written (tantivy reports a full disk, say, as a ValueError)."""


class Keywords:
    """A reader of the committed keyword index."""

    def __init__(self, index: object) -> None:
        self.index = index
        self.schema = index.schema

    @classmethod
    def open(cls, folder: Path) -> Keywords | None:
        """The index in `folder`, or None when it is missing or cannot be read (then keyword search is off until
        the next writer rebuilds it)."""
        if not (folder / "meta.json").is_file():
            return None
        try:
            return cls(_tantivy().Index(_schema(), path=str(folder), reuse=True))
        except (ValueError, OSError) as e:
            log.warning("the keyword index in %s cannot be opened (%s): dense search only until it is rebuilt",
                        folder, e)
            return None

    def reload(self) -> None:
        self.index.reload()

    def search(self, words: list[str], k: int) -> list[tuple[int, float]]:
        """The k chunks with the best BM25 over any of `words`, best first (ties: the lower id)."""
        tv = _tantivy()
        terms = sorted(set(words))
        if not terms:
            return []
        query = tv.Query.boolean_query([(tv.Occur.Should, tv.Query.term_query(self.schema, "words", w))
                                        for w in terms])
        searcher = self.index.searcher()
        hits = searcher.search(query, k).hits
        ids = searcher.fast_field_values("cid", [address for _, address in hits])
        return sorted(((int(cid), float(score)) for (score, _), cid in zip(hits, ids, strict=True)),
                      key=lambda h: (-h[1], h[0]))

    def df(self, word: str) -> int:
        """How many chunks hold `word` (removed ones too, until tantivy merges them away)."""
        return int(self.index.searcher().doc_freq("words", word))

    def vocabulary(self) -> list[tuple[str, int]]:
        """Every word with its chunk count: a walk of the whole dictionary (exports, training; not answering)."""
        return self.index.searcher().terms_with_prefix("words", "")


class KeywordWriter:
    """The writer's side: adds and deletes, committed by `commit` (one tantivy writer, under the folder's lock)."""

    def __init__(self, folder: Path, next_chunk_id: int) -> None:
        tv = _tantivy()
        self.folder = folder
        try:
            if not (folder / "meta.json").is_file():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
            self.index = tv.Index(_schema(), path=str(folder), reuse=True)
            self.writer = self.index.writer(heap_size=HEAP_BYTES, num_threads=1)
            # documents of a write that failed after its keyword commit: their ids will be handed out again
            stale = tv.Query.range_query(self.index.schema, "cid", tv.FieldType.Integer, lower_bound=next_chunk_id)
            self.writer.delete_documents_by_query(stale)
        except ValueError as e:
            raise KeywordError(f"the keyword index in {folder} cannot be written: {e}") from e
        self.pending = self.closed = False

    def add(self, chunk_id: int, words: str) -> None:
        self.writer.add_document(_tantivy().Document(cid=chunk_id, words=words))
        self.pending = True

    def delete(self, chunk_ids: list[int]) -> None:
        for cid in chunk_ids:
            self.writer.delete_documents_by_term("cid", cid)
        self.pending = self.pending or bool(chunk_ids)

    def commit(self) -> None:
        try:
            self.writer.commit()
        except ValueError as e:  # tantivy's errors (a full disk too) come as ValueError
            raise KeywordError(f"the keyword index could not be written: {e}") from e
        self.pending = False

    def rollback(self) -> None:
        if not self.closed:
            with contextlib.suppress(ValueError):
                self.writer.rollback()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.writer.wait_merging_threads()
        except ValueError as e:
            log.warning("merging the keyword index's segments failed: %s", e)
