"""Bulk ingestion on Ray Data (`rag ingest PATH --engine ray`): Ray workers split, chunk and embed; this process
reads the files and commits, through the store's one writer, exactly what the local path would.

Two Ray Data stages:
1. `prepare` (tasks): each new or changed article → its sentences, chunks, MinHash sketch and texts to embed.
2. `_Embed` (an actor pool, one embedder loaded per actor): slices of texts → vectors.

The slices are the local path's (`EMBED_BATCH` texts of one commit batch, in order) and each is embedded by the
same engine the local embedder would have used (numpy fp32 below a slice size, torch int8 or fp32 above it; see
`MiniLM.uses_numpy`), so both paths store the same vectors. A commit batch (`BATCH_ARTICLES` articles) is
written as soon as all its slices are back, in input order; a worker killed mid-slice is restarted and the
slice run again (`RETRIES` times), so nothing is lost or written twice.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import pickle
import re
import socket
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from rag.embed import Embedder, MiniLM
from rag.errors import RagError
from rag.ingest.articles import Article, Skipped
from rag.ingest.pipeline import BATCH_ARTICLES, EMBED_BATCH, IngestSummary, Planned, _write, add_up, prepare
from rag.ingest.sentences import Sentence
from rag.store import Store

ENGINES = ("local", "ray")
RAY_EXTRA = "--engine ray needs the ray extra: pip install 'rag-news[ray]'"
GCS_START_WAIT_S = "120"  # seconds a local Ray's control store may take to start (Ray's own default: 30)
GCS_WAIT_ENV = "RAY_gcs_server_port_wait_time_s"  # Ray's setting for it (its case)
RETRIES = 3  # runs of a slice after the first when its worker dies (a slice that kills every worker fails the run)
PREPARE_BATCH = 64  # articles per prepare task
CONNECT_TIMEOUT_S = 3.0


def require_ray():  # noqa: ANN201 - the ray module
    """Ray and Ray Data, or a RagError naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise RagError(RAY_EXTRA) from e
    return ray


def _no_cluster(address: str, why: str) -> RagError:
    return RagError(f"--address {address}: no Ray cluster answers there ({why}). Start one with `ray start --head` "
                    "on the head machine and pass the address it prints (HOST:6379, or ray://HOST:10001), or leave "
                    "--address out to run Ray on this machine only.")


