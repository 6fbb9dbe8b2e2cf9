"""The Articles tab on plain data: uploaded files copied under safe names and added to the library, an article
removed, and the library shown as a table and as choices. Which suffixes an upload may have is decided by the
loaders (`rag.ingest.articles.SUFFIXES`), not here."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from rag.errors import RagError
from rag.ingest.articles import SUFFIXES
from rag.present.html import esc

Progress = Callable[[int, int], None]


def suffixes_text() -> str:
    """The readable article file types, e.g. ".txt .md .html .htm .json .jsonl"."""
    return " ".join(SUFFIXES)


def articles_table(infos: list) -> str:  # list[rag.library.ArticleInfo]
    if not infos:
        return '<div class="rag-empty">The library is empty: add article files above.</div>'
    rows = "".join(f"<tr><td>{esc(a.title)}</td><td>{esc(a.source)}</td><td>{esc(a.date[:10])}</td>"
                   f'<td class="rag-num">{a.sentences}</td><td><code>{esc(a.id)}</code></td></tr>' for a in infos)
    total = sum(a.sentences for a in infos)
    return (f'<table class="rag-articles"><thead><tr><th>Title</th><th>Source</th><th>Date</th>'
            f'<th>Sentences</th><th>Id</th></tr></thead><tbody>{rows}</tbody></table>'
            f'<div class="rag-meta">{len(infos)} articles, {total} sentences</div>')


def article_choices(infos: list) -> list[tuple[str, str]]:
    """(label, id) pairs for the remove dropdown. Labels are shown as plain text by the dropdown."""
    return [(f"{a.title[:80]} ({a.date[:10] or 'no date'}) — {a.id}", a.id) for a in infos]


def source_choices(infos: list) -> list[str]:
    return sorted({a.source for a in infos if a.source})


def safe_upload_name(name: str) -> str:
    """A file name that stays inside the upload folder: no folders, no '..', no hidden or odd characters."""
    base = re.split(r"[\\/]", str(name))[-1]
    base = re.sub(r"[^\w.\- ]", "_", base).strip(" .")
    base = re.sub(r"\.{2,}", ".", base)
    return base or "upload"


def copy_uploads(paths: list[str], folder: Path, names: list[str] | None = None) -> list[Path]:
    """Copy uploaded files into `folder` under safe, distinct names."""
    folder = folder.resolve()
    out: list[Path] = []
    used: set[str] = set()
    for i, src in enumerate(paths):
        name = safe_upload_name(names[i] if names else Path(src).name)
        stem, suffix = Path(name).stem, Path(name).suffix
        k = 1
        while name.lower() in used:
            k += 1
            name = f"{stem}-{k}{suffix}"
        used.add(name.lower())
        dest = (folder / name).resolve()
        if dest.parent != folder:
            raise RagError(f"Refusing the file name {name!r}: it points outside the upload folder.")
        shutil.copyfile(src, dest)
        out.append(dest)
    return out


def ingest_uploads(library, paths: list[str], progress: Progress | None = None) -> str:  # noqa: ANN001
    """Add uploaded files to the library; a readable summary (or the reason nothing was added)."""
    if not paths:
        return f"Choose one or more article files first ({suffixes_text()})."
    with tempfile.TemporaryDirectory(prefix="rag-upload-") as tmp:
        folder = Path(tmp)
        try:
            files = copy_uploads(paths, folder)
            summary = library.ingest(files, progress)
        except RagError as e:
            return f"Nothing was added: {e}"
        prefix = f"{folder.resolve()}/"
        return "\n".join(line.replace(prefix, "") for line in summary.lines())


def remove_article(library, article_id: str | None) -> str:  # noqa: ANN001
    if not article_id:
        return "Choose an article to remove first."
    try:
        art = library.remove(article_id)
    except RagError as e:
        return f"Nothing was removed: {e}"
    return f"Removed {art.title!r} ({art.id})."
