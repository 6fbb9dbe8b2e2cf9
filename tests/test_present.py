"""rag.present: answers, citations and articles as inert HTML (html), the chat events on plain data (chat), and
the Articles tab (uploads)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.answer.conversation import Turn
from rag.answer.records import Answer, Citation
from rag.answer.retrieve import Filters
from rag.errors import RagError
from rag.ingest.articles import Article
from rag.present import chat, static, uploads
from rag.present import html as render

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
    out = render.answer_text_html("Umerov <script>alert(1)</script> leads [1]. See [9].", {1})
    assert out == ('Umerov &lt;script&gt;alert(1)&lt;/script&gt; leads '
                   '<a href="#" class="rag-cite" data-cite="1" title="Show the source sentence">[1]</a>. See [9].')


def test_answer_html_has_link_sources_and_highlight_equal_to_the_cited_slice() -> None:
    page = render.answer_html(3, "How <did> it go?", answer(), {"a1": ARTICLE})
    assert '<a href="#" class="rag-cite" data-cite="1"' in page
    assert "How &lt;did&gt; it go?" in page
    assert "rag-refused" not in page
    assert '<div class="rag-sources-title">Sources</div>' in page
    assert "support 0.68" in page
    assert '<mark id="rag-mark-3-1" data-sentence-id="a1:1">' in page
    (highlight,) = marks(page)
    assert html.unescape(highlight) == TEXT[START : START + len(SENTENCE)] == SENTENCE


def test_article_text_is_inert() -> None:
    page = render.answer_html(0, "q", answer(), {"a1": ARTICLE})
    assert "<script" not in page and "<img" not in page and "<b>" not in page and "<i>" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "**bold**" in page  # literal: never rendered as markdown
    assert "Budget &lt;i&gt;news&lt;/i&gt;" in page


def test_article_view_shows_title_source_date_and_a_safe_link() -> None:
    view = render.article_view(ARTICLE, citation(), 0)
    assert "Riverton Post · 2025-06-01" in view
    assert ('<a href="https://example.org/a?x=1&amp;y=2" target="_blank" rel="noopener noreferrer nofollow">'
            in view)
    assert view.startswith('<div class="rag-viewer" data-cite="1" hidden>')


def test_only_http_urls_become_links() -> None:
    assert render.safe_link("javascript:alert(1)") == "javascript:alert(1)"
    assert render.safe_link('https://x.org/"><script>') == (
        '<a href="https://x.org/&quot;&gt;&lt;script&gt;" target="_blank" rel="noopener noreferrer nofollow">'
        'https://x.org/&quot;&gt;&lt;script&gt;</a>')


def test_refusal_is_styled_and_lists_the_closest_sentences() -> None:
    closest = (citation(1, score=0.41), citation(2, "Council approves budget.", 0, 0.3))
    page = render.answer_html(0, "q", answer("The articles don't say.", refused=True, closest=closest),
                               {"a1": ARTICLE})
    assert ('<div class="rag-answer rag-refused" data-final="1"><span class="rag-badge">Not in the articles</span>'
            in page)
    assert "Closest sentences found" in page and "support 0.41" in page and "support 0.30" in page
    assert [html.unescape(m) for m in marks(page)] == [SENTENCE, "Council approves budget."]


def test_a_changed_or_removed_article_is_said_so() -> None:
    changed = Article("a1", "t", "Something else entirely, much longer than before " * 3)
    assert "changed after the answer" in render.answer_html(0, "q", answer(), {"a1": changed})
    assert "no longer in the library" in render.answer_html(0, "q", answer(), {})


def test_draft_pending_and_error_turns_escape() -> None:
    assert "&lt;img&gt; partial" in render.draft_html("<img> partial")
    assert "Searching the articles" in render.draft_html("")
    pending = render.pending_html(2, "Who <b>?")
    assert 'data-turn="2"' in pending and "Who &lt;b&gt;?" in pending and "data-final" not in pending
    err = render.error_html(1, "q", "Bad <date>")
    assert "rag-error" in err and "Bad &lt;date&gt;" in err


def test_articles_table_escapes_titles() -> None:
    class Info:
        id, title, date, source, url, sentences = "x1", "<img src=x onerror=alert(1)>", "2025-01-02", "S&P", "", 7

    table = uploads.articles_table([Info()])
    assert "<img" not in table and "&lt;img src=x onerror=alert(1)&gt;" in table and "S&amp;P" in table
    assert '<td class="rag-num">7</td>' in table
    assert uploads.article_choices([Info()]) == [("<img src=x onerror=alert(1)> (2025-01-02) — x1", "x1")]


# ---- settings -----------------------------------------------------------------------------------


def test_filters_from_settings() -> None:
    assert chat.make_filters(chat.ChatOptions()) is None
    assert chat.make_filters(chat.ChatOptions(sources=("BBC", ""), date_from=" 2025-01-01 ")) == Filters(
        ("BBC",), "2025-01-01", "")
    with pytest.raises(RagError, match="YYYY-MM-DD"):
        chat.make_filters(chat.ChatOptions(date_from="yesterday"))
    with pytest.raises(RagError, match="YYYY-MM-DD"):
        chat.make_filters(chat.ChatOptions(date_to="2025-02-30"))
    with pytest.raises(RagError, match="is after"):
        chat.make_filters(chat.ChatOptions(date_from="2025-02-01", date_to="2025-01-01"))


def test_model_choice_is_decided_by_rag_generate() -> None:
    for ok in ("gemma", "smollm2", "/models/x.gguf", "http://127.0.0.1:8000/v1", " gemma "):
        assert chat.check_model(ok) == ok.strip()
    with pytest.raises(RagError, match="Unknown model 'gpt-5'. Use 'gemma', 'smollm2', a path to a .gguf file"):
        chat.check_model("gpt-5")
    with pytest.raises(RagError, match="Choose a model"):
        chat.check_model("  ")


def test_a_model_file_without_the_gguf_suffix_is_accepted_as_make_generator_accepts_it(tmp_path: Path) -> None:
    from rag.generate import make_generator, model_kind

    weights = tmp_path / "model.bin"
    weights.write_bytes(b"GGUF")
    assert model_kind(str(weights)) == "file" and chat.check_model(str(weights)) == str(weights)
    assert make_generator(str(weights)).path == weights  # loads lazily: nothing is read here
    assert [model_kind(m) for m in ("gemma", "smollm2", "https://x/v1")] == ["embedded", "embedded", "server"]


def test_the_page_lists_come_from_settings_and_the_loaders() -> None:
    from rag.ingest.articles import SUFFIXES

    assert uploads.SUFFIXES is SUFFIXES
    assert uploads.ingest_uploads(None, []) == f"Choose one or more article files first ({' '.join(SUFFIXES)})."
    css, js = static("chat.css"), static("cite.js")
    assert ".rag-chat {" in css and "mark {" in css
    assert "element.addEventListener('click'" in js


# ---- uploads ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "safe"), [
    ("../../etc/passwd", "passwd"), ("..\\..\\x.txt", "x.txt"), ("..", "upload"), ("a<b>.txt", "a_b_.txt"),
    (".hidden.md", "hidden.md"), ("ok name.json", "ok name.json"), ("x/..", "upload"), ("a..b.txt", "a.b.txt"),
])
def test_safe_upload_name(name: str, safe: str) -> None:
    assert uploads.safe_upload_name(name) == safe


def test_uploads_stay_inside_the_folder(tmp_path: Path) -> None:
    src = tmp_path / "src.txt"
    src.write_text("t\nbody")
    folder = tmp_path / "up"
    folder.mkdir()
    out = uploads.copy_uploads([str(src)] * 3, folder, ["../evil.txt", "/abs/evil.txt", "evil.txt"])
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
    message = uploads.ingest_uploads(lib, [str(good), str(bad)], lambda d, t: seen.append((d, t)))
    assert message.startswith("added 1, updated 0, unchanged 0, near-duplicates 0, skipped 1")
    assert "  skipped: scan.pdf: unsupported file type '.pdf'" in message
    assert "rag-upload-" not in message
    assert seen and seen[-1][0] == seen[-1][1]
    assert [a.title for a in lib.articles()] == ["Riverton builds a library"]
    assert uploads.ingest_uploads(lib, [], None).startswith("Choose one or more")
    (info,) = lib.articles()
    assert uploads.remove_article(lib, info.id) == f"Removed 'Riverton builds a library' ({info.id})."
    assert uploads.remove_article(lib, "nope").startswith("Nothing was removed: No article with id 'nope'")


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


def test_chat_turn_streams_only_the_draft_then_shows_the_checked_answer() -> None:
    fake = FakeAssistant(["It voted", " <7 to 2>", answer()])
    source = FakeSource(fake)
    steps = list(chat.chat_turn(source, " How did it vote? ", chat.ChatLog(), chat.ChatOptions("smollm2", 4),
                                draft_every_s=0))
    # the question shown and the draft started, one step per piece of text (the chat unchanged), the final turn
    assert [s.chat is not None for s in steps] == [True, False, False, True]
    assert "How did it vote?" in steps[0].chat and "rag-pending" in steps[0].chat
    assert "Searching the articles" in steps[0].draft
    assert "It voted &lt;7 to 2&gt;" in steps[2].draft and "rag-streaming" in steps[2].draft
    last = steps[-1]
    assert last.draft == ""
    assert last.log.history == [Turn("How did it vote?", "It voted 7 to 2 [1].")]
    assert "rag-streaming" not in last.chat and "rag-pending" not in last.chat
    assert 'data-cite="1"' in last.chat and "<mark" in last.chat and 'data-final="1"' in last.chat
    assert source.asked == [("smollm2", 4)]
    # the next question carries the history
    list(chat.chat_turn(source, "And then?", last.log, chat.ChatOptions()))
    assert fake.calls[-1][1] == [Turn("How did it vote?", "It voted 7 to 2 [1].")]


def test_the_draft_is_shown_at_most_once_per_interval() -> None:
    source = FakeSource(FakeAssistant(["It", " voted", " 7 to 2", answer()]))
    steps = list(chat.chat_turn(source, "How did it vote?", chat.ChatLog(), chat.ChatOptions(), draft_every_s=60))
    assert [s.draft for s in steps[1:-1]] == [render.draft_html("It")]  # the first piece at once, then the answer
    assert 'data-final="1"' in steps[-1].chat


def test_a_refused_turn_is_kept_as_refused_and_its_text_never_reaches_the_model() -> None:
    fake = FakeAssistant([answer("The articles don't say who won.", refused=True)])
    source = FakeSource(fake)
    log = list(chat.chat_turn(source, "Who won?", chat.ChatLog(), chat.ChatOptions()))[-1].log
    assert "Not in the articles" in log.shown[0]
    assert log.history == [Turn("Who won?", "The articles don't say who won.", refused=True)]
    list(chat.chat_turn(source, "And then?", log, chat.ChatOptions()))
    (previous,) = fake.calls[-1][1]
    assert previous.refused and previous.said == ""


def test_a_failing_request_becomes_a_message_and_the_session_goes_on() -> None:
    source = FakeSource(FakeAssistant([RagError("The model server did not answer. Start it.")]))
    last = list(chat.chat_turn(source, "q1", chat.ChatLog(), chat.ChatOptions()))[-1]
    assert "rag-error" in last.chat and "The model server did not answer. Start it." in last.chat
    assert len(last.log.shown) == 1 and last.log.history == []
    source.assistant.script = [RuntimeError("boom")]
    last = list(chat.chat_turn(source, "q2", last.log, chat.ChatOptions()))[-1]
    assert "Something went wrong while answering (RuntimeError: boom)" in last.chat
    source.assistant.script = [answer()]
    last = list(chat.chat_turn(source, "q3", last.log, chat.ChatOptions()))[-1]
    assert len(last.log.shown) == 3 and last.log.history == [Turn("q3", "It voted 7 to 2 [1].")]
    assert 'data-turn="2"' in last.log.shown[2]
    last = list(chat.chat_turn(source, "q4", last.log, chat.ChatOptions(date_from="June")))[-1]
    assert "The from date &#x27;June&#x27; is not a date" in last.chat
    last = list(chat.chat_turn(source, "q5", last.log, chat.ChatOptions(model="gpt-5")))[-1]
    assert "Unknown model &#x27;gpt-5&#x27;" in last.chat


def test_an_empty_question_changes_nothing() -> None:
    log = chat.ChatLog()
    assert list(chat.chat_turn(FakeSource(FakeAssistant([])), "   ", log, chat.ChatOptions())) == [
        chat.Step(log, render.conversation_html([]), "")]


# ---- the JSON answer ----------------------------------------------------------------------------


def test_answer_json_is_the_answer_as_a_dict_with_the_history_as_turns() -> None:
    fake = FakeAssistant(["ignored draft", answer()])
    source = FakeSource(fake)
    out = chat.answer_json(source, " How did it vote? ", [["Who?", "Umerov [1].", False], ["Where?", "No.", True],
                                                           {"question": "When?", "answer": "May."}, ["Why?", "x"]])
    assert out == answer().to_dict()
    assert out["citations"][0]["start"] == START and out["citations"][0]["text"] == SENTENCE
    assert fake.calls[-1][0] == "How did it vote?"
    assert fake.calls[-1][1] == [Turn("Who?", "Umerov [1].", False), Turn("Where?", "No.", True),
                                 Turn("When?", "May.", False), Turn("Why?", "x", False)]
    assert chat.answer_json(source, "q", None)["text"] == "It voted 7 to 2 [1]."
    with pytest.raises(RagError, match="The question is empty"):
        chat.answer_json(source, "  ")
    with pytest.raises(RagError, match=r"History turn 1 is not \[question, answer, refused\]"):
        chat.answer_json(source, "q", ["just text"])
    with pytest.raises(RagError, match="Unknown model"):
        chat.answer_json(source, "q", [], chat.ChatOptions(model="gpt-5"))
