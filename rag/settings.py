"""One settings object, read at the edge (CLI, UI, eval runner). Library code takes plain arguments."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from rag.errors import RagError

MODELS = ("gemma", "smollm2")


@dataclass(frozen=True)
class Settings:
    index_dir: Path = Path("index")
    # model: "gemma" | "smollm2" | a path to a .gguf file | an OpenAI-compatible base URL (http...)
    model: str = "gemma"
    api_model: str = "default"  # model name sent to an OpenAI-compatible server
    api_key: str = "none"
    timeout_s: float = 60.0
    threads: int = max(1, min(4, os.cpu_count() or 1))
    chunk_sentences: int = 5
    chunk_overlap: int = 2
    top_chunks: int = 4
    evidence_sentences: int = 6
    max_answer_tokens: int = 48
    refuse_below: float = 0.3  # question-to-best-sentence relevance under which we refuse
    min_coverage: float = 0.4  # share of the question's terms a sentence must contain to answer it
    seed: int = 0

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


def _convert(name: str, raw: str, kind: type) -> object:
    try:
        return kind(raw)
    except ValueError as e:
        raise RagError(f"RAG_{name.upper()}={raw!r} is not a valid {kind.__name__}") from e
