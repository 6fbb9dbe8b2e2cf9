"""What the chat UI shows, as plain functions on plain data: answers, citations and articles as HTML,
and the chat / corpus events. No gradio here: ui.py only wires these to widgets.

Safety rule: everything that comes from an article or a model (titles, text, answers, sources, URLs,
file names) goes through `esc` before it becomes HTML, and nothing here is ever rendered as markdown.
"""

from __future__ import annotations

import contextlib
import html
import logging
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Protocol

from rag.answer.conversation import Turn
from rag.answer.records import Answer, Citation
from rag.answer.retrieve import Filters
from rag.errors import RagError
from rag.ingest.articles import Article
from rag.settings import Settings

log = logging.getLogger(__name__)

MARKER = re.compile(r"\[(\d+)\]")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
UPLOAD_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
EMBEDDED_MODELS = ("gemma", "smollm2")


def esc(text: object) -> str:
    """Inert HTML text: <, >, &, quotes escaped."""
    return html.escape(str(text), quote=True)


# ---- answers and citations --------------------------------------------------------------------


def answer_text_html(text: str, cited: set[int]) -> str:
    """The answer text escaped, each marker [n] of a known citation turned into a clickable link."""
    out: list[str] = []
    pos = 0
    for m in MARKER.finditer(text):
        out.append(esc(text[pos : m.start()]))
        n = int(m.group(1))
        out.append(cite_link(n) if n in cited else esc(m.group(0)))
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def cite_link(n: int) -> str:
    return f'<a href="#" class="rag-cite" data-cite="{n}" title="Show the source sentence">[{n}]</a>'


def citation_item(c: Citation) -> str:
    """One row of the sources panel: marker, the cited sentence, its article and support score."""
    return (f'<li class="rag-source" data-cite="{c.n}">{cite_link(c.n)} '
            f'<span class="rag-sentence">{esc(c.text)}</span> '
            f'<span class="rag-meta">— {esc(c.title or "untitled")} · support {c.score:.2f}</span></li>')


def sources_panel(citations: tuple[Citation, ...], heading: str) -> str:
    if not citations:
        return ""
    items = "".join(citation_item(c) for c in citations)
    return f'<div class="rag-sources"><div class="rag-sources-title">{esc(heading)}</div><ol>{items}</ol></div>'


def safe_link(url: str) -> str:
    """A link only for http(s) URLs (never javascript: or data:), always escaped."""
    if re.match(r"https?://", url or "", re.IGNORECASE):
        return f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">{esc(url)}</a>'
    return esc(url)


def mark_id(turn: int, n: int) -> str:
    return f"rag-mark-{turn}-{n}"


def highlighted_text(text: str, start: int, end: int, mark: str, sentence_id: str = "") -> str:
    """The article text, escaped, with the exact slice text[start:end] wrapped in <mark>."""
    return (f"{esc(text[:start])}<mark id=\"{esc(mark)}\" data-sentence-id=\"{esc(sentence_id)}\">"
            f"{esc(text[start:end])}</mark>{esc(text[end:])}")


def article_view(article: Article, c: Citation, turn: int) -> str:
    """The source article of citation `c`, its cited sentence highlighted."""
    meta = " · ".join(esc(x) for x in (article.source or "unknown source", article.date[:10] or "no date"))
    link = f'<div class="rag-link">{safe_link(article.url)}</div>' if article.url else ""
    note = ""
    if article.text[c.start : c.end] != c.text:
        note = '<div class="rag-note">This article changed after the answer was written.</div>'
    body = highlighted_text(article.text, c.start, c.end, mark_id(turn, c.n), c.sentence_id)
    return (f'<div class="rag-viewer" data-cite="{c.n}" hidden>'
            f'<div class="rag-article-title">[{c.n}] {esc(article.title or "untitled")}</div>'
            f'<div class="rag-meta">{meta}</div>{link}{note}'
            f'<div class="rag-article-text">{body}</div></div>')


def missing_article_view(c: Citation) -> str:
    return (f'<div class="rag-viewer" data-cite="{c.n}" hidden><div class="rag-article-title">[{c.n}] '
            f'{esc(c.title)}</div><div class="rag-note">This article is no longer in the library.</div></div>')


def viewers(citations: tuple[Citation, ...], articles: dict[str, Article], turn: int) -> str:
    parts = [article_view(articles[c.article_id], c, turn) if c.article_id in articles else missing_article_view(c)
             for c in citations]
    return f'<div class="rag-viewers">{"".join(parts)}</div>' if parts else ""


