"""The OpenAI-compatible backend against llama-cpp-python's own server (serving the embedded Gemma model on
loopback), and against servers that are down, too slow, or failing."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

import rag.generate
from rag.assistant import Assistant
from rag.errors import ModelError
from rag.settings import Settings

UMEROV_QUESTION = "Who leads the Ukrainian delegation?"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assistant_for(url: str, seed_library, minilm, timeout_s: float = 60.0) -> Assistant:  # noqa: ANN001
    return Assistant(Settings(index_dir=seed_library.index_dir, model=url, timeout_s=timeout_s), embedder=minilm)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on loopback, serving the embedded Gemma model."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(rag.generate.gemma_path()),
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer /v1/models within 180 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextmanager
def tiny_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[tuple[str, threading.Event]]:
    """A local HTTP server in a thread; `release` lets a sleeping handler go at the end."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.release = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", server.release  # type: ignore[attr-defined]
    finally:
        server.release.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class SlowHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.server.release.wait(30)  # type: ignore[attr-defined]  # far longer than the client's timeout
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(b'data: {"choices": [{"delta": {"content": "late"}}]}\n\ndata: [DONE]\n\n')
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


class FailingHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"error": "model exploded"}'
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
def test_answer_through_the_llama_cpp_server(llama_server: str, seed_library, minilm) -> None:
    answer = assistant_for(llama_server, seed_library, minilm).ask(UMEROV_QUESTION)
    assert answer.model == f"default@{llama_server}"
    assert answer.draft.strip()  # the server streamed text back
    assert not answer.refused and answer.citations
    for c in answer.citations:
        assert seed_library.article(c.article_id).text[c.start:c.end] == c.text
        assert f"[{c.n}]" in answer.text


def test_server_that_is_down_names_the_url(seed_library, minilm) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ModelError, match=re.escape(url)) as err:
        assistant_for(url, seed_library, minilm).ask(UMEROV_QUESTION)
    assert "Cannot reach" in str(err.value)


def test_too_slow_server_times_out(seed_library, minilm) -> None:
    with tiny_server(SlowHandler) as (url, _):
        assistant = assistant_for(url, seed_library, minilm, timeout_s=1.0)
        t0 = time.monotonic()
        with pytest.raises(ModelError, match=r"did not answer within 1 s") as err:
            assistant.ask(UMEROV_QUESTION)
        assert time.monotonic() - t0 < 15  # gave up long before the server's 30 s
    assert url in str(err.value) and "timeout" in str(err.value)


def test_server_error_status_is_reported(seed_library, minilm) -> None:
    with tiny_server(FailingHandler) as (url, _), pytest.raises(ModelError, match=r"answered 500") as err:
        assistant_for(url, seed_library, minilm).ask(UMEROV_QUESTION)
    assert url in str(err.value) and "model exploded" in str(err.value)


def test_gemma_path_is_a_gguf_file() -> None:
    path = rag.generate.gemma_path()
    assert isinstance(path, Path) and path.is_file() and path.suffix == ".gguf"
