"""Milvus as an index's search engine (rag.store.engine): chunk vectors and BM25 full-text search in one collection.

Chosen by the store setting when an index is created (RAG_STORE=milvus://host:19530 for a Milvus server, or a path
ending in .db for Milvus Lite, e.g. RAG_STORE=./milvus.db); the index's SQLite meta then records the URI and the
collection (`rag_<16 random hex>`, so indexes sharing one server never collide). SQLite stays the system of record
(articles, text, sentence offsets, chunks): a citation is `text[start:end]` of the stored article, whichever engine
holds the vectors. Needs the optional extra: pip install 'rag-news[milvus]' (pymilvus, milvus-lite).

The collection, one row a chunk:
    id       INT64, primary key: the chunk id (SQLite's chunks.id; never reused)
    vector   FLOAT_VECTOR(dim), inner product (the vectors are unit-norm: cosine); FLAT on Milvus Lite, so a search
             is exact (the same ranking as brute force), AUTOINDEX on a server
    words    VARCHAR: the chunk's content words (rag.store.store.chunk_words, what tantivy gets in the embedded
             store), analysed by the "standard" tokenizer (Milvus Lite has no whitespace tokenizer); a word that is
             not plain [a-z0-9] is written as x_<utf-8 hex> so that it stays one token
    sparse   SPARSE_FLOAT_VECTOR, made from `words` by Milvus's BM25 function (k1 1.2, b 0.75, as tantivy's)
Milvus Lite 3.2 supports BM25 full-text search, so nothing replaces it: the hybrid is the same dense + BM25 + RRF
as the embedded store's, with Milvus computing both rankings. Measured on Milvus Lite 3.2.2: its scores equal
Okapi BM25's within float32 over one segment; but it keeps the statistics (document count, average length, document
frequency) per segment, a segment a flushed write, so across many writes its scores drift from the global BM25
the embedded store and a Milvus server compute (the set of hits is the same; their order may differ a little).

Consistency (rag.store.engine): a writer inserts its rows and flushes them before the SQLite commit, and deletes the
rows of removed chunks after it; readers drop ids with no chunk row; a writer first deletes the rows with ids at or
above the committed next_chunk_id (from a writer that died between the Milvus insert and the SQLite commit).
Searches use Strong consistency (they see every completed insert and delete). Milvus Lite saves each segment's
index file in a background thread, without a rename; one a killed process left cut short is removed on the next
load, and Milvus Lite builds it again from the segment (MilvusEngine._load).

Milvus Lite is one process at a time: it runs in the process that opens it and locks its folder, so a second
process (a `rag ingest` while `rag ui` is open) gets an error saying so. The many-processes guarantees of the
embedded store (readers see each commit without a restart, writers queue on the folder's lock) hold with a Milvus
server; with Milvus Lite they hold between threads of one process. The Lite folder is released when the last Store
on it in this process is closed.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import logging
import re
import threading
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import IndexMismatch, RagError
from rag.store.engine import SETTING

if TYPE_CHECKING:
    from rag.store.store import Store
    from rag.store.writer import Writer

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
MAX_K = 16_384  # Milvus's largest search limit (beyond it Milvus Lite answers nothing)
MAX_WORDS_BYTES = 65_535  # VARCHAR's largest max_length
INSERT_BATCH = 500
BM25_K1, BM25_B = 1.2, 0.75
EXTRA = "pip install 'rag-news[milvus]'"
_PLAIN = re.compile(r"[a-z0-9]+")


def _setting(setting: str, uri: str) -> str:
    return f"{SETTING}={setting}" if setting else f"the index's Milvus store {uri}"


def _pymilvus(setting: str, uri: str):  # noqa: ANN202 - the pymilvus module, imported when a Milvus index is used
    try:
        import pymilvus
    except ImportError:
        raise RagError(f"{_setting(setting, uri)} needs the milvus extra: {EXTRA}") from None
    if uri.endswith(".db") and importlib.util.find_spec("milvus_lite") is None:
        raise RagError(f"{_setting(setting, uri)} (Milvus Lite) needs the milvus extra: {EXTRA}")
    return pymilvus


def token(word: str) -> str:
    """A content word as one token of Milvus's standard tokenizer (which would split or drop other characters)."""
    return word if _PLAIN.fullmatch(word) else "x_" + word.encode("utf-8", "surrogatepass").hex()


def tokens(words: str) -> str:
    out = " ".join(token(w) for w in words.split())
    if len(out.encode()) > MAX_WORDS_BYTES:  # a chunk of one enormous sentence: its first words
        out = out.encode()[:MAX_WORDS_BYTES].decode("ascii", "ignore").rsplit(" ", 1)[0]
    return out


