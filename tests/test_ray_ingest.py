"""Bulk ingestion on Ray Data (`rag ingest --engine ray`): the same index as the local path, killed workers' batches
run again, and clear errors for a missing extra or an unreachable cluster. One local Ray (2 CPUs) for the module."""

from __future__ import annotations

import builtins
import hashlib
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from servers import wait_for_port

from rag import cli
from rag import store as store_mod
from rag.embed import MiniLM
from rag.errors import RagError
from rag.ingest import distributed
from rag.ingest.articles import make_article
from rag.ingest.pipeline import ingest_articles, load_paths, open_or_create
from rag.library import Library

ray = pytest.importorskip("ray", reason="ray is not installed: pip install 'rag-news[ray]' to run these tests")
pytest.importorskip("ray.data", reason="ray[data] is not installed: pip install 'rag-news[ray]'")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
WORDS = ("river council budget storm harbour minister election school bridge market energy vote hospital court "
         "police village farmers rain price union strike railway museum festival airport island coast forest "
         "factory mayor doctors nurses bank loan tax teachers students drought flood wind solar grid port "
         "shipping fishing wheat coffee copper gold oil gas treaty border troops talks ceasefire aid refugees "
         "camp health vaccine study report survey judge verdict appeal senate budget housing rent wages").split()


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One Ray for the module (2 CPUs), started by the `ray` command in a process of its own and joined here;
    ingest_ray uses the instance this process has, and leaves it running. Not started from this process: by now it
    holds other tests' threads (gRPC clients), and in one full suite run Ray's control store, forked from it, never
    came up."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the test embedders travel to the workers
    if ray.is_initialized():
        yield
        return
    command = str(Path(sys.executable).with_name("ray"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # as patient_start() does; no token: a local cluster, as `ray.init()` starts one
    env = dict(os.environ, **{distributed.GCS_WAIT_ENV: distributed.GCS_START_WAIT_S, "RAY_AUTH_MODE": "disabled"})
    # --block: the command stays, and stopping it stops the processes it started, and no other Ray on the machine
    head = subprocess.Popen([command, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
                             "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # the control store listens once it is up
        wait_for_port(head, port, int(distributed.GCS_START_WAIT_S), "ray start --head", poll_s=0.5)
        ray.init(address=f"127.0.0.1:{port}", log_to_driver=False)
        yield
    finally:
        ray.shutdown()
        head.terminate()
        head.wait(timeout=120)


def story(seed: int, sentences: int) -> dict:
    """A synthetic article of distinct random sentences (no two are near-duplicates)."""
    rng = random.Random(seed)
    text = " ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "."
                    for _ in range(sentences))
    return {"title": f"Story {seed}", "text": text, "url": f"https://example.com/{seed}", "date": "2024-06-01"}


def articles(n: int, sentences: int, first_seed: int = 0) -> list:
    return [make_article(**story(first_seed + i, sentences)) for i in range(n)]


class Hashed:
    """Deterministic fake embedder (a fixed random unit vector per text); `victim`: a text whose first embedding
    kills the worker process (os._exit) once (`always`: every time); `marker` records that it did."""

    name, dim = "fake/ray-hash", 8

    def __init__(self, victim: str = "", marker: str = "", always: bool = False) -> None:
        self.victim, self.marker, self.always = victim, marker, always

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.victim and self.victim in texts and (self.always or not os.path.exists(self.marker)):
            with open(self.marker, "a") as f:
                f.write(f"{os.getpid()}\n")
            os._exit(1)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            v = np.random.default_rng(int.from_bytes(hashlib.sha1(t.encode()).digest()[:8], "big")).standard_normal(
                self.dim)
            out[i] = v / np.linalg.norm(v)
        return out


def contents(index: Path, name: str, dim: int) -> dict:
    """Everything an ingest stores, by article: text, sentence offsets, chunk spans and vectors, sentence vectors."""
    st = store_mod.open_store(index, name, dim)
    out = {}
    for aid in st.article_ids():
        chunks = st.chunks_of(aid)
        out[aid] = {"text": st.article(aid).text, "sentences": [(s.start, s.end) for s in st.sentences(aid)],
                    "spans": [(c.first, c.last) for c in chunks],
                    "vectors": np.stack([st.vector(c.id) for c in chunks]),
                    "sentence_vectors": np.asarray(st.sentence_vectors(aid), dtype=np.float32)}
    assert st.stats()["vectors"] == sum(len(a["spans"]) for a in out.values())  # no chunk written twice
    st.close()
    return out


def assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for aid in a:
        assert a[aid]["text"] == b[aid]["text"]
        assert a[aid]["sentences"] == b[aid]["sentences"]
        assert a[aid]["spans"] == b[aid]["spans"]
        np.testing.assert_allclose(a[aid]["vectors"], b[aid]["vectors"], atol=1e-5)
        # stored as float16: the same float32 vectors (to ~1e-7) may round one float16 step apart
        np.testing.assert_allclose(a[aid]["sentence_vectors"], b[aid]["sentence_vectors"], atol=2.5e-4)


def test_ray_stores_the_same_index_as_the_local_path(tmp_path: Path) -> None:
    """The real MiniLM int8: both torch batches (>256 texts) and numpy ones (<=64), three commits, two slices in
    one; the local path and Ray give the same articles, offsets, chunks and vectors."""
    seed_arts, _ = load_paths([SEEDS])
    arts = articles(6, 50) + seed_arts + articles(1, 3, first_seed=100) + articles(1, 4, first_seed=200)
    arts.append(arts[0])  # an id repeated: counted once
    summaries, seen = [], []
    for engine in ("local", "ray"):
        emb = MiniLM(variant="int8")
        st = open_or_create(tmp_path / engine, emb, variant="int8")
        steps: list[tuple[int, int]] = []
        kw = {"batch": 5, "embed_batch": 300, "progress": lambda d, t, steps=steps: steps.append((d, t))}
        summaries.append((ingest_articles if engine == "local" else distributed.ingest_ray)(st, arts, emb, **kw))
        seen.append(steps)
        st.close()
    local, remote = summaries
    assert local == remote and len(local.added) == 9 and local.unchanged == [arts[0].id]
    assert seen[1][-1][0] == seen[1][-1][1] == local.sentences + local.chunks  # all
    assert [d for d, _ in seen[1]] == sorted(d for d, _ in seen[1])
    assert_same(contents(tmp_path / "local", MiniLM.name, MiniLM.dim), contents(tmp_path / "ray", MiniLM.name, 384))
    # a second run finds everything unchanged and starts no Ray work
    st = store_mod.open_store(tmp_path / "ray", MiniLM.name, MiniLM.dim)
    again = distributed.ingest_ray(st, arts, MiniLM(variant="int8"), batch=5)
    assert again.added == [] and sorted(again.unchanged) == sorted(a.id for a in arts)


def test_a_worker_killed_mid_batch_has_its_batch_run_again(tmp_path: Path) -> None:
    arts = articles(6, 6)
    victim = arts[4].text.split(". ")[1] + "."  # a sentence of the 5th article: the second commit batch
    marker = tmp_path / "killed"
    emb = Hashed(victim, str(marker))
    st = store_mod.create(tmp_path / "ray", store_mod.Manifest(store_mod.FORMAT_VERSION, Hashed.name, Hashed.dim, 5, 2))
    summary = distributed.ingest_ray(st, arts, emb, batch=3, embed_batch=8)
    st.close()
    assert len(marker.read_text().split()) == 1  # a worker really died, once
    assert sorted(summary.added) == sorted(a.id for a in arts)
    ref = store_mod.create(tmp_path / "ref", store_mod.Manifest(store_mod.FORMAT_VERSION, Hashed.name, Hashed.dim,
                                                                5, 2))
    assert ingest_articles(ref, arts, Hashed(), batch=3, embed_batch=8) == summary
    ref.close()
    assert_same(contents(tmp_path / "ref", Hashed.name, Hashed.dim), contents(tmp_path / "ray", Hashed.name, 8))


def test_a_batch_that_kills_every_worker_stops_the_run_and_keeps_what_was_committed(tmp_path: Path) -> None:
    arts = articles(4, 6, first_seed=50)
    victim = arts[3].text.split(". ")[-1]  # the last sentence of the last article: the second batch's last slice
    marker = tmp_path / "killed"
    st = store_mod.create(tmp_path / "ray", store_mod.Manifest(store_mod.FORMAT_VERSION, Hashed.name, Hashed.dim, 5, 2))
    with pytest.raises(RagError, match="run the same command again") as e:
        distributed.ingest_ray(st, arts, Hashed(victim, str(marker), always=True), batch=2, embed_batch=64,
                               workers=1)
    assert "committed before it are kept" in str(e.value), str(e.value)
    assert len(marker.read_text().split()) == distributed.RETRIES + 1
    assert sorted(st.article_ids()) == sorted(a.id for a in arts[:2])  # the first commit is kept whole
    st.close()


def test_cli_ingest_with_ray_end_to_end(tmp_path: Path) -> None:
    index = tmp_path / "index"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "rag.cli", "ingest", str(SEEDS), "--engine", "ray", "--index",
                          str(index)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    took = time.perf_counter() - t0
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("added 1, updated 0, unchanged 0"), run.stdout
    assert "50/50 chunks and sentences" in run.stderr  # the progress bar
    search = subprocess.run([sys.executable, "-m", "rag.cli", "search", "Who leads the Ukrainian delegation?", "-k",
                             "1", "--index", str(index)], capture_output=True, text=True, env=env, timeout=120)
    assert search.returncode == 0 and "Rustem Umerov" in search.stdout, search.stderr
    print(f"rag ingest seeds/ --engine ray: {took:.1f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("form", ["{host}:{port}", "ray://{host}:{port}"])
def test_an_unreachable_address_fails_fast_naming_the_setting_and_the_fix(tmp_path: Path, capsys, form: str) -> None:
    address = form.format(host="127.0.0.1", port=free_port())
    t0 = time.perf_counter()
    code = cli.main(["ingest", str(SEEDS), "--engine", "ray", "--address", address, "--index", str(tmp_path / "i")])
    assert time.perf_counter() - t0 < 10
    err = capsys.readouterr().err
    assert code == 2 and f"--address {address}" in err and "ray start --head" in err and "leave --address out" in err
    assert not (tmp_path / "i").exists()  # nothing read, nothing created


def test_a_setting_that_is_no_address_or_engine_is_named(tmp_path: Path, capsys) -> None:
    with pytest.raises(RagError, match=r"--address 'nowhere' is not a Ray address: give HOST:PORT"):
        Library(tmp_path / "i", embedder=Hashed()).ingest([SEEDS], engine="ray", address="nowhere")
    with pytest.raises(RagError, match=r"Unknown --engine 'spark': choose one of local, ray"):
        Library(tmp_path / "i", embedder=Hashed()).ingest([SEEDS], engine="spark")
    with pytest.raises(RagError, match=r"--address .* is for --engine ray"):
        Library(tmp_path / "i", embedder=Hashed()).ingest([SEEDS], address="auto")
    with pytest.raises(SystemExit):
        cli.main(["ingest", str(SEEDS), "--engine", "spark"])
    assert "invalid choice: 'spark'" in capsys.readouterr().err


def test_a_missing_ray_extra_names_it(tmp_path: Path, monkeypatch, capsys) -> None:
    real_import = builtins.__import__

    def no_ray(name, *args, **kw):  # noqa: ANN001, ANN202
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    code = cli.main(["ingest", str(SEEDS), "--engine", "ray", "--index", str(tmp_path / "i")])
    assert code == 2
    assert capsys.readouterr().err.strip() == "error: --engine ray needs the ray extra: pip install 'rag-news[ray]'"
    assert not (tmp_path / "i").exists()


def test_a_local_ray_gets_time_to_start_and_a_users_setting_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    key = distributed.GCS_WAIT_ENV
    monkeypatch.delenv(key, raising=False)
    distributed.patient_start()
    assert os.environ[key] == "120"
    monkeypatch.setenv(key, "45")
    distributed.patient_start()
    assert os.environ[key] == "45"
