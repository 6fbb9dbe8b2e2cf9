"""The chat page in a real Chromium: streaming answers, clickable citations, uploads, inert article text,
and several tabs asking at once. Real embedder, real default model (gemma). Screenshots: test-artifacts/."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (/usr/bin/chromium): apt-get install -y chromium",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
expect, Page, Locator = sync_api.expect, sync_api.Page, sync_api.Locator

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ANSWER_TIMEOUT_MS = 180_000  # 2 shared cores: several answers may queue behind one another

COUNCIL = """Riverton council approves floating library
The Riverton city council voted 7 to 2 on Tuesday to build a floating library on Lake Mirren.
Council member Odile Brasko said the floating library will hold 12,000 books and open next spring.
The project will cost 4.2 million dollars, paid from the harbour fund.
Opponents on the council said the lake freezes every winter.
"""

TRICKS = """Harbour festival draws record crowds <img src=x onerror="window.__pwned=3">
The Port Alder harbour festival drew a record 41,000 visitors on Saturday, organisers said.
Festival director Mirela Okonjo said the fireworks barge was the most popular attraction.
<script>window.__pwned=1</script>
Notice boards showed **bold** claims and <img src=x onerror="window.__pwned=2"> pictures.
Food stalls ran out of smoked mackerel by early evening.
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, minilm) -> Path:
    from rag.library import Library

    lib = Library(tmp_path_factory.mktemp("ui-index"), embedder=minilm)
    lib.ingest([ROOT / "seeds"])
    return lib.index_dir


@pytest.fixture(scope="module")
def app_url(index_dir: Path) -> Iterator[str]:
    import ui
    from rag.settings import Settings

    demo = ui.build_app(Settings(index_dir=index_dir), seeds_dir=None)
    port = free_port()
    ui.launch(demo, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201 - playwright Browser
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser, app_url: str) -> Iterator:
    contexts = []

    def make() -> Page:
        ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
        contexts.append(ctx)
        page = ctx.new_page()
        page.goto(app_url)
        expect(page.locator("#rag-chat .rag-chat")).to_be_visible(timeout=30_000)
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def submit(page: Page, question: str) -> Locator:
    """Type and send a question; the locator of its turn (final once it holds [data-final])."""
    n = page.locator("#rag-chat .rag-turn").count()
    page.locator("#rag-question textarea").fill(question)
    page.locator("#rag-send").click()
    return page.locator("#rag-chat .rag-turn").nth(n)


