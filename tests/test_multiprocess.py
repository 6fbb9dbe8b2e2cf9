"""Several processes on one index: concurrent writers keep everything, a waiting writer says whom it waits for,
and a reader that stays open (the page, a long `rag chat`) sees other processes' commits without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.errors import RagError
from rag.library import Library
from rag.store.lock import WriterLock

ROOT = Path(__file__).resolve().parent.parent


def _batch(folder: Path, name: str, n: int) -> Path:
    folder.mkdir(parents=True)
    recs = [{"title": f"{name} story {i}", "url": f"https://news.example/{name}/{i}",
             "text": f"The {name} council met on day {i}. It voted {i + 3} to {i + 1} to fund the {name} bridge. "
                     f"Work on the {name} bridge starts in week {i + 10}."} for i in range(n)]
    (folder / "a.jsonl").write_text("\n".join(json.dumps(r) for r in recs), encoding="utf-8")
    return folder


def _rag(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "rag.cli", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_three_concurrent_ingests_keep_all_nine_articles(tmp_path: Path, minilm) -> None:
    index = tmp_path / "index"
    procs = [_rag("ingest", str(_batch(tmp_path / f"src{i}", f"town{i}", 3)), "--index", str(index))
             for i in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert out.startswith("added 3,"), out
    lib = Library(index, embedder=minilm)
    titles = sorted(a.title for a in lib.articles())
    assert titles == sorted(f"town{i} story {j}" for i in range(3) for j in range(3))
    st = lib.store
    assert st.stats()["vectors"] == len(st.chunks()) == 9  # one chunk per article, each with its own vector
    for i in range(3):
        assert lib.search(f"When does work on the town{i} bridge start?", k=1)[0].article.title.startswith(f"town{i}")


def test_upload_in_the_page_while_rag_ingest_runs_loses_nothing(tmp_path: Path, minilm) -> None:
    from rag.present.uploads import ingest_uploads

    index = tmp_path / "index"
    page = Library(index, embedder=minilm)  # the page's library, open for the whole test
    page.add_articles([])  # the page builds its (empty) index at start
    assert page.articles() == []
    nightly = _rag("ingest", str(_batch(tmp_path / "nightly", "harbour", 40)), "--index", str(index))
    upload = _batch(tmp_path / "upload", "orchard", 2) / "a.jsonl"
    message = ingest_uploads(page, [str(upload)])
    assert "added 2" in message, message
    out, err = nightly.communicate(timeout=300)
    assert nightly.returncode == 0, err
    assert out.startswith("added 40,"), out
    titles = {a.title for a in page.articles()}  # the page sees the nightly job's commit without a restart
    assert len(titles) == 42 and {"orchard story 0", "orchard story 1", "harbour story 39"} <= titles
    hits = page.search("When does work on the harbour bridge start?", k=3)
    assert hits and hits[0].article.title.startswith("harbour")


def test_a_waiting_writer_says_whom_it_waits_for(tmp_path: Path, minilm) -> None:
    index = tmp_path / "index"
    Library(index, embedder=minilm).add_articles([])
    with WriterLock(index, command="rag ingest /nightly"):
        proc = _rag("ingest", str(_batch(tmp_path / "src", "mill", 2)), "--index", str(index))
        deadline = time.monotonic() + 120
        line = proc.stderr.readline()
        while "Waiting" not in line and time.monotonic() < deadline and line:
            line = proc.stderr.readline()
        assert f"pid {os.getpid()} (rag ingest /nightly)" in line, line
        time.sleep(0.5)
        assert proc.poll() is None  # still waiting while we hold the lock
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.startswith("added 2,")


def test_a_writer_that_waits_too_long_gives_up_and_writes_nothing(tmp_path: Path, hash_embedder) -> None:
    index = tmp_path / "index"
    lib = Library(index, embedder=hash_embedder)
    lib.add_articles([])
    heard: list[str] = []
    waited = r"still being written by pid \d+ \(rag ingest /big\).*nothing was written"
    with WriterLock(index, command="rag ingest /big"), pytest.raises(RagError, match=waited), \
            lib.store.write("test", on_wait=heard.append, lock_timeout_s=0.3) as w:
        w.remove("never reached")
    assert heard and "rag ingest /big" in heard[0]
    assert lib.stats().articles == 0
