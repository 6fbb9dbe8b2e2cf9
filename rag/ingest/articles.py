"""Load article files (.txt .md .html .json .jsonl) into clean `Article` records."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.errors import BadInput
from rag.ingest.html import html_to_text

SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
MAX_FILE_BYTES = 20_000_000

# Whole lines that are web furniture, never article prose.
_BOILERPLATE = re.compile(
    r"^\s*(post a comment|previous post\s*next post|previous post|next post|share this( article| story)?|"
    r"advertisement|read more|related( articles| stories)?:?|sign up for .{0,60}newsletter.*|"
    r"click here to .{0,60}|subscribe( now)?|leave a comment|comments?|share on (facebook|twitter|x)|"
    r"follow us on .{0,40}|all rights reserved.*|copyright ©.*|©.{0,80})\s*$",
    re.IGNORECASE,
)
_INVISIBLE = re.compile("[\x00\u200b\u200c\u200d\u2060\ufeff]")  # NUL, zero-width characters and BOM
_SURROGATE = re.compile("[\ud800-\udfff]")  # lone surrogates (from JSON "\\ud800" escapes) are not valid UTF-8
_TOO_DEEP = 'JSON nested too deeply to read; article records are flat objects with "title" and "text"'


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    text: str
    date: str = ""
    source: str = ""
    url: str = ""

    @property
    def content_hash(self) -> str:
        return hashlib.sha1(f"{self.title}\n{self.text}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def make_article(title: str, text: str, *, date: str = "", source: str = "", url: str = "", id: str = "") -> Article:
    """Clean the text and give the article a stable id: from its URL, else from its content."""
    title = _clean_line(title)
    clean = clean_text(str(text or ""), title)
    url, id = _valid(url), _valid(id)
    if not id:
        key = url.strip() if url.strip() else clean
        id = hashlib.sha1(key.encode()).hexdigest()[:16]
    return Article(id=id, title=title or _first_words(clean), text=clean, date=_valid(date), source=_valid(source),
                   url=url)


def _valid(value: object) -> str:
    """`value` as a string that can be stored as UTF-8: lone surrogates become U+FFFD."""
    return _SURROGATE.sub("\ufffd", str(value or ""))


def _clean_line(line: object) -> str:
    """One line (or a title) as stored: invisible characters dropped, whitespace collapsed, valid UTF-8."""
    return " ".join(_INVISIBLE.sub("", _valid(line)).split())


def clean_text(text: str, title: str = "") -> str:
    """Normalise whitespace, drop boilerplate lines and lines repeating the title."""
    norm_title = _clean_line(title).casefold()
    lines: list[str] = []
    for line in _newlines(text).split("\n"):
        line = _clean_line(line)
        if _BOILERPLATE.match(line) or (norm_title and line.casefold() == norm_title):
            line = ""
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip()


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _first_words(text: str, n: int = 12) -> str:
    return " ".join(text.split()[:n])


def iter_files(paths: list[Path]) -> Iterator[Path | Skipped]:
    """Yield article files under the given paths; missing paths and empty folders raise."""
    for path in paths:
        if not path.exists():
            raise BadInput(f"No such file or folder: {path}. Check the path and try again.")
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            if not found:
                raise BadInput(f"Folder {path} is empty: put {', '.join(SUFFIXES)} article files in it.")
            for p in found:
                yield p if p.suffix.lower() in SUFFIXES else Skipped(str(p), f"unsupported file type {p.suffix!r}")
        else:
            yield path


def load_file(path: Path) -> tuple[list[Article], list[Skipped]]:
    """Load one file. Problems with the file come back as `Skipped` reasons, never as a crash."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        return [], [Skipped(str(path), f"unsupported file type {suffix!r}; use one of {', '.join(SUFFIXES)}")]
    size = path.stat().st_size
    if size == 0:
        return [], [Skipped(str(path), "empty file")]
    if size > MAX_FILE_BYTES:
        return [], [Skipped(str(path), f"file is {size / 1e6:.0f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB "
                                       "per file (split it into smaller files)")]
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        return [], [Skipped(str(path), "binary file, not text")]
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return [], [Skipped(str(path), f"not UTF-8 text (byte {e.start}); re-save the file as UTF-8")]
    articles, skipped = parse_text(raw, suffix, str(path))
    if not articles and not skipped:  # e.g. a .json holding [] or a .jsonl of blank lines
        skipped = [Skipped(str(path), "no article records")]
    return articles, skipped


def parse_text(raw: str, suffix: str, name: str) -> tuple[list[Article], list[Skipped]]:
    if suffix in (".json", ".jsonl"):
        return _parse_json(raw, suffix, name)
    if suffix in (".html", ".htm"):
        title, body = html_to_text(raw)
    else:
        first, _, rest = _newlines(raw).strip().partition("\n")
        title, body = first.lstrip("# ").strip(), rest
    art = make_article(title, body)
    if not art.text:
        return [], [Skipped(name, "no article text after cleaning")]
    return [art], []


# the record fields an article is read from, and the names other news exports give them (news-please, NewsAPI,
# RSS dumps): the first one present and non-empty is taken
FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("text", "content", "body", "maintext", "article", "full_text"),
    "title": ("title", "headline"),
    "date": ("date", "published", "published_at", "publishedAt", "publish_date", "date_publish", "pubDate"),
    "source": ("source", "outlet", "publisher", "source_domain", "site_name"),
    "url": ("url", "link", "href"),
    "id": ("id",),
}


def _field(rec: dict[str, object], name: str) -> str:
    """The record's value for an article field (`FIELDS`): a list of strings is paragraphs; a source given as an
    object takes its "name" (NewsAPI's {"id": "cnn", "name": "CNN"}); an id may be a number. "" when none
    is a non-empty string."""
    for key in FIELDS[name]:
        value = rec.get(key)
        if isinstance(value, dict):
            value = value.get("name")
        if isinstance(value, list) and value and all(isinstance(x, str) for x in value):
            value = "\n\n".join(value)  # paragraphs
        if isinstance(value, int) and not isinstance(value, bool) and name == "id":
            return str(value)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _parse_json(raw: str, suffix: str, name: str) -> tuple[list[Article], list[Skipped]]:
    records: list[object] = []
    skipped: list[Skipped] = []
    if suffix == ".jsonl":
        for n, line in enumerate(raw.split("\n"), 1):  # not splitlines(): U+2028 etc. may sit inside strings
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                skipped.append(Skipped(f"{name}:{n}", f"invalid JSON: {e.msg}"))
            except RecursionError:
                skipped.append(Skipped(f"{name}:{n}", _TOO_DEEP))
    else:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as e:
            return [], [Skipped(name, f"invalid JSON at line {e.lineno}: {e.msg}")]
        except RecursionError:
            return [], [Skipped(name, _TOO_DEEP)]
        records = data if isinstance(data, list) else [data]
    articles: list[Article] = []
    for n, rec in enumerate(records, 1):
        where = f"{name}#{n}"
        if not isinstance(rec, dict):
            skipped.append(Skipped(where, "record is not a JSON object"))
            continue
        text = _field(rec, "text")
        if not text.strip():
            skipped.append(Skipped(where, 'record has no "text" field; each record needs "title" and "text" (or '
                                          f'one of {", ".join(FIELDS["text"][1:])})'))
            continue
        art = make_article(_field(rec, "title"), text, date=_field(rec, "date"), source=_field(rec, "source"),
                           url=_field(rec, "url"), id=_field(rec, "id"))
        if art.text:
            articles.append(art)
        else:
            skipped.append(Skipped(where, "no article text after cleaning"))
    return articles, skipped
