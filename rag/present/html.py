"""Answers, citations and articles as inert HTML.

Safety rule: everything that comes from an article or a model (titles, text, answers, sources, URLs, file names)
goes through `esc` before it becomes HTML, and nothing here is ever rendered as markdown.

A finished turn (`answer_html`) carries its sources and the hidden views of its cited articles; it is rendered
once, when the `Answer` is final. While the model writes, only the draft (`draft_html`) changes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from rag.answer.records import Answer, Citation
from rag.ingest.articles import Article

MARKER = re.compile(r"\[(\d+)\]")


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


# ---- turns ------------------------------------------------------------------------------------


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


def pending_html(turn: int, question: str) -> str:
    """A turn being answered: its question only. The draft streams in its own small element (`draft_html`)."""
    return f'<div class="rag-turn rag-pending" data-turn="{turn}">{question_html(question)}</div>'


def draft_html(draft: str) -> str:
    """The answer while the model writes: the raw draft, escaped; citations are checked when it is done."""
    status = "Checking citations when the model is done…" if draft else "Searching the articles…"
    return (f'<div class="rag-answer rag-streaming"><span class="rag-text">{esc(draft)}</span>'
            f'<div class="rag-status">{status}</div></div>')


def error_html(turn: int, question: str, message: str) -> str:
    return (f'<div class="rag-turn" data-turn="{turn}">{question_html(question)}'
            f'<div class="rag-answer rag-error" data-final="1"><span class="rag-badge">Could not answer</span> '
            f'<span class="rag-text">{esc(message)}</span></div></div>')


INTRO = ('<div class="rag-intro">Ask a question about the articles. Answers cite their source sentences: '
         'click a marker like [1] to read the sentence in its article.</div>')


def conversation_html(turns: Sequence[str], pending: str = "") -> str:
    """The chat: the HTML of each finished turn, then the pending turn's question, if any."""
    if not turns and not pending:
        return f'<div class="rag-chat">{INTRO}</div>'
    return f'<div class="rag-chat">{"".join(turns)}{pending}</div>'
