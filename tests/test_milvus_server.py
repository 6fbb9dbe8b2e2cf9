"""Several processes on one index whose vectors live on a Milvus server: concurrent writers keep everything and a
reader that stays open sees their commits. The server is Milvus Lite's own (`milvus-lite server`), reached over
the same client API and URI form as a Milvus standalone (RAG_STORE=http://HOST:PORT)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from servers import wait_for_port
from test_multiprocess import ROOT, _batch

from rag.library import Library

pytest.importorskip("pymilvus", reason="needs the milvus extra: pip install 'rag-news[milvus]'")
SERVER = shutil.which("milvus-lite") or str(Path(sys.executable).with_name("milvus-lite"))


@pytest.fixture
def milvus_server(tmp_path: Path):  # noqa: ANN201 - the server's URI
    if not Path(SERVER).exists():
        pytest.skip("needs the milvus extra: pip install 'rag-news[milvus]'")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([SERVER, "server", "--data-dir", str(tmp_path / "milvus"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(proc, port, 60, "the milvus-lite server")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def _rag(store: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", RAG_STORE=store)
    return subprocess.Popen([sys.executable, "-m", "rag.cli", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_concurrent_ingests_on_a_milvus_server_keep_everything_and_an_open_reader_sees_them(
        tmp_path: Path, milvus_server: str, minilm) -> None:
    index = tmp_path / "index"
    reader = Library(index, embedder=minilm, store=milvus_server)  # the page: open before and during the writes
    reader.add_articles([])
    assert reader.store.engine.name == "milvus"
    procs = [_rag(milvus_server, "ingest", str(_batch(tmp_path / f"src{i}", f"town{i}", 3)), "--index", str(index))
             for i in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert out.startswith("added 3,"), out
    titles = sorted(a.title for a in reader.articles())  # no restart
    assert titles == sorted(f"town{i} story {j}" for i in range(3) for j in range(3))
    st = reader.store
    assert st.stats()["vectors"] == len(st.chunks()) == 9
    for i in range(3):
        hit = reader.search(f"When does work on the town{i} bridge start?", k=1)[0]
        assert hit.article.title.startswith(f"town{i}")
        assert hit.article.text[hit.sentence.start : hit.sentence.end] == hit.sentence.text
    # a later process finds the server from the index alone (no RAG_STORE)
    out = subprocess.run([sys.executable, "-m", "rag.cli", "stats", "--index", str(index)], cwd=ROOT, text=True,
                         capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120, check=True)
    assert f"vectors and keywords in Milvus at {milvus_server}" in out.stdout and "articles 9" in out.stdout
