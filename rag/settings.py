"""One settings object, read at the edge (CLI, UI, eval runner). Library code takes plain arguments."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from rag.errors import RagError

MODELS = ("gemma", "smollm2")
MAX_CAUTION = 0.5  # the largest caution accepted (README: the caution table, measured up to 0.2)


@dataclass(frozen=True)
class Settings:
    index_dir: Path = Path("index")
    # model: "gemma" | "smollm2" | a path to a .gguf file | an OpenAI-compatible base URL (http...)
    model: str = "gemma"
    api_model: str = "default"  # model name sent to an OpenAI-compatible server
    api_key: str = "none"
    timeout_s: float = 60.0
    threads: int = max(1, min(4, os.cpu_count() or 1))
    embedder_variant: str = "int8"  # bulk embedding: "int8" (each text alone: reproducible) or "fp32"; questions: fp32
    chunk_sentences: int = 5
    chunk_overlap: int = 2
    top_chunks: int = 4
    evidence_sentences: int = 6
    max_answer_tokens: int = 24  # the draft's first claims; a claim cut short is said by its sentence
    refuse_below: float = 0.3  # question-to-best-sentence relevance under which we refuse
    # added to the verifier's thresholds (0 to 0.5): higher refuses more often, wrong and right answers alike
    caution: float = 0.0
    # a question about the time of asking ("this week") is not answered from an article written this many days
    # before the library's newest one (rag.answer.recency); 0 turns the check off (an archive of many years)
    stale_after_days: int = 365
    seed: int = 0
    # where a new index keeps its chunk vectors and keyword words (an existing index keeps its own): "" or "embedded"
    # (the index folder), milvus://host:19530 (a Milvus server), or a path ending in .db (Milvus Lite); rag.store.engine
    store: str = ""

    def __post_init__(self) -> None:
        """Reject impossible values here, with the valid range, instead of deep inside a later call."""
        at_least_one = ("threads", "chunk_sentences", "top_chunks", "evidence_sentences", "max_answer_tokens")
        for name in at_least_one:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise RagError(f"{name} must be a whole number of at least 1 (RAG_{name.upper()}); got {value!r}")
        if not isinstance(self.stale_after_days, int) or isinstance(self.stale_after_days, bool) \
                or self.stale_after_days < 0:
            raise RagError(f"stale_after_days must be a whole number of days, 0 or more (RAG_STALE_AFTER_DAYS; 0 turns "
                           f"the check off); got {self.stale_after_days!r}")
        if not isinstance(self.chunk_overlap, int) or not 0 <= self.chunk_overlap < self.chunk_sentences:
            raise RagError(f"chunk_overlap must be between 0 and chunk_sentences - 1 = {self.chunk_sentences - 1} "
                           f"(RAG_CHUNK_OVERLAP); got {self.chunk_overlap!r}")
        for name, top in (("refuse_below", 1.0), ("caution", MAX_CAUTION)):
            value = getattr(self, name)
            if not 0.0 <= value <= top:
                raise RagError(f"{name} must be between 0 and {top:g} (RAG_{name.upper()}); got {value!r}")
        if self.embedder_variant not in ("fp32", "int8"):
            raise RagError(f"embedder_variant must be 'int8' or 'fp32' (RAG_EMBEDDER_VARIANT); got "
                           f"{self.embedder_variant!r}")
        if not self.timeout_s > 0:
            raise RagError(f"timeout_s must be a positive number of seconds (RAG_TIMEOUT_S); got {self.timeout_s!r}")
        if str(self.store).strip():
            from rag.store.engine import parse_store  # raises naming RAG_STORE and the accepted forms

            parse_store(self.store)
        if not str(self.model).strip():
            raise RagError(f"model is empty (RAG_MODEL): use one of {', '.join(MODELS)}, a path to a .gguf file, "
                           "or an OpenAI-compatible server URL")

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Read RAG_* variables (e.g. RAG_INDEX_DIR, RAG_MODEL); explicit overrides win."""
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"RAG_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _convert(f.name, raw, type(getattr(cls(), f.name)))
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "index_dir" in values:
            values["index_dir"] = Path(str(values["index_dir"]))
        return replace(cls(), **values)


DEFAULTS = Settings()  # the one source of default values: library code that takes plain arguments defaults to these


def _convert(name: str, raw: str, kind: type) -> object:
    try:
        return kind(raw)
    except ValueError as e:
        raise RagError(f"RAG_{name.upper()}={raw!r} is not a valid {kind.__name__}: set a "
                       f"{'whole number' if kind is int else 'number' if kind is float else kind.__name__}") from e
