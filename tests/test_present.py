"""rag.present: answers, citations and articles as inert HTML, and the chat / corpus events on plain data."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import present
from rag.answer.conversation import Turn
from rag.answer.records import Answer, Citation
from rag.answer.retrieve import Filters
from rag.errors import RagError
from rag.ingest.articles import Article

TEXT = ("Council approves budget.\nThe council voted <b>7 to 2</b> on Tuesday. "
        "<script>window.__pwned=1</script> **bold** <img src=x onerror=alert(1)> ends here.")
SENTENCE = "The council voted <b>7 to 2</b> on Tuesday."
START = TEXT.index(SENTENCE)
ARTICLE = Article("a1", "Budget <i>news</i>", TEXT, "2025-06-01T10:00", "Riverton Post", "https://example.org/a?x=1&y=2")


def citation(n: int = 1, text: str = SENTENCE, start: int = START, score: float = 0.6812) -> Citation:
    return Citation(n, "a1", ARTICLE.title, ARTICLE.source, ARTICLE.date, ARTICLE.url, f"a1:{n}", start,
                    start + len(text), text, score)


def answer(text: str = "It voted 7 to 2 [1].", refused: bool = False, cites: tuple[Citation, ...] | None = None,
           closest: tuple[Citation, ...] = ()) -> Answer:
    cites = (citation(),) if cites is None else cites
    return Answer("How did the council vote?", text, () if refused else cites, refused,
                  "refused" if refused else "generated", closest, model="fake", timings={"generate": 1.25})


def marks(page: str) -> list[str]:
    return re.findall(r"<mark [^>]*>(.*?)</mark>", page, re.S)


# ---- formatting ---------------------------------------------------------------------------------


def test_answer_text_escapes_and_links_known_markers_only() -> None:
    out = present.answer_text_html("Umerov <script>alert(1)</script> leads [1]. See [9].", {1})
    assert out == ('Umerov &lt;script&gt;alert(1)&lt;/script&gt; leads '
                   '<a href="#" class="rag-cite" data-cite="1" title="Show the source sentence">[1]</a>. See [9].')


def test_answer_html_has_link_sources_and_highlight_equal_to_the_cited_slice() -> None:
    page = present.answer_html(3, "How <did> it go?", answer(), {"a1": ARTICLE})
    assert '<a href="#" class="rag-cite" data-cite="1"' in page
    assert "How &lt;did&gt; it go?" in page
    assert "rag-refused" not in page
    assert '<div class="rag-sources-title">Sources</div>' in page
    assert "support 0.68" in page
    assert '<mark id="rag-mark-3-1" data-sentence-id="a1:1">' in page
    (highlight,) = marks(page)
    assert html.unescape(highlight) == TEXT[START : START + len(SENTENCE)] == SENTENCE


def test_article_text_is_inert() -> None:
    page = present.answer_html(0, "q", answer(), {"a1": ARTICLE})
    assert "<script" not in page and "<img" not in page and "<b>" not in page and "<i>" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "**bold**" in page  # literal: never rendered as markdown
    assert "Budget &lt;i&gt;news&lt;/i&gt;" in page


def test_article_view_shows_title_source_date_and_a_safe_link() -> None:
    view = present.article_view(ARTICLE, citation(), 0)
    assert "Riverton Post · 2025-06-01" in view
    assert ('<a href="https://example.org/a?x=1&amp;y=2" target="_blank" rel="noopener noreferrer nofollow">'
            in view)
    assert view.startswith('<div class="rag-viewer" data-cite="1" hidden>')


def test_only_http_urls_become_links() -> None:
    assert present.safe_link("javascript:alert(1)") == "javascript:alert(1)"
    assert present.safe_link('https://x.org/"><script>') == (
        '<a href="https://x.org/&quot;&gt;&lt;script&gt;" target="_blank" rel="noopener noreferrer nofollow">'
        'https://x.org/&quot;&gt;&lt;script&gt;</a>')


def test_refusal_is_styled_and_lists_the_closest_sentences() -> None:
    closest = (citation(1, score=0.41), citation(2, "Council approves budget.", 0, 0.3))
    page = present.answer_html(0, "q", answer("The articles don't say.", refused=True, closest=closest),
                               {"a1": ARTICLE})
    assert ('<div class="rag-answer rag-refused" data-final="1"><span class="rag-badge">Not in the articles</span>'
            in page)
    assert "Closest sentences found" in page and "support 0.41" in page and "support 0.30" in page
    assert [html.unescape(m) for m in marks(page)] == [SENTENCE, "Council approves budget."]


def test_a_changed_or_removed_article_is_said_so() -> None:
    changed = Article("a1", "t", "Something else entirely, much longer than before " * 3)
    assert "changed after the answer" in present.answer_html(0, "q", answer(), {"a1": changed})
    assert "no longer in the library" in present.answer_html(0, "q", answer(), {})


def test_streaming_and_error_turns_escape() -> None:
    assert "&lt;img&gt; partial" in present.streaming_html(0, "q", "<img> partial")
    assert "Searching the articles" in present.streaming_html(0, "q", "")
    err = present.error_html(1, "q", "Bad <date>")
    assert "rag-error" in err and "Bad &lt;date&gt;" in err


def test_articles_table_escapes_titles() -> None:
    class Info:
        id, title, date, source, url, sentences = "x1", "<img src=x onerror=alert(1)>", "2025-01-02", "S&P", "", 7

    table = present.articles_table([Info()])
    assert "<img" not in table and "&lt;img src=x onerror=alert(1)&gt;" in table and "S&amp;P" in table
    assert '<td class="rag-num">7</td>' in table
    assert present.article_choices([Info()]) == [("<img src=x onerror=alert(1)> (2025-01-02) — x1", "x1")]


# ---- settings -----------------------------------------------------------------------------------


def test_filters_from_settings() -> None:
    assert present.make_filters(present.ChatOptions()) is None
    assert present.make_filters(present.ChatOptions(sources=("BBC", ""), date_from=" 2025-01-01 ")) == Filters(
        ("BBC",), "2025-01-01", "")
    with pytest.raises(RagError, match="YYYY-MM-DD"):
        present.make_filters(present.ChatOptions(date_from="yesterday"))
    with pytest.raises(RagError, match="YYYY-MM-DD"):
        present.make_filters(present.ChatOptions(date_to="2025-02-30"))
    with pytest.raises(RagError, match="is after"):
        present.make_filters(present.ChatOptions(date_from="2025-02-01", date_to="2025-01-01"))


def test_model_choice() -> None:
    for ok in ("gemma", "smollm2", "/models/x.gguf", "http://127.0.0.1:8000/v1"):
        assert present.check_model(ok) == ok
    with pytest.raises(RagError, match="Unknown model"):
        present.check_model("gpt-5")


# ---- uploads ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "safe"), [
    ("../../etc/passwd", "passwd"), ("..\\..\\x.txt", "x.txt"), ("..", "upload"), ("a<b>.txt", "a_b_.txt"),
    (".hidden.md", "hidden.md"), ("ok name.json", "ok name.json"), ("x/..", "upload"), ("a..b.txt", "a.b.txt"),
])
def test_safe_upload_name(name: str, safe: str) -> None:
    assert present.safe_upload_name(name) == safe


def test_uploads_stay_inside_the_folder(tmp_path: Path) -> None:
    src = tmp_path / "src.txt"
    src.write_text("t\nbody")
    folder = tmp_path / "up"
    folder.mkdir()
    out = present.copy_uploads([str(src)] * 3, folder, ["../evil.txt", "/abs/evil.txt", "evil.txt"])
    assert [p.name for p in out] == ["evil.txt", "evil-2.txt", "evil-3.txt"]
    assert all(p.parent == folder.resolve() for p in out)
    assert not (tmp_path / "evil.txt").exists()


def test_ingest_uploads_reports_added_and_skipped_files(tmp_path: Path, hash_embedder) -> None:
    from rag.library import Library

    good = tmp_path / "story.txt"
    good.write_text("Riverton builds a library\nThe council voted for a floating library. It opens in May.")
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"%PDF-1.4")
    lib = Library(tmp_path / "index", embedder=hash_embedder)
    seen: list[tuple[int, int]] = []
    message = present.ingest_uploads(lib, [str(good), str(bad)], lambda d, t: seen.append((d, t)))
    assert message.startswith("added 1, updated 0, unchanged 0, near-duplicates 0, skipped 1")
    assert "  skipped: scan.pdf: unsupported file type '.pdf'" in message
    assert "rag-upload-" not in message
    assert seen and seen[-1][0] == seen[-1][1]
    assert [a.title for a in lib.articles()] == ["Riverton builds a library"]
    assert present.ingest_uploads(lib, [], None).startswith("Choose one or more")
    (info,) = lib.articles()
    assert present.remove_article(lib, info.id) == f"Removed 'Riverton builds a library' ({info.id})."
    assert present.remove_article(lib, "nope").startswith("Nothing was removed: No article with id 'nope'")


# ---- chat events --------------------------------------------------------------------------------


class FakeAssistant:
    def __init__(self, script: list[str | Answer | Exception]) -> None:
        self.script = script
        self.calls: list[tuple[str, list[Turn], Filters | None]] = []

    def ask_stream(self, question: str, history: list[Turn] | None = None,
                   filters: Filters | None = None) -> Iterator[str | Answer]:
        self.calls.append((question, list(history or []), filters))
        for item in self.script:
            if isinstance(item, Exception):
                raise item
            yield item


class FakeSource:
    def __init__(self, assistant: FakeAssistant) -> None:
        self.assistant = assistant
        self.asked: list[tuple[str, int]] = []

    def get(self, model: str, evidence_sentences: int) -> FakeAssistant:
        self.asked.append((model, evidence_sentences))
        return self.assistant

    def article(self, article_id: str) -> Article:
        if article_id != "a1":
            raise KeyError(article_id)
        return ARTICLE


def test_chat_turn_streams_then_shows_the_checked_answer() -> None:
    fake = FakeAssistant(["It voted", " <7 to 2>", answer()])
    source = FakeSource(fake)
    steps = list(present.chat_turn(source, " How did it vote? ", [], present.ChatOptions("smollm2", 4)))
    pages = [page for _, page in steps]
    assert "Searching the articles" in pages[0]
    assert "It voted &lt;7 to 2&gt;" in pages[2] and "rag-streaming" in pages[2]
    state, final = steps[-1]
    assert len(state) == 1 and state[0].answer == "It voted 7 to 2 [1]." and state[0].question == "How did it vote?"
    assert "rag-streaming" not in final and 'data-cite="1"' in final and "<mark" in final
    assert source.asked == [("smollm2", 4)]
    # the next question carries the history
    list(present.chat_turn(source, "And then?", state, present.ChatOptions()))
    assert fake.calls[-1][1] == [Turn("How did it vote?", "It voted 7 to 2 [1].")]


def test_a_failing_request_becomes_a_message_and_the_session_goes_on() -> None:
    source = FakeSource(FakeAssistant([RagError("The model server did not answer. Start it.")]))
    state, page = list(present.chat_turn(source, "q1", [], present.ChatOptions()))[-1]
    assert "rag-error" in page and "The model server did not answer. Start it." in page
    assert state[0].answer is None and present.history(state) == []
    source.assistant.script = [RuntimeError("boom")]
    state, page = list(present.chat_turn(source, "q2", state, present.ChatOptions()))[-1]
    assert "Something went wrong while answering (RuntimeError: boom)" in page
    source.assistant.script = [answer()]
    state, page = list(present.chat_turn(source, "q3", state, present.ChatOptions()))[-1]
    assert len(state) == 3 and state[2].answer == "It voted 7 to 2 [1]."
    state, page = list(present.chat_turn(source, "q4", state, present.ChatOptions(date_from="June")))[-1]
    assert "The from date &#x27;June&#x27; is not a date" in page
    state, page = list(present.chat_turn(source, "q5", state, present.ChatOptions(model="gpt-5")))[-1]
    assert "Unknown model &#x27;gpt-5&#x27;" in page


def test_an_empty_question_changes_nothing() -> None:
    assert list(present.chat_turn(FakeSource(FakeAssistant([])), "   ", [], present.ChatOptions())) == [
        ([], present.conversation_html([]))]