# ---- clients: one per URI in a process, shared by its stores and writers -------------------------------------------
_clients: dict[str, list] = {}  # uri -> [MilvusClient, users]
_guard = threading.Lock()


def _lite_locked(path: str) -> bool:
    """Whether another process holds the Milvus Lite folder (its LOCK file)."""
    try:
        fd = open(Path(path) / "LOCK", "a")  # noqa: SIM115
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        fd.close()


def connect(uri: str, setting: str = ""):  # noqa: ANN201 - pymilvus.MilvusClient
    """The process's client for `uri` (release it with `release`). RagError when Milvus cannot be reached."""
    pymilvus = _pymilvus(setting, uri)
    with _guard:
        if uri in _clients:
            _clients[uri][1] += 1
            return _clients[uri][0]
        if uri.endswith(".db") and not Path(uri).parent.is_dir():
            raise RagError(f"{_setting(setting, uri)}: the folder {Path(uri).parent} does not exist. Create it, or "
                           f"point {SETTING} at a path ending in .db in an existing folder.")
        try:
            client = pymilvus.MilvusClient(uri=uri, timeout=CONNECT_TIMEOUT_S)
        except Exception as e:  # noqa: BLE001 - pymilvus raises its own and grpc's errors
            if uri.endswith(".db") and _lite_locked(uri):
                raise RagError(f"The Milvus Lite data at {uri} ({_setting(setting, uri)}) is open in another "
                               "process; Milvus Lite serves one process at a time. Close the other process (rag ui, "
                               f"rag chat, rag ingest), or use a Milvus server ({SETTING}=milvus://host:19530) to "
                               "share an index between processes.") from e
            raise unreachable(uri, setting, e) from e
        _clients[uri] = [client, 1]
        return client


def release(uri: str) -> None:
    with _guard:
        entry = _clients.get(uri)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _clients[uri]
    with contextlib.suppress(Exception):
        entry[0].close()
    if uri.endswith(".db"):  # stop Milvus Lite's in-process server: another process may then open the folder
        with contextlib.suppress(Exception):
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(uri)


def drop_lite_index_files(uri: str, collection: str) -> list[Path]:
    """Remove the index files (`*.idx`, `*.sidx`: built from the stored segments) of a Milvus Lite collection."""
    files = [p for p in (Path(uri) / "collections" / collection / "partitions").glob("*/indexes/*")
             if p.suffix in (".idx", ".sidx")]
    for p in files:
        p.unlink(missing_ok=True)
    return files


def _reason(e: BaseException) -> str:
    text = str(getattr(e, "message", "") or e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:300]


def unreachable(uri: str, setting: str, e: BaseException) -> RagError:
    return RagError(f"Cannot reach Milvus at {uri} ({_setting(setting, uri)}): {_reason(e)}. Start Milvus there "
                    f"(or check it is a Milvus gRPC port, default 19530), or fix the address in {SETTING}: "
                    "milvus://host:19530, or a path ending in .db for Milvus Lite.")


def failed(uri: str, collection: str, what: str, e: BaseException) -> RagError:
    return RagError(f"Milvus at {uri} (collection {collection}) failed while {what}: {_reason(e)}. Nothing committed "
                    "is lost (the index is unchanged); check that Milvus is running and has space, then retry.")


def _vector_dim(client: object, collection: str) -> int | None:
    for f in client.describe_collection(collection)["fields"]:
        if f["name"] == "vector":
            return int(f["params"]["dim"])
    return None


def _check_dim(client: object, uri: str, collection: str, dim: int, where: str) -> None:
    found = _vector_dim(client, collection)
    if found != dim:
        raise IndexMismatch(f"The Milvus collection {collection} at {uri} holds vectors of dim {found}, but {where} "
                            f"was built with an embedder of dim {dim}. Use the embedder the collection was built "
                            "with, or rebuild the index into a new folder (a new collection) with: rag ingest PATH "
                            "--index NEW_DIR")