def question_html(question: str) -> str:
    return f'<div class="rag-question"><span class="rag-who">You</span>{esc(question)}</div>'


def footer(answer: Answer) -> str:
    seconds = sum(answer.timings.values())
    bits = [answer.model or "", f"{seconds:.1f} s" if seconds else "", answer.mode if answer.mode else ""]
    return f'<div class="rag-footer">{esc(" · ".join(b for b in bits if b))}</div>'


def answer_html(turn: int, question: str, answer: Answer, articles: dict[str, Article]) -> str:
    """A finished turn: the checked answer with clickable markers, its sources, and hidden article views."""
    if answer.refused:
        body = (f'<div class="rag-answer rag-refused" data-final="1"><span class="rag-badge">Not in the articles'
                f'</span> <span class="rag-text">{esc(answer.text)}</span></div>')
        shown = answer.closest
        panel = sources_panel(shown, "Closest sentences found")
    else:
        cited = {c.n for c in answer.citations}
        badge = '<span class="rag-badge rag-disagree">Sources disagree</span> ' if answer.sources_disagree else ""
        body = (f'<div class="rag-answer" data-final="1">{badge}<span class="rag-text">'
                f'{answer_text_html(answer.text, cited)}</span></div>')
        shown = answer.citations
        panel = sources_panel(shown, "Sources")
    return (f'<div class="rag-turn" data-turn="{turn}">{question_html(question)}{body}{panel}'
            f'{viewers(shown, articles, turn)}{footer(answer)}</div>')


def streaming_html(turn: int, question: str, draft: str) -> str:
    """A turn while the model writes: the raw draft, escaped; citations are checked when it is done."""
    status = "Checking citations when the model is done…" if draft else "Searching the articles…"
    return (f'<div class="rag-turn" data-turn="{turn}">{question_html(question)}'
            f'<div class="rag-answer rag-streaming"><span class="rag-text">{esc(draft)}</span>'
            f'<div class="rag-status">{status}</div></div></div>')


def error_html(turn: int, question: str, message: str) -> str:
    return (f'<div class="rag-turn" data-turn="{turn}">{question_html(question)}'
            f'<div class="rag-answer rag-error" data-final="1"><span class="rag-badge">Could not answer</span> '
            f'<span class="rag-text">{esc(message)}</span></div></div>')


INTRO = ('<div class="rag-intro">Ask a question about the articles. Answers cite their source sentences: '
         'click a marker like [1] to read the sentence in its article.</div>')


@dataclass(frozen=True)
class Exchange:
    """One finished turn of a chat session: its rendered HTML, and the answer text for the history."""

    question: str
    html: str
    answer: str | None = None  # None when the turn failed


def conversation_html(exchanges: list[Exchange], pending: str = "") -> str:
    if not exchanges and not pending:
        return f'<div class="rag-chat">{INTRO}</div>'
    return f'<div class="rag-chat">{"".join(e.html for e in exchanges)}{pending}</div>'


def history(exchanges: list[Exchange]) -> list[Turn]:
    return [Turn(e.question, e.answer) for e in exchanges if e.answer is not None]


# ---- chat events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatOptions:
    model: str = "gemma"
    evidence_sentences: int = 6
    sources: tuple[str, ...] = ()
    date_from: str = ""
    date_to: str = ""


class AssistantLike(Protocol):
    def ask_stream(self, question: str, history: list[Turn] | None = None,
                   filters: Filters | None = None) -> Iterator[str | Answer]: ...


class AssistantSource(Protocol):
    def get(self, model: str, evidence_sentences: int) -> AssistantLike: ...

    def article(self, article_id: str) -> Article: ...


