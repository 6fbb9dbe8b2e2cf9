"""Hybrid retrieval: dense (vector segments) + keyword (tantivy, BM25) fused by reciprocal rank, then sentences
ranked inside the best chunks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from rag.answer.outlet_names import also_called_words, outlet_label
from rag.answer.recency import day
from rag.embed import Embedder
from rag.errors import RagError
from rag.ingest.articles import Article
from rag.ingest.sentences import Sentence
from rag.settings import DEFAULTS
from rag.store import Chunk, Store
from rag.store.store import url_host
from rag.text import STOPWORDS, content_words

RRF_K = 60
# a filter that leaves at most this many chunks is searched chunk by chunk when the candidates miss it (an outlet
# without a date, "reported by both TechCrunch and The Verge", can hold thousands; 27,567 chunks took 0.15 s here)
EXHAUSTIVE_UNDER = 5000


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # fused RRF score


@dataclass(frozen=True)
class Evidence:
    sentence: Sentence
    article: Article
    score: float  # relevance of this sentence to the question, ~[0, 1]
    dense: float  # cosine similarity of question and sentence


@dataclass(frozen=True)
class Block:
    """A retrieved chunk as the model reads it: its article's title and its sentences, in order."""

    title: str
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True)
class Retrieval:
    """Everything answering needs from the index, so it never reaches into the store or the keyword index."""

    question: str
    hits: list[Hit]
    sentences: list[Evidence]  # best first
    blocks: tuple[Block, ...] = ()  # one per hit, in the order of `hits`
    idf: Mapping[str, float] = field(default_factory=dict)  # keyword rarity of the index's words
    outlets: frozenset[str] = frozenset()  # words naming the library's sources ("cnn", "verge")

    @property
    def best(self) -> float:
        return self.sentences[0].score if self.sentences else 0.0


@dataclass(frozen=True)
class Filters:
    sources: tuple[str, ...] = ()
    date_from: str = ""  # ISO dates compare as strings
    date_to: str = ""
    fresh_from: str = ""  # an article dated (as ISO) before this day is left out, an undated one kept: a question
    # about the time of asking ("this week") is answered from recent pages (`rag.answer.recency`)

    def allows(self, art: Article) -> bool:
        if self.sources and art.source not in self.sources and url_host(art.url) not in self.sources:
            return False
        if self.fresh_from and (written := day(art.date)) is not None and written.isoformat() < self.fresh_from:
            return False
        if self.date_from and (not art.date or art.date[:10] < self.date_from):
            return False
        return not (self.date_to and (not art.date or art.date[:10] > self.date_to))


def outlet_words(sources: Iterable[str], urls: Iterable[str]) -> frozenset[str]:
    """The words naming where a library's articles come from: sources "CNN", "The Verge" → {"cnn", "verge"}; a URL's
    host "edition.cnn.com" → {"edition", "cnn"}; "nytimes.com" → also {"new", "york", "times", "nyt"} (`ALSO_CALLED`).
    Used to tell an outlet named in a question from an absent name."""
    words = {w for src in sources for w in re.findall(r"[\w&'-]+", src.lower()) if w not in STOPWORDS}
    for url in urls:
        words |= {w for w in url_host(url).split(".")[:-1] if w not in ("www", "m", "amp")}
    words |= also_called_words({outlet_label(x) for x in (*sources, *map(url_host, urls))})
    return frozenset(w for w in words if len(w) >= 2 and w not in STOPWORDS)


