"""Format 1 (a version folder per write: manifest.json, articles.jsonl, chunks.json, vectors.faiss, named by CURRENT)
and `rag upgrade`, which turns it into the SQLite store in place, keeping chunk ids and vectors (nothing re-embedded).

The upgrade builds the new store beside the old files and moves the old files into format1-backup/ only after the
new store is complete; interrupted, it leaves the old index as it was, and running it again starts over.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rag.errors import RagError
from rag.ingest.articles import Article
from rag.ingest.sentences import Sentence
from rag.store import db
from rag.store.store import Manifest, Store, create, exists

BACKUP = "format1-backup"


def is_legacy(index_dir: Path) -> bool:
    return (Path(index_dir) / "CURRENT").is_file()


def upgrade(index_dir: Path, progress: Callable[[str], None] | None = None) -> Store:
    """Migrate a format-1 index in place. The old files end up in `index_dir/format1-backup/`."""
    import faiss

    index_dir = Path(index_dir)
    say = progress or (lambda _msg: None)
    if exists(index_dir):
        if is_legacy(index_dir):  # an upgrade stopped after the new store was in place: finish moving the old files
            _move_old_files(index_dir)
            return Store(index_dir)
        raise RagError(f"The index at {index_dir} is already in format {db.FORMAT_VERSION}; nothing to upgrade.")
    if not is_legacy(index_dir):
        raise RagError(f"No format-1 index at {index_dir} (no CURRENT file). Build one with: rag ingest PATH "
                       f"--index {index_dir}")
    version = index_dir / (index_dir / "CURRENT").read_text().strip()
    try:
        raw = json.loads((version / "manifest.json").read_text())
        index = faiss.read_index(str(version / "vectors.faiss"))
        chunks = json.loads((version / "chunks.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RuntimeError) as e:
        raise db.damaged(index_dir, f"{version.name}: {e}") from e
    work = index_dir / ".upgrade"
    shutil.rmtree(work, ignore_errors=True)
    manifest = Manifest(db.FORMAT_VERSION, raw["embedder"], int(raw["dim"]), int(raw["chunk_sentences"]),
                        int(raw["chunk_overlap"]))
    store = create(work, manifest)
    by_article: dict[str, list[tuple[int, int, int]]] = {}
    for cid, aid, first, last in chunks["chunks"]:
        by_article.setdefault(aid, []).append((cid, first, last))
    n = 0
    with store.write("rag upgrade") as w, open(version / "articles.jsonl", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            spans, sketch = rec.pop("spans"), rec.pop("sketch")
            art = Article(**rec)
            sents = [Sentence(art.id, i, s, e, art.text[s:e]) for i, (s, e) in enumerate(spans)]
            mine = sorted(by_article.get(art.id, []))
            ids = np.array([c[0] for c in mine], dtype=np.int64)
            vectors = np.stack([index.reconstruct(int(c)) for c in ids]) if len(ids) else np.zeros((0, manifest.dim))
            w.add_with_ids(art, sketch, [(a, b) for _, a, b in mine], vectors, ids, sents)
            n += 1
            if n % 1000 == 0:
                say(f"{n} articles")
        w.next_chunk_id = max(w.next_chunk_id, int(chunks["next_id"]))
    store.close()
    # the new store is complete: put it in place, then move the old files aside
    if (work / "vectors").is_dir():
        shutil.rmtree(index_dir / "vectors", ignore_errors=True)
        (work / "vectors").replace(index_dir / "vectors")
    (work / db.DB_NAME).replace(index_dir / db.DB_NAME)  # from here on the new store is the index
    _move_old_files(index_dir)
    shutil.rmtree(work, ignore_errors=True)
    say(f"upgraded {n} articles to format {db.FORMAT_VERSION}; the old files are in {index_dir / BACKUP}")
    return Store(index_dir)


def _move_old_files(index_dir: Path) -> None:
    backup = index_dir / BACKUP
    backup.mkdir(exist_ok=True)
    for p in list(index_dir.iterdir()):  # CURRENT last: while it is there, a rerun knows there is more to move
        if p.is_dir() and (p.name.startswith("v0") or p.name.startswith(".tmp-")):
            p.replace(backup / p.name)
    (index_dir / "CURRENT").replace(backup / "CURRENT")