def check_date(value: str, label: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        if not DATE.fullmatch(value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise RagError(f"The {label} date {value!r} is not a date: write it as YYYY-MM-DD, e.g. 2025-06-01.") from None
    return value


def make_filters(options: ChatOptions) -> Filters | None:
    """Filters from the settings panel; None when nothing filters."""
    date_from = check_date(options.date_from, "from")
    date_to = check_date(options.date_to, "to")
    if date_from and date_to and date_from > date_to:
        raise RagError(f"The date range is empty: 'from' ({date_from}) is after 'to' ({date_to}).")
    sources = tuple(s for s in options.sources if s)
    if not (sources or date_from or date_to):
        return None
    return Filters(sources, date_from, date_to)


def check_model(model: str) -> str:
    model = (model or "").strip()
    if not model:
        raise RagError("Choose a model: gemma, smollm2, a path to a .gguf file, or an OpenAI-compatible URL.")
    if model in EMBEDDED_MODELS or model.startswith(("http://", "https://")) or model.endswith(".gguf"):
        return model
    raise RagError(f"Unknown model {model!r}: choose gemma or smollm2, give the path of a .gguf file, or the URL of "
                   "an OpenAI-compatible server such as http://127.0.0.1:8000/v1.")


def cited_articles(source: AssistantSource, answer: Answer) -> dict[str, Article]:
    """The articles the answer points at, read now so that the view matches the offsets of the answer."""
    out: dict[str, Article] = {}
    for c in (*answer.citations, *answer.closest):
        if c.article_id not in out:
            with contextlib.suppress(KeyError):  # removed meanwhile: the view says so
                out[c.article_id] = source.article(c.article_id)
    return out


def chat_turn(source: AssistantSource, question: str, exchanges: list[Exchange],
              options: ChatOptions) -> Iterator[tuple[list[Exchange], str]]:
    """Answer one question of a session: yield (exchanges, conversation HTML) while streaming, then the
    finished turn. A failure becomes a friendly message in this session's chat, never an exception."""
    question = (question or "").strip()
    if not question:
        yield exchanges, conversation_html(exchanges)
        return
    turn = len(exchanges)
    yield exchanges, conversation_html(exchanges, streaming_html(turn, question, ""))
    try:
        filters = make_filters(options)
        assistant = source.get(check_model(options.model), int(options.evidence_sentences))
        draft = ""
        answer: Answer | None = None
        for item in assistant.ask_stream(question, history(exchanges), filters):
            if isinstance(item, Answer):
                answer = item
            else:
                draft += item
                yield exchanges, conversation_html(exchanges, streaming_html(turn, question, draft))
        if answer is None:
            raise RagError("The model stopped without an answer. Ask again.")
        done = Exchange(question, answer_html(turn, question, answer, cited_articles(source, answer)), answer.text)
    except RagError as e:
        done = Exchange(question, error_html(turn, question, str(e)))
    except Exception as e:  # noqa: BLE001 - one failing request must not break the session or others
        log.exception("answering %r failed", question)
        done = Exchange(question, error_html(turn, question, f"Something went wrong while answering "
                                                             f"({type(e).__name__}: {e}). Try again."))
    new = [*exchanges, done]
    yield new, conversation_html(new)


# ---- shared assistants --------------------------------------------------------------------------


class Assistants:
    """One library and one Assistant per settings (model, evidence count), shared by all sessions.
    Nothing heavy loads here: the embedder and the model load on the first question."""

    def __init__(self, settings: Settings, seeds_dir: Path | None = None) -> None:
        self.settings = settings
        self.seeds_dir = seeds_dir
        self._library = None
        self._by_settings: dict[tuple[str, int], object] = {}
        self._generators: dict[str, object] = {}
        self._lock = threading.Lock()

    @property
    def library(self):  # noqa: ANN201 - rag.library.Library, imported lazily
        with self._lock:
            if self._library is None:
                from rag.library import Library

                s = self.settings
                self._library = Library(s.index_dir, None, s.chunk_sentences, s.chunk_overlap, s.top_chunks)
            return self._library

    def ensure_index(self) -> None:
        """A first start without an index builds it from the seed articles."""
        from rag import store

        lib = self.library
        if not store.exists(lib.index_dir) and self.seeds_dir and self.seeds_dir.is_dir():
            log.info("no index at %s: building it from %s", lib.index_dir, self.seeds_dir)
            lib.ingest([self.seeds_dir])

    def get(self, model: str, evidence_sentences: int):  # noqa: ANN201 - rag.assistant.Assistant
        from rag.assistant import Assistant
        from rag.generate import make_generator

        self.ensure_index()
        lib = self.library
        key = (model, evidence_sentences)
        with self._lock:
            if key not in self._by_settings:
                s = replace(self.settings, model=model, evidence_sentences=evidence_sentences)
                if model not in self._generators:
                    self._generators[model] = make_generator(model, s.threads, s.api_model, s.api_key, s.timeout_s,
                                                             s.seed)
                assistant = Assistant(s, lib.embedder, self._generators[model])  # type: ignore[arg-type]
                assistant.library = lib  # every assistant reads (and sees writes to) the one library
                self._by_settings[key] = assistant
            return self._by_settings[key]

    def article(self, article_id: str) -> Article:
        return self.library.article(article_id)


# ---- corpus management --------------------------------------------------------------------------


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


Progress = Callable[[int, int], None]


def ingest_uploads(library, paths: list[str], progress: Progress | None = None) -> str:  # noqa: ANN001
    """Add uploaded files to the library; a readable summary (or the reason nothing was added)."""
    if not paths:
        return "Choose one or more article files first (.txt .md .html .json .jsonl)."
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


# ---- look and behaviour of the chat HTML ----------------------------------------------------------

CSS = """
.rag-chat { display: flex; flex-direction: column; gap: 14px; padding: 4px; }
.rag-intro, .rag-empty { color: var(--body-text-color-subdued); padding: 12px; }
.rag-turn { display: flex; flex-direction: column; gap: 6px; }
.rag-question { align-self: flex-end; max-width: 85%; background: var(--color-accent-soft);
  border-radius: 12px; padding: 8px 12px; white-space: pre-wrap; }
.rag-who { font-weight: 600; margin-right: 8px; }
.rag-answer { max-width: 95%; background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary); border-radius: 12px; padding: 10px 12px; white-space: pre-wrap; }
.rag-streaming { opacity: 0.8; }
.rag-status { font-size: 0.85em; color: var(--body-text-color-subdued); margin-top: 4px; font-style: italic; }
.rag-refused { border: 1px solid #d97706; background: rgba(245, 158, 11, 0.12); }
.rag-error { border: 1px solid #dc2626; background: rgba(239, 68, 68, 0.12); }
.rag-badge { display: inline-block; font-size: 0.8em; font-weight: 600; border-radius: 6px; padding: 1px 6px;
  margin-right: 6px; background: #d97706; color: white; }
.rag-error .rag-badge { background: #dc2626; }
.rag-disagree { background: #7c3aed; }
a.rag-cite { font-weight: 600; text-decoration: none; color: var(--color-accent); cursor: pointer;
  padding: 0 1px; border-radius: 4px; }
a.rag-cite:hover, a.rag-cite.rag-active { background: var(--color-accent-soft); }
.rag-sources { font-size: 0.9em; border-left: 3px solid var(--border-color-primary); padding: 2px 10px; }
.rag-sources-title { font-weight: 600; margin-bottom: 2px; }
.rag-sources ol { list-style: none; margin: 0; padding: 0; }
.rag-sources li { margin: 3px 0; }
.rag-meta, .rag-footer { font-size: 0.85em; color: var(--body-text-color-subdued); }
.rag-viewer { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px;
  background: var(--background-fill-primary); }
.rag-viewer[hidden] { display: none; }
.rag-article-title { font-weight: 600; }
.rag-note { color: #b45309; font-size: 0.9em; }
.rag-article-text { white-space: pre-wrap; max-height: 320px; overflow-y: auto; margin-top: 6px;
  line-height: 1.5; font-size: 0.95em; }
.rag-article-text mark { background: #fde047; color: black; border-radius: 3px; padding: 0 2px; }
table.rag-articles { width: 100%; border-collapse: collapse; font-size: 0.92em; }
table.rag-articles th, table.rag-articles td { text-align: left; padding: 4px 8px;
  border-bottom: 1px solid var(--border-color-primary); vertical-align: top; }
table.rag-articles td.rag-num { text-align: right; }
"""

# Runs once per chat widget (gradio's js_on_load): one delegated listener survives every re-render.
CITE_JS = """
element.addEventListener('click', (event) => {
  const link = event.target.closest('a.rag-cite');
  if (!link || !element.contains(link)) return;
  event.preventDefault();
  const turn = link.closest('.rag-turn');
  if (!turn) return;
  const n = link.dataset.cite;
  for (const v of turn.querySelectorAll('.rag-viewer')) v.hidden = v.dataset.cite !== n;
  for (const a of turn.querySelectorAll('a.rag-cite')) a.classList.toggle('rag-active', a.dataset.cite === n);
  const mark = turn.querySelector('.rag-viewer[data-cite="' + n + '"] mark');
  if (mark) mark.scrollIntoView({block: 'center'});
});
"""