def rrf(rankings: list[list[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of several ranked id lists; ties broken by id for determinism."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


class Retriever:
    def __init__(self, store: Store, embedder: Embedder, top_chunks: int = DEFAULTS.top_chunks,
                 candidates: int = 30) -> None:
        if top_chunks < 1:
            raise RagError(f"top_chunks must be greater than 0. Currently, top_chunks is {top_chunks}")
        self.store, self.embedder = store, embedder
        import faiss

        # one query at a time: faiss's thread pool costs ~24 ms per search on 2 shared cores, one thread ~0.5 ms
        faiss.omp_set_num_threads(1)
        self.top_chunks, self.candidates = top_chunks, candidates
        self._outlets: tuple[str, frozenset[str]] | None = None  # (store generation, words)

    @property
    def outlets(self) -> frozenset[str]:
        if self._outlets is None or self._outlets[0] != self.store.generation:
            self._outlets = (self.store.generation, outlet_words(*self.store.outlets()))
        return self._outlets[1]

    @property
    def idf(self) -> Mapping[str, float]:
        return self.store.idf

    def retrieve(self, question: str, filters: Filters | None = None, top_chunks: int | None = None,
                 max_sentences: int = 12, rank_by: str = "", stored_vectors: bool = False) -> Retrieval:
        """Chunks for `question`; sentences inside them ranked for `rank_by` (default: the question itself).
        A follow-up retrieves chunks with the condensed question but ranks sentences by what was asked.
        `stored_vectors`: rank sentences by the vectors stored at ingestion (int8 encoder: fast, for listings such
        as `rag search`) instead of embedding them now with the fp32 encoder (the answer path: the verifier is
        calibrated on fp32 similarities, and int8 ones, cosine ~0.97 to them on single sentences, moved its
        decisions: rgb-refusal's 40-question gate fell from 0.30 to 0.225)."""
        question = question.strip()
        if not question:
            raise RagError("The question is empty: type a question about the articles.")
        k = top_chunks or self.top_chunks
        qvec = self.embedder.embed([question])[0]
        fetch = self.candidates if not filters else max(self.candidates * 10, 300)
        dense = self.store.search_vectors(qvec, fetch)
        keyword = self.store.search_words(content_words(question), fetch)
        rankings = [[cid for cid, _ in dense], [cid for cid, _ in keyword]]
        if filters:
            ok = self.store.allowed(sorted({c for r in rankings for c in r}), filters.sources, filters.date_from,
                                    filters.date_to, filters.fresh_from)
            rankings = [[cid for cid in r if cid in ok] for r in rankings]
            if len(set(rankings[0]) | set(rankings[1])) < k:  # the library-wide candidates leave the filter too few
                # chunks (a long question's own report, "as CNN reported on October 24", ranked below them): a
                # narrow filter (an outlet's reports of a day) is searched whole
                inside = self.store.matching(filters.sources, filters.date_from, filters.date_to, EXHAUSTIVE_UNDER,
                                             filters.fresh_from)
                if inside:
                    rankings[0] = self._nearest(inside, qvec)
        fused = rrf(rankings)
        chunks = self.store.chunks([cid for cid, _ in fused[: k + 5]])  # a few spare: removed meanwhile
        hits = [Hit(chunks[cid], score) for cid, score in fused if cid in chunks][:k]
        if rank_by and rank_by != question:
            question, qvec = rank_by, self.embedder.embed([rank_by])[0]
        blocks = tuple(Block(self.store.article(h.chunk.article_id).title,
                             tuple(self.store.sentences(h.chunk.article_id)[h.chunk.first : h.chunk.last + 1]))
                       for h in hits)
        ranked = self.rank_sentences(question, qvec, hits, stored_vectors)
        return Retrieval(question, hits, ranked[:max_sentences], blocks, self.idf, self.outlets)

    def _nearest(self, chunk_ids: list[int], qvec: np.ndarray) -> list[int]:
        """The chunks by their stored vectors' similarity to the question, best first (ties by id); a chunk removed
        meanwhile is left out."""
        held = self.store.vectors_of(chunk_ids)
        return [cid for _, cid in sorted((-float(vec @ qvec), cid) for cid, vec in held.items())]

    def _dense(self, sents: list[Sentence], qvec: np.ndarray, stored_vectors: bool) -> np.ndarray:
        """Each sentence's similarity to the question (see `vectors`)."""
        return self.vectors(sents, stored_vectors) @ qvec if sents else np.zeros(0, dtype=np.float32)

    def vectors(self, sents: list[Sentence], stored: bool = True) -> np.ndarray:
        """The sentences' vectors, a row each: those stored at ingestion (when asked to, and the article has them),
        else embedded now."""
        held = {aid: self.store.sentence_vectors(aid) for aid in {s.article_id for s in sents}} if stored else {}
        out = np.zeros((len(sents), self.store.manifest.dim), dtype=np.float32)
        missing = []
        for i, s in enumerate(sents):
            vecs = held.get(s.article_id)
            if vecs is not None and s.n < len(vecs):
                out[i] = vecs[s.n].astype(np.float32)
            else:
                missing.append(i)
        if missing:
            out[missing] = self.embedder.embed([sents[i].text for i in missing])
        return out

    def rank_sentences(self, question: str, qvec: np.ndarray, hits: list[Hit],
                       stored_vectors: bool = False) -> list[Evidence]:
        seen: dict[str, Sentence] = {}
        for hit in hits:
            for sid in hit.chunk.sentence_ids():
                seen.setdefault(sid, self.store.sentence(sid))
        sents = list(seen.values())
        if not sents:
            return []
        dense = self._dense(sents, qvec, stored_vectors)
        qwords = set(content_words(question))
        idf = self.idf
        qweight = sum(idf.get(w, 1.0) for w in qwords) or 1.0
        out = []
        for s, d in zip(sents, dense, strict=True):
            overlap = sum(idf.get(w, 1.0) for w in qwords & set(content_words(s.text))) / qweight
            score = 0.7 * float(d) + 0.3 * overlap
            out.append(Evidence(s, self.store.article(s.article_id), score, float(d)))
        return sorted(out, key=lambda e: (-e.score, e.sentence.id))