def check_address(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail in seconds, not minutes (Ray retries an unreachable address for a long time), when `address` cannot be
    a Ray cluster: "" (start one here), "auto", HOST:PORT (the head's GCS, 6379 by default) or ray://HOST:PORT."""
    if address in ("", "auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        raise RagError(f"--address {address!r} is not a Ray address: give HOST:PORT (the head's port, 6379 by "
                       "default), ray://HOST:10001, or auto; or leave --address out to start Ray on this machine.")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise _no_cluster(address, e.strerror or str(e) or type(e).__name__) from e


def patient_start() -> None:
    """Give a local Ray's control store (GCS) up to `GCS_START_WAIT_S` to come up, not Ray's 30 s: on a small,
    busy machine (2 cores, an ingest or a test suite running) it has taken longer. A value the user set stays."""
    os.environ.setdefault(GCS_WAIT_ENV, GCS_START_WAIT_S)


@contextlib.contextmanager
def ray_session(address: str = "", num_cpus: int | None = None) -> Iterator[object]:
    """Ray for one ingest: the running instance of this process if there is one (a test's, a notebook's), else
    one started (no `address`: here, on this machine's CPUs) or joined (`address`) now and shut down at the end."""
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    check_address(address)
    kw: dict[str, object] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    if not address:
        kw.update(address="local", num_cpus=num_cpus)
        patient_start()
    else:
        kw.update(address=address)
    try:
        ray.init(**kw)
    except ConnectionError as e:
        raise _no_cluster(address or "local", str(e).splitlines()[0] if str(e) else type(e).__name__) from e
    try:
        yield ray
    finally:
        ray.shutdown()


def _quiet(ray) -> None:  # noqa: ANN001
    """No Ray progress bars or per-run banners: the ingest prints its own progress."""
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    if hasattr(ctx, "print_on_execution_start"):
        ctx.print_on_execution_start = False


# ---- on the workers -------------------------------------------------------------------------------------------
def _prepare_batch(batch: dict[str, np.ndarray], chunk_sentences: int, chunk_overlap: int) -> dict[str, list]:
    """Stage 1: split, chunk and sketch each article (pipeline.prepare); what comes back is pickled."""
    out: dict[str, list] = {"i": [], "prepared": []}
    for i, aid, title, text in zip(batch["i"], batch["id"], batch["title"], batch["text"], strict=True):
        (_, sk, sentences, spans), texts = prepare(Article(str(aid), str(title), str(text)), chunk_sentences,
                                                  chunk_overlap)
        out["i"].append(int(i))
        out["prepared"].append(pickle.dumps((sk, [(s.start, s.end) for s in sentences], spans, texts)))
    return out


def _embed_as(embedder: Embedder, texts: list[str], engine: str) -> np.ndarray:
    """`texts` embedded by the engine the local embedder would have used for them (MiniLM: numpy below a size or
    before torch is loaded, torch int8/fp32 after)."""
    if engine == "numpy":
        return embedder.numpy_model.encode(texts)  # type: ignore[attr-defined]
    if engine == "torch":
        embedder.model  # type: ignore[attr-defined]  # noqa: B018 - load torch, as the local embedder has by now
    return embedder.embed(texts)


class _Embed:
    """Stage 2, one per Ray actor: the embedder loaded once, then slices of texts → float32 vectors."""

    def __init__(self, make: Callable[[], Embedder]) -> None:
        self.embedder = make()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        out: dict[str, list] = {"slice": [], "vectors": []}
        for k, texts, engine in zip(batch["slice"], batch["texts"], batch["engine"], strict=True):
            vecs = np.ascontiguousarray(_embed_as(self.embedder, [str(t) for t in texts], str(engine)),
                                        dtype=np.float32)
            out["slice"].append(int(k))
            out["vectors"].append(vecs.tobytes())
        return out


def _map_embed(ds, pool: int, make: Callable[[], Embedder]):  # noqa: ANN001, ANN202 - ray.data.Dataset
    """Stage 2: an actor pool of `pool` embedders. An actor that dies is restarted and its slice run again, up to
    RETRIES times (Ray Data's default would retry forever; its per-call remote arguments are deprecated since Ray
    2.60 but still the only way to bound it: without them, the default applies)."""
    import ray.data

    kw = {"batch_size": 1, "num_cpus": 1,
          # one slice at a time per actor: a killed actor loses only the slice it was embedding
          "compute": ray.data.ActorPoolStrategy(size=pool, max_tasks_in_flight_per_actor=1),
          "fn_constructor_args": (make,)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ds.map_batches(_Embed, **kw, max_restarts=-1, max_task_retries=RETRIES)
        except TypeError:
            return ds.map_batches(_Embed, **kw)


def _same(embedder: Embedder) -> Embedder:
    return embedder


def _factory(embedder: Embedder) -> Callable[[], Embedder]:
    """How an actor gets its embedder: the packaged MiniLM is loaded afresh (one thread per actor, the same
    variant); any other embedder (tests) is sent pickled."""
    if isinstance(embedder, MiniLM):
        return functools.partial(MiniLM, batch_size=embedder.batch_size, threads=1, variant=embedder.variant)
    return functools.partial(_same, embedder)


def _engines(embedder: Embedder, sizes: list[int]) -> list[str]:
    """For each slice, in order, the engine `embedder.embed` would pick on this process (MiniLM.uses_numpy)."""
    if not isinstance(embedder, MiniLM):
        return ["embed"] * len(sizes)
    loaded = getattr(embedder, "_model", None) is not None
    out = []
    for n in sizes:
        numpy = embedder.uses_numpy(n, loaded)
        out.append("numpy" if numpy else "torch")
        loaded = loaded or not numpy
    return out


# ---- on the driver --------------------------------------------------------------------------------------------
@dataclass
class _Group:
    """One commit batch: the articles to embed (in the local path's order), those found unchanged, its slices."""

    todo: list[Article]
    unchanged: list[str]
    slices: list[int] = field(default_factory=list)
    planned: list[Planned] = field(default_factory=list)


def _groups(store: Store, articles: list[Article], batch: int) -> list[_Group]:
    """The local path's commit batches, and in each what `pipeline._plan` would embed (an id already planned by
    an earlier batch counts as stored, as it will be by then)."""
    groups: list[_Group] = []
    planned_hash: dict[str, str] = {}
    for start in range(0, len(articles), batch):
        todo: dict[str, Article] = {}
        unchanged: list[str] = []
        for art in articles[start : start + batch]:
            stored = planned_hash[art.id] if art.id in planned_hash else store.content_hash(art.id)
            if stored == art.content_hash:
                unchanged.append(art.id)
                continue
            todo.pop(art.id, None)
            todo[art.id] = art
        planned_hash.update((aid, art.content_hash) for aid, art in todo.items())
        groups.append(_Group(list(todo.values()), unchanged))
    return groups


def _failed(e: BaseException, committed: int) -> RagError:
    cause: BaseException | None = e
    while cause is not None:  # a RagError raised on a worker (say, the model is missing) keeps its message
        if isinstance(cause, RagError):
            return RagError(str(cause).splitlines()[0])
        cause = cause.__cause__
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(e).__name__)
    return RagError(f"Ray ingestion stopped: {type(e).__name__}: {first[:400]} (a batch whose worker dies is run "
                    f"again, {RETRIES} times at most). The {committed} articles committed before it are kept; run the "
                    "same command again to add the rest (articles already in the index are skipped).")


def ingest_ray(store: Store, articles: list[Article], embedder: Embedder, skipped: list[Skipped] | None = None,
               progress: Callable[[int, int], None] | None = None, command: str = "",
               on_wait: Callable[[str], None] | None = None, *, address: str = "", batch: int = BATCH_ARTICLES,
               embed_batch: int = EMBED_BATCH, workers: int = 0, num_cpus: int | None = None) -> IngestSummary:
    """`pipeline.ingest_articles` with the splitting and embedding on Ray workers (`workers` embedding actors,
    default one per CPU of the cluster); the same summary and the same stored index."""
    require_ray()
    check_address(address)
    groups = _groups(store, articles, batch)
    todo = [art for g in groups for art in g.todo]
    total = IngestSummary(skipped=list(skipped or []))
    if not todo:  # nothing new: no Ray at all
        for g in groups:
            total = add_up(total, IngestSummary(), g.unchanged)
        return total
    m = store.manifest
    with ray_session(address, num_cpus) as ray:
        _quiet(ray)
        try:
            prepared = _run_prepare(ray, todo, m.chunk_sentences, m.chunk_overlap)
        except Exception as e:  # noqa: BLE001 - any failure of the run is reported with what was kept
            raise _failed(e, 0) from e
        slices: list[list[str]] = []
        at = 0
        for g in groups:
            texts: list[str] = []
            for art in g.todo:
                planned, art_texts = prepared[at]
                g.planned.append((art, *planned))
                texts += art_texts
                at += 1
            for s in range(0, len(texts), embed_batch):
                g.slices.append(len(slices))
                slices.append(texts[s : s + embed_batch])
        engines = _engines(embedder, [len(s) for s in slices])
        n_texts, done = sum(len(s) for s in slices), 0
        vectors: dict[int, np.ndarray] = {}
        pending = list(groups)
        committed = 0
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            pool = max(1, min(workers or cpus, len(slices)))
            # a block per slice: a Ray task runs a whole block, so a retry redoes one slice and each comes back alone
            ds = ray.data.from_items([{"slice": k, "texts": s, "engine": engines[k]} for k, s in enumerate(slices)],
                                     override_num_blocks=len(slices))
            ds = _map_embed(ds, pool, _factory(embedder))
            for k, vecs in _results(ds):
                vectors[k] = np.frombuffer(vecs, dtype=np.float32).reshape(len(slices[k]), embedder.dim)
                done += len(slices[k])
                if progress:
                    progress(done, n_texts)
                while pending and all(s in vectors for s in pending[0].slices):  # commit whole batches, in order
                    g = pending.pop(0)
                    vecs = (np.concatenate([vectors.pop(s) for s in g.slices]) if g.slices
                            else np.zeros((0, embedder.dim), dtype=np.float32))
                    total = add_up(total, _write(store, g.planned, vecs, command, on_wait), g.unchanged)
                    committed += len(g.todo)
        except RagError:
            raise
        except Exception as e:  # noqa: BLE001
            raise _failed(e, committed) from e
        for g in pending:  # batches whose articles were all unchanged (no slices) after the last one embedded
            total = add_up(total, _write(store, g.planned, np.zeros((0, embedder.dim), np.float32), command,
                                         on_wait), g.unchanged)
    return total


def _results(ds) -> Iterator[tuple[int, bytes]]:  # noqa: ANN001 - ray.data.Dataset
    """Each slice's vectors as soon as its block is done (no prefetching: a batch whose slices are all back is
    committed even if the run fails later)."""
    for batch in ds.iter_batches(batch_size=None, prefetch_batches=0, batch_format="numpy"):
        yield from zip((int(k) for k in batch["slice"]), batch["vectors"], strict=True)


def _run_prepare(ray, todo: list[Article], chunk_sentences: int,  # noqa: ANN001
                 chunk_overlap: int) -> list[tuple[tuple, list[str]]]:
    """Stage 1 on Ray tasks: for each article (in order) (sketch, sentences, spans) and its texts to embed."""
    items = [{"i": i, "id": a.id, "title": a.title, "text": a.text} for i, a in enumerate(todo)]
    ds = ray.data.from_items(items, override_num_blocks=-(-len(items) // PREPARE_BATCH)).map_batches(
        _prepare_batch, batch_size=PREPARE_BATCH, num_cpus=1,
        fn_kwargs={"chunk_sentences": chunk_sentences, "chunk_overlap": chunk_overlap})
    out: list[tuple[tuple, list[str]] | None] = [None] * len(todo)
    for row in ds.iter_rows():
        i = int(row["i"])
        sk, offsets, spans, texts = pickle.loads(row["prepared"])
        art = todo[i]
        sentences = [Sentence(art.id, n, s, e, art.text[s:e]) for n, (s, e) in enumerate(offsets)]
        out[i] = ((sk, sentences, [tuple(sp) for sp in spans]), texts)
    assert all(o is not None for o in out)
    return out  # type: ignore[return-value]
