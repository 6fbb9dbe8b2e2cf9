"""20 questions at once through the chat page's own queue: 20 Gradio sessions (gradio_client speaks the same queue
protocol as the page) send at once. All answered, each with its own question's answer and only its own turns,
and the server's memory stays bounded. Real embedder, real default model.

(Twenty real Chromium tabs were tried first: on 2 cores their renderers, not the server, took the CPU and answers
queued for minutes; tests/test_ui_browser.py drives three real tabs at once instead.)"""

from __future__ import annotations

import re
import resource
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from html import unescape
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = {
    "Who leads the Ukrainian delegation?": "Umerov",
    "In which city are the talks expected to take place?": "Istanbul",
    "What did Kremlin spokesman Dmitry Peskov say?": "Peskov",
    "How many Ukrainian drones did Russia's Defense Ministry say it intercepted?": "35",
}


@contextmanager
def served(index_dir: Path) -> Iterator[str]:
    """The chat page over `index_dir` on a free loopback port, launched as `python ui.py` launches it."""
    import ui
    from rag.settings import Settings

    demo = ui.build_app(Settings(index_dir=index_dir), seeds_dir=None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ui.launch(demo, "127.0.0.1", port, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def app_url(seed_library) -> Iterator[str]:
    with served(seed_library.index_dir) as url:
        yield url


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def turns(page: str) -> list[tuple[str, str, str]]:
    """(question, answer text, visible text of the turn) for each turn in the chat HTML."""
    parts = page.split('<div class="rag-turn"')[1:]
    out = []
    for part in parts:
        question = re.search(r'<div class="rag-question"><span class="rag-who">You</span>(.*?)</div>', part)
        visible = part.split('<div class="rag-viewer')[0]  # leave out the hidden article views
        answer = visible.split('<div class="rag-answer')[-1].split('<div class="rag-sources')[0]
        out.append((unescape(question.group(1)) if question else "", _text(answer.partition(">")[2]), _text(visible)))
    return out


def test_twenty_sessions_ask_at_once_through_the_queue(app_url: str) -> None:
    from gradio_client import Client

    asked = [q for _ in range(5) for q in QUESTIONS]  # 20 questions, interleaved
    clients = [Client(app_url, verbose=False) for _ in asked]  # one Gradio session each
    clients[0].predict(asked[0], "gemma", 6, [], "", "", api_name="/ask")  # load the model before measuring memory
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    jobs = [c.submit(q, "gemma", 6, [], "", "", api_name="/ask") for c, q in zip(clients, asked, strict=True)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        pages = list(pool.map(lambda job: job.result(timeout=600)[0], jobs))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024

    answers: dict[str, set[str]] = {}
    for i, (question, page) in enumerate(zip(asked, pages, strict=True)):
        got = turns(page)
        # the first client asked twice (warm-up, then its queued question): its own two turns, nobody else's
        assert [q for q, _, _ in got] == ([asked[0]] if i == 0 else []) + [question]
        _, answer, text = got[-1]
        assert 'data-final="1"' in page.split('<div class="rag-turn"')[-1]
        assert QUESTIONS[question] in text, (question, text[:400])
        if i > 0:  # the first session's question follows its warm-up turn: the model reads that history too
            answers.setdefault(question, set()).add(answer)
    # greedy decoding: the same question gets the same answer whichever session asked it and whatever ran beside it
    assert all(len(texts) == 1 for texts in answers.values()), answers
    assert grown_mb < 300, f"20 queued questions grew the server's peak RSS by {grown_mb:.0f} MB"


def test_the_answer_endpoint_returns_the_answer_as_json(app_url: str, seed_library) -> None:
    """`/answer` (documented under "Use via API"): the checked Answer as JSON, citations as exact spans of the
    stored article; a follow-up passes the turns so far as [question, answer, refused]."""
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    question = "Who leads the Ukrainian delegation?"
    answer = client.predict(question, [], api_name="/answer")
    assert answer["question"] == question and answer["refused"] is False and "Umerov" in answer["text"]
    assert answer["citations"] and {"n", "article_id", "sentence_id", "start", "end", "text", "score"} <= set(
        answer["citations"][0])
    for c in answer["citations"]:
        article = seed_library.article(c["article_id"])
        assert article.text[c["start"] : c["end"]] == c["text"]
        assert f"[{c['n']}]" in answer["text"] or c["n"] > 1
    follow = client.predict("What is his current role?", [[question, answer["text"], answer["refused"]]],
                            api_name="/answer")
    assert "delegation" in follow["standalone_question"].lower()  # the follow-up was resolved through the history
    for c in (*follow["citations"], *follow["closest"]):
        assert seed_library.article(c["article_id"]).text[c["start"] : c["end"]] == c["text"]
    api = client.view_api(print_info=False, return_format="dict")
    assert "/answer" in api["named_endpoints"]
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=r"History turn 1 is not \[question, answer, refused\]"):
        client.predict(question, ["not a turn"], api_name="/answer")


def test_uploads_over_the_size_limit_are_refused(app_url: str) -> None:
    """The page's upload route refuses a file over 20 MB with 413; one under it is stored."""
    import httpx

    big = b"x" * (21 * 1024 * 1024)
    refused = httpx.post(app_url + "gradio_api/upload", files={"files": ("big.txt", big, "text/plain")}, timeout=60)
    assert refused.status_code == 413, refused.text[:300]
    small = httpx.post(app_url + "gradio_api/upload", files={"files": ("ok.txt", b"A sentence.", "text/plain")},
                       timeout=60)
    assert small.status_code == 200 and small.json()[0].endswith("ok.txt")


def test_the_page_binds_to_loopback_unless_told_otherwise(monkeypatch) -> None:
    import ui

    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    assert ui.host_and_port() == ("127.0.0.1", 7860)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "8080")
    assert ui.host_and_port() == ("0.0.0.0", 8080)
    assert ui.host_and_port("127.0.0.1", 9000) == ("127.0.0.1", 9000)  # flags win over the environment


def test_optional_login_guards_the_page_and_its_api(seed_library, monkeypatch) -> None:
    import httpx

    monkeypatch.setenv("RAG_UI_USER", "reporter")
    monkeypatch.setenv("RAG_UI_PASSWORD", "s3cret-desk")
    with served(seed_library.index_dir) as url:
        upload = {"files": ("ok.txt", b"A sentence.", "text/plain")}
        assert httpx.post(url + "gradio_api/upload", files=upload, timeout=30).status_code == 401
        with httpx.Client(base_url=url, timeout=30) as client:
            wrong = client.post("login", data={"username": "reporter", "password": "guess"})
            assert wrong.status_code == 400
            assert client.post("gradio_api/upload", files=upload).status_code == 401
            assert client.post("login", data={"username": "reporter", "password": "s3cret-desk"}).status_code == 200
            assert client.post("gradio_api/upload", files=upload).status_code == 200