def create_collection(uri: str, collection: str, dim: int, setting: str = "") -> None:
    """Create the index's collection (an existing one is kept when its dim fits)."""
    client = connect(uri, setting)
    try:
        pm = _pymilvus(setting, uri)
        if client.has_collection(collection):
            _check_dim(client, uri, collection, dim, "this index")
            return
        schema = pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", pm.DataType.INT64, is_primary=True)
        schema.add_field("vector", pm.DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("words", pm.DataType.VARCHAR, max_length=MAX_WORDS_BYTES, enable_analyzer=True,
                         enable_match=True, analyzer_params={"tokenizer": "standard"})
        schema.add_field("sparse", pm.DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(pm.Function(name="words_bm25", function_type=pm.FunctionType.BM25,
                                        input_field_names=["words"], output_field_names=["sparse"]))
        index = client.prepare_index_params()
        index.add_index("vector", index_type="FLAT" if uri.endswith(".db") else "AUTOINDEX", metric_type="IP")
        bm25 = {"bm25_k1": BM25_K1, "bm25_b": BM25_B}
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=bm25)
        configs = getattr(index[-1], "_configs", None)
        if uri.endswith(".db") and isinstance(configs, dict):
            # pymilvus 3 sends index params flat; Milvus Lite 3.2 reads them only from a JSON "params" entry (else
            # it uses k1 1.5)
            configs["params"] = bm25
        client.create_collection(collection, schema=schema, index_params=index, consistency_level="Strong")
    except RagError:
        raise
    except Exception as e:  # noqa: BLE001
        raise failed(uri, collection, "creating the index's collection", e) from e
    finally:
        release(uri)


# ---- reading -----------------------------------------------------------------------------------------------------
class MilvusEngine:
    name = "milvus"

    def __init__(self, store: Store, uri: str, collection: str, setting: str = "") -> None:
        self.store, self.uri, self.collection, self.setting = store, uri, collection, setting
        self.client = connect(uri, setting)
        self._closed = False
        try:
            if not self.client.has_collection(collection):
                raise RagError(f"The index at {store.index_dir} keeps its vectors in the Milvus collection "
                               f"{collection} at {uri}, which is not there (dropped, or another Milvus). Point "
                               f"{SETTING} at the Milvus that holds it, or rebuild the index into a new folder with: "
                               "rag ingest PATH --index NEW_DIR")
            _check_dim(self.client, uri, collection, store.manifest.dim, f"the index at {store.index_dir}")
            if "Loaded" not in str(self.client.get_load_state(collection).get("state")):
                self._load()  # a reopened Milvus Lite folder starts released
        except BaseException as e:
            self.close()
            if isinstance(e, RagError):
                raise
            raise unreachable(uri, setting, e) from e
        self.vectors = MilvusVectors(self)
        self.keywords = MilvusKeywords(self)

    def _load(self) -> None:
        """Load the collection. Milvus Lite saves a segment's index file in a background thread after a flush,
        without a rename: a process killed then (a writer that dies right after its insert) leaves a cut-short
        file that fails every later load. Those files are derived from the segments' data, so they are removed and
        Milvus Lite builds them again; nothing stored is lost."""
        try:
            self.client.load_collection(self.collection)
        except Exception as e:
            removed = drop_lite_index_files(self.uri, self.collection) if self.uri.endswith(".db") else []
            if not removed:
                raise
            log.warning("Milvus Lite at %s could not load %s (%s); removed its %d index files (rebuilt from the "
                        "stored data) and loaded again", self.uri, self.collection, _reason(e), len(removed))
            self.client.load_collection(self.collection)

    def call(self, what: str, fn: str, *args: object, **kw: object):  # noqa: ANN202
        try:
            return getattr(self.client, fn)(*args, **kw)
        except Exception as e:  # noqa: BLE001
            raise failed(self.uri, self.collection, what, e) from e

    def refresh(self, store: Store) -> str:
        rows = store.query("SELECT value FROM meta WHERE key = 'generation'")
        return rows[0][0] if rows else "0"

    def search_vectors(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        q = np.asarray(query, dtype=np.float32).reshape(-1).tolist()
        res = self.call("searching vectors", "search", self.collection, data=[q], anns_field="vector",
                        limit=min(k, MAX_K), search_params={"metric_type": "IP"}, consistency_level="Strong")
        return sorted(((int(h["id"]), float(h["distance"])) for h in res[0]), key=lambda h: (-h[1], h[0]))

    def search_words(self, words: list[str], k: int) -> list[tuple[int, float]]:
        terms = sorted({token(w) for w in words if w.strip()})
        if not terms:
            return []
        res = self.call("searching words", "search", self.collection, data=[" ".join(terms)], anns_field="sparse",
                        limit=min(k, MAX_K), consistency_level="Strong",
                        search_params={"metric_type": "BM25", "params": {"drop_ratio_search": 0.0}})
        # BM25 scores are positive; Milvus Lite reports them negated (as distances)
        return sorted(((int(h["id"]), abs(float(h["distance"]))) for h in res[0]), key=lambda h: (-h[1], h[0]))

    def vector(self, chunk_id: int) -> np.ndarray:
        rows = self.call("reading a vector", "query", self.collection, ids=[int(chunk_id)], output_fields=["vector"],
                         consistency_level="Strong")
        if not rows:
            raise KeyError(chunk_id)
        return np.asarray(rows[0]["vector"], dtype=np.float32)

    def vectors_of(self, chunk_ids: list[int]) -> dict[int, np.ndarray]:
        rows = self.call("reading vectors", "query", self.collection, ids=[int(c) for c in chunk_ids],
                         output_fields=["vector"], consistency_level="Strong") if chunk_ids else []
        return {int(r["id"]): np.asarray(r["vector"], dtype=np.float32) for r in rows}

    def count(self, expr: str = "") -> int:
        rows = self.call("counting rows", "query", self.collection, filter=expr, output_fields=["count(*)"],
                         consistency_level="Strong")
        return int(rows[0]["count(*)"]) if rows else 0

    def live(self) -> int:
        return self.count()

    def writer(self, w: Writer) -> MilvusWriter:
        return MilvusWriter(self, w)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            release(self.uri)


class MilvusVectors:
    """Store.vectors for a Milvus index: searches go to Milvus; there are no local segments or IVF."""

    segments: dict = {}  # noqa: RUF012 - for `rag info`, which counts local segments
    ann = None

    def __init__(self, engine: MilvusEngine) -> None:
        self.engine = engine

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        return self.engine.search_vectors(query, k)

    def vector(self, chunk_id: int) -> np.ndarray:
        return self.engine.vector(chunk_id)

    @property
    def total(self) -> int:
        return self.engine.live()


class MilvusKeywords:
    """Store.keywords for a Milvus index: BM25 search, and how many chunks hold a word (TEXT_MATCH)."""

    def __init__(self, engine: MilvusEngine) -> None:
        self.engine = engine

    def reload(self) -> None:
        pass

    def search(self, words: list[str], k: int) -> list[tuple[int, float]]:
        return self.engine.search_words(words, k)

    def df(self, word: str) -> int:
        return self.engine.count(f"TEXT_MATCH(words, '{token(word)}')") if word.strip() else 0

    def vocabulary(self) -> list[tuple[str, int]]:
        """Every word with its chunk count, from the chunks SQLite holds (Milvus has no term dictionary to walk):
        exports and training, not answering."""
        from rag.store.store import chunk_words

        store, counts = self.engine.store, Counter()
        for aid in store.article_ids():
            title, sents = store.article(aid).title, store.sentences(aid)
            for c in store.chunks_of(aid):
                counts.update(set(chunk_words(title, sents[c.first : c.last + 1]).split()))
        return sorted(counts.items())


# ---- writing -----------------------------------------------------------------------------------------------------
class MilvusWriter:
    def __init__(self, engine: MilvusEngine, w: Writer) -> None:
        self.engine, self.w = engine, w
        self.rows: list[dict] = []
        self.inserted: list[int] = []
        # rows of a writer that died between its Milvus insert and its SQLite commit: their ids are handed out again
        engine.call("dropping rows of an unfinished write", "delete", engine.collection,
                    filter=f"id >= {int(w.next_chunk_id)}")

    def add(self, ids: np.ndarray, vectors: np.ndarray, words: list[str]) -> None:
        self.rows += [{"id": int(cid), "vector": v.tolist(), "words": tokens(text)}
                      for cid, v, text in zip(ids, vectors, words, strict=True)]

    def delete(self, ids: list[int]) -> None:
        pass  # after the SQLite commit (after_commit); readers drop them meanwhile

    def prepare(self) -> None:
        e = self.engine
        for start in range(0, len(self.rows), INSERT_BATCH):
            part = self.rows[start : start + INSERT_BATCH]
            self.inserted += [r["id"] for r in part]
            e.call("adding chunks", "insert", e.collection, data=part)
        if self.rows:
            e.call("saving the added chunks", "flush", e.collection)
        self.rows = []

    def after_commit(self, ids: list[int]) -> None:
        e, self.inserted = self.engine, []  # committed: never removed by abort
        if not ids:
            return
        try:
            e.call("removing chunks", "delete", e.collection, ids=[int(i) for i in ids])
            e.call("saving the removal", "flush", e.collection)
        except RagError as err:  # readers drop them (no chunk row); a later removal of them is not retried
            log.warning("removed chunks stay in Milvus (unseen: they have no chunk row): %s", err)

    def abort(self) -> None:
        """The SQLite transaction failed: remove this write's rows now (else the next writer does)."""
        e, ids, self.inserted, self.rows = self.engine, self.inserted, [], []
        if ids:
            with contextlib.suppress(Exception):
                e.client.delete(e.collection, filter=f"id >= {min(ids)}")

    def close(self) -> None:
        pass

    def maintain(self) -> None:
        pass  # Milvus compacts and indexes its segments itself