def final(turn: Locator) -> Locator:
    expect(turn.locator("[data-final]")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    return turn


def ask(page: Page, question: str) -> Locator:
    return final(submit(page, question))


def sentence_in_index(index_dir: Path, sentence_id: str) -> str:
    """The exact slice article.text[start:end] of a sentence, read from the index on disk."""
    from rag import store

    st = store.open_store(index_dir)
    s = st.sentence(sentence_id)
    return st.article(s.article_id).text[s.start : s.end]


def open_first_citation(turn: Locator, index_dir: Path) -> Locator:
    """Click the first [n] marker (in the answer, else in the sources); check the highlighted sentence."""
    links = turn.locator(".rag-answer a.rag-cite")
    link = links.first if links.count() else turn.locator(".rag-sources a.rag-cite").first
    n = link.get_attribute("data-cite")
    link.click()
    viewer = turn.locator(f'.rag-viewer[data-cite="{n}"]')
    expect(viewer).to_be_visible()
    mark = viewer.locator("mark")
    expect(mark).to_be_in_viewport()
    cited = turn.locator(f'.rag-sources li[data-cite="{n}"] .rag-sentence').text_content()
    assert mark.text_content() == cited == sentence_in_index(index_dir, mark.get_attribute("data-sentence-id"))
    return viewer


def test_answer_streams_and_a_citation_click_highlights_the_sentence(new_page, index_dir: Path) -> None:
    page = new_page()
    page.evaluate("""() => {
        window.__drafts = [];
        window.__chat_changes = 0;
        new MutationObserver(() => {
            const d = document.querySelector('#rag-draft .rag-streaming .rag-text');
            if (d && d.textContent) window.__drafts.push(d.textContent);
        }).observe(document.querySelector('#rag-draft'), {subtree: true, childList: true, characterData: true});
        const inChat = (node) => (node.nodeType === 1 ? node : node.parentElement)?.closest('.rag-chat');
        new MutationObserver((records) => {  // renders of the conversation (not of gradio's status wrapper)
            if (records.some((r) => inChat(r.target))) window.__chat_changes += 1;
        }).observe(document.querySelector('#rag-chat'), {subtree: true, childList: true, characterData: true});
    }""")
    turn = ask(page, "Who leads the Ukrainian delegation?")
    shot(page, "1-answer")
    drafts, chat_changes = page.evaluate("[window.__drafts.length, window.__chat_changes]")
    assert drafts > 0, "the model's text never showed while streaming"
    # only the draft streams: the conversation changes when the question is sent and when the answer is final
    assert chat_changes <= 3, f"the conversation was re-rendered {chat_changes} times for {drafts} drafts"
    expect(page.locator("#rag-draft .rag-streaming")).to_have_count(0)  # the draft is gone once the answer is final
    assert turn.locator(".rag-question").text_content() == "YouWho leads the Ukrainian delegation?"
    assert turn.locator(".rag-refused").count() == 0, "the article answers this question: no refusal"
    assert "Umerov" in turn.locator(".rag-answer").text_content()
    assert turn.locator(".rag-answer a.rag-cite").count() >= 1
    open_first_citation(turn, index_dir)
    shot(page, "2-citation-clicked")
    # multi-turn: a follow-up in the same tab is a second turn below the first
    follow = ask(page, "What is his current role?")
    assert page.locator("#rag-chat .rag-turn").count() == 2
    assert follow.locator(".rag-question").text_content() == "YouWhat is his current role?"
    shot(page, "3-follow-up")


@pytest.fixture(scope="module")
def uploaded(browser, app_url: str, tmp_path_factory) -> str:
    """Upload two article files through the Articles tab; the result message."""
    folder = tmp_path_factory.mktemp("uploads")
    (folder / "council.txt").write_text(COUNCIL)
    (folder / "tricks.txt").write_text(TRICKS)
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = ctx.new_page()
    page.goto(app_url)
    page.get_by_role("tab", name="Articles").click()
    expect(page.locator("#rag-table table")).to_be_visible(timeout=30_000)
    page.locator("#rag-files input[type=file]").set_input_files([folder / "council.txt", folder / "tricks.txt"])
    for name in ("council.txt", "tricks.txt"):  # uploaded: gradio links each file
        expect(page.locator(f'#rag-files a[href$="/{name}"]')).to_be_visible(timeout=30_000)
    page.locator("#rag-add").click()
    expect(page.locator("#rag-result textarea")).to_have_value(re.compile(r"^added 2,"), timeout=120_000)
    expect(page.locator("#rag-table")).to_contain_text("Riverton council approves floating library")
    assert page.locator("#rag-table img").count() == 0
    expect(page.locator("#rag-table")).to_contain_text('<img src=x onerror="window.__pwned=3">')
    shot(page, "4-articles-tab")
    message = page.locator("#rag-result textarea").input_value()
    ctx.close()
    return message


def test_an_uploaded_article_can_be_asked_about(new_page, uploaded: str, index_dir: Path) -> None:
    assert "skipped 0" in uploaded
    page = new_page()
    turn = ask(page, "What will the Riverton council build on Lake Mirren?")
    shot(page, "5-uploaded-article-answer")
    assert "floating library" in " ".join(turn.locator(".rag-answer, .rag-sources").all_text_contents())
    viewer = open_first_citation(turn, index_dir)
    expect(viewer).to_contain_text("Riverton")
    shot(page, "6-uploaded-article-citation")


def test_article_text_renders_inert(new_page, uploaded: str, index_dir: Path) -> None:
    page = new_page()
    turn = ask(page, "How many visitors did the Port Alder harbour festival draw?")
    viewer = open_first_citation(turn, index_dir)
    shot(page, "7-inert-article")
    text = viewer.locator(".rag-article-text").text_content()
    assert "<script>window.__pwned=1</script>" in text
    assert '**bold** claims and <img src=x onerror="window.__pwned=2"> pictures' in text
    expect(viewer.locator(".rag-article-title")).to_contain_text('<img src=x onerror="window.__pwned=3">')
    assert page.locator("#rag-chat img, #rag-chat script, #rag-chat strong").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_tabs_asking_at_once_each_get_their_own_answer(new_page) -> None:
    one, two, bad = new_page(), new_page(), new_page()
    bad.locator("#rag-date-from textarea, #rag-date-from input").first.fill("yesterday")
    turns = [submit(one, "Who leads the Ukrainian delegation?"),
             submit(two, "What did Kremlin spokesman Dmitry Peskov say?"),
             submit(bad, "Who leads the Ukrainian delegation?")]
    for turn in turns:
        final(turn)
    for name, page in (("8-tab-one", one), ("9-tab-two", two), ("10-tab-error", bad)):
        shot(page, name)
        assert page.locator("#rag-chat .rag-turn").count() == 1
    assert "Umerov" in " ".join(turns[0].locator(".rag-answer, .rag-sources").all_text_contents())
    assert "Peskov" in " ".join(turns[1].locator(".rag-answer, .rag-sources").all_text_contents())
    assert turns[1].locator(".rag-question").text_content() == "YouWhat did Kremlin spokesman Dmitry Peskov say?"
    expect(turns[2].locator(".rag-error")).to_contain_text("The from date 'yesterday' is not a date")
    # the failed session goes on: with the date fixed it answers
    bad.locator("#rag-date-from textarea, #rag-date-from input").first.fill("")
    again = ask(bad, "Who leads the Ukrainian delegation?")
    assert "Umerov" in " ".join(again.locator(".rag-answer, .rag-sources").all_text_contents())


def test_an_article_can_be_removed(new_page, uploaded: str) -> None:
    page = new_page()
    page.get_by_role("tab", name="Articles").click()
    expect(page.locator("#rag-table")).to_contain_text("Riverton council approves floating library", timeout=30_000)
    page.locator("#rag-remove-choice input").click()
    page.get_by_role("option", name=re.compile("^Riverton council approves floating library")).click()
    page.locator("#rag-remove").click()
    expect(page.locator("#rag-result textarea")).to_have_value(
        re.compile(r"^Removed 'Riverton council approves floating library' \(\w+\)\.$"), timeout=60_000)
    expect(page.locator("#rag-table")).not_to_contain_text("Riverton council")
    expect(page.locator("#rag-table")).to_contain_text("Zelensky Proposes New Meeting with Putin")
    shot(page, "11-article-removed")
