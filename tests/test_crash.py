"""Crash safety: SIGKILL an ingest at random moments; the index always opens, in its old state or its new state."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag import store as store_mod
from rag.ingest.articles import make_article
from rag.ingest.chunks import windows
from rag.ingest.sentences import split_sentences
from rag.library import Library

ROOT = Path(__file__).resolve().parent.parent
TRIALS = 24

# The same tiny deterministic embedder runs in the child and in this process, so vectors can be checked exactly.
FAKE_SRC = '''
import hashlib
import numpy as np

class Fake:
    name = "fake/crash-hash"
    dim = 8

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha1(t.encode()).digest()[:8], "big")
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out
'''

CHILD = FAKE_SRC + '''
import json, sys, time
from pathlib import Path
import faiss  # noqa: F401 - imported before "ready" so the kill window covers only the ingest
from rag.ingest.articles import make_article
from rag.library import Library
from rag.ingest.pipeline import ingest_articles, open_or_create
from rag import store as store_mod

index, batch, mode = sys.argv[1], sys.argv[2], sys.argv[3]
arts = [make_article(**r) for r in json.loads(Path(batch).read_text())]
lib = Library(index, embedder=Fake())
print("ready", flush=True)
if mode == "time":  # the same steps as Library.add_articles, timed
    t0 = time.perf_counter()
    st = open_or_create(lib.index_dir, lib.embedder, lib.chunk_sentences, lib.chunk_overlap)
    ingest_articles(st, arts, lib.embedder)
    t1 = time.perf_counter()
    store_mod.save(st, lib.index_dir)
    print(json.dumps([t1 - t0, time.perf_counter() - t0]), flush=True)
else:
    lib.add_articles(arts)
    print("done", flush=True)
'''

WORDS = [
    "minister", "talks", "border", "grain", "ports", "council", "drones", "energy", "prices", "harvest", "coast",
    "storm", "rates", "market", "union", "court", "election", "ceasefire", "shipping", "refinery", "pipeline",
    "treaty", "reserve", "budget", "senate", "tariffs", "factory", "strike", "bridge", "railway", "exports",
    "inflation", "troops", "convoy", "summit", "reactor", "satellite", "vaccine", "drought", "flood",
]


def _fake():
    ns: dict = {}
    exec(FAKE_SRC, ns)  # noqa: S102 - our own constant
    return ns["Fake"]()


def _text(rng: random.Random, n_sentences: int) -> str:
    sents = []
    for _ in range(n_sentences):
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 14))]
        sents.append(" ".join(words).capitalize() + f" {rng.randint(1, 999)}.")
    paras = [" ".join(sents[i : i + 4]) for i in range(0, len(sents), 4)]
    return "\n\n".join(paras)


def _record(rng: random.Random, i: int, version: str) -> dict:
    return {"title": f"Story {i} ({version})", "text": _text(rng, rng.randint(8, 20)),
            "url": f"https://news.example/{i}"}


@pytest.fixture(scope="module")
def batches(tmp_path_factory) -> tuple[Path, dict, dict]:
    """A pristine index holding the first batch, and the old/new expected state of every article."""
    rng = random.Random(20240601)
    first = [_record(rng, i, "old") for i in range(40)]
    second = [_record(rng, i, "new") for i in range(0, 40, 2)] + [_record(rng, i, "new") for i in range(40, 140)]
    root = tmp_path_factory.mktemp("crash")
    pristine = root / "pristine"
    Library(pristine, embedder=_fake()).add_articles([make_article(**r) for r in first])
    (root / "batch.json").write_text(json.dumps(second))
    old = {a.id: a for a in (make_article(**r) for r in first)}
    new = dict(old)
    new.update({a.id: a for a in (make_article(**r) for r in second)})
    return pristine, old, new


def _spawn(index: Path, batch: Path, mode: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(index), str(batch), mode], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line == "ready\n", proc.stderr.read()
    return proc


def _check(index: Path, old: dict, new: dict, fake) -> str:
    st = store_mod.load(index, fake.name, fake.dim)
    state = "old" if st.articles == old else "new" if st.articles == new else "torn"
    assert state != "torn", f"articles are neither the old nor the new set: {len(st.articles)} articles"
    assert st.index.ntotal == len(st.chunks)
    assert {c.article_id for c in st.chunks.values()} == set(st.articles)
    for aid, art in st.articles.items():
        sents = st.sentences[aid]
        assert [(s.start, s.end) for s in sents] == [(s.start, s.end) for s in split_sentences(aid, art.text)]
        assert all(art.text[s.start : s.end] == s.text for s in sents)
        mine = sorted((c.first, c.last) for c in st.chunks.values() if c.article_id == aid)
        assert mine == windows(len(sents), st.manifest.chunk_sentences, st.manifest.chunk_overlap)
    ids = sorted(st.chunks)
    want = fake.embed([st.chunk_text(st.chunks[c]) for c in ids])
    got = np.stack([st.index.reconstruct(int(c)) for c in ids])
    np.testing.assert_array_equal(got, want)
    return state


@pytest.mark.slow
def test_sigkill_during_ingest_never_tears_the_index(tmp_path: Path, batches) -> None:
    pristine, old, new = batches
    batch = pristine.parent / "batch.json"
    fake = _fake()

    # calibrate: how long the ingest and the save take in a child process on this machine
    calib = tmp_path / "calib"
    shutil.copytree(pristine, calib)
    proc = _spawn(calib, batch, "time")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    t_ingest, t_total = json.loads(out)
    assert _check(calib, old, new, fake) == "new"

    rng = random.Random(7)
    outcomes: list[tuple[float, int | None, str]] = []
    for trial in range(TRIALS):
        index = tmp_path / f"t{trial:02d}"
        shutil.copytree(pristine, index)
        # half the kills anywhere in the run, half aimed at the write (save) phase
        delay = rng.uniform(0, t_total * 1.1) if trial % 2 == 0 else rng.uniform(t_ingest * 0.9, t_total * 1.3)
        proc = _spawn(index, batch, "kill")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        state = _check(index, old, new, fake)
        debris = sorted(p.name for p in index.iterdir() if p.name != (index / "CURRENT").read_text())
        outcomes.append((round(delay, 4), proc.returncode, state, debris))

        # the index is usable afterwards: finishing the ingest gives the new state, and the next write that changes
        # something clears away any half-written or stale version folders
        lib = Library(index, embedder=fake)
        lib.add_articles(list(new.values()))
        assert _check(index, old, new, fake) == "new"
        gone = next(iter(new))
        lib.remove(gone)
        assert _check(index, old, {k: v for k, v in new.items() if k != gone}, fake) == "new"
        assert [p.name for p in index.iterdir() if p.is_dir()] == [(index / "CURRENT").read_text()]

    killed = [o for o in outcomes if o[1] == -signal.SIGKILL]
    states = {o[2] for o in outcomes}
    assert len(killed) >= TRIALS // 3, outcomes
    assert states == {"old", "new"}, outcomes
    # some kills landed inside the write itself (a half-written version folder or an unswapped pointer was left)
    assert any(len(o[3]) > 1 for o in outcomes), outcomes
