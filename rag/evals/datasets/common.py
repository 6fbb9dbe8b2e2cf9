"""What every dataset reader shares: the `Item` it returns, and small file helpers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.errors import RagError
from rag.evals.questions import Question
from rag.ingest.articles import Article


@dataclass(frozen=True)
class Item:
    """One question with the corpus articles it brings along (its evidence and its distractors) and its split."""

    question: Question
    articles: tuple[Article, ...]
    split: str  # "dev" | "test" (rag.evals.datasets.splits)

    def evidence_articles(self) -> tuple[Article, ...]:
        """The articles the question's evidence names (by id or url)."""
        ev = set(self.question.evidence)
        return tuple(a for a in self.articles if a.id in ev or (a.url and a.url in ev))


def sample(items: list[Item], limit: int) -> list[Item]:
    """A fixed sample: the `limit` questions whose id hashes lowest, in their original order.

    Stable across Python versions, and a smaller sample is always part of a larger one.
    """
    if not limit or limit >= len(items):
        return items
    keep = set(sorted(range(len(items)), key=lambda i: hashlib.sha1(items[i].question.id.encode()).digest())[:limit])
    return [it for i, it in enumerate(items) if i in keep]


def read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def require(path: Path) -> Path:
    if not path.exists():
        raise RagError(f"Missing evaluation data file {path}; restore the shared evaldata folder.")
    return path


def squash(text: str) -> str:
    return " ".join(text.split())
