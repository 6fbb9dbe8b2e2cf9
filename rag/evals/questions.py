"""Questions and question sets: the one `Question` type every reader produces and the runner asks.

A question set is a name, its questions, its corpus and its CI thresholds. The corpus is either a path (a
`corpus.jsonl` or a folder of article files, for sets kept as folders: `evals/seed/`, `rag eval DIR`) or the
articles themselves (the built-in sets of `rag.evals.datasets`, built in memory from the public data at run time).

A question-set folder holds `questions.jsonl` (one question per line: `id`, `question`, `answers`, `answerable`,
optional `evidence`, `history`, `category`), `corpus.jsonl` or a `corpus` path named in `set.toml`, and `set.toml`
(`name`, `description`, optional `corpus`, and `[thresholds]` per metric).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.answer.conversation import Turn
from rag.errors import RagError
from rag.ingest.articles import Article


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]  # acceptable answer strings; empty when unanswerable
    answerable: bool
    evidence: tuple[str, ...] = ()  # verbatim supporting sentences, or article ids / urls
    history: tuple[Turn, ...] = ()  # earlier turns of the conversation
    category: str = ""


@dataclass(frozen=True)
class QuestionSet:
    name: str
    questions: tuple[Question, ...]
    corpus: Path | tuple[Article, ...]  # corpus.jsonl or a folder of article files, or the articles themselves
    thresholds: dict[str, float] = field(default_factory=dict)
    description: str = ""
    folder: Path | None = None  # where the set was read from (None for the built-in sets)

    def corpus_hash(self, extra: str = "") -> str:
        """A short key of the corpus' content (and `extra`, e.g. the chunk settings): the eval index cache key."""
        h = hashlib.sha1(extra.encode())
        if isinstance(self.corpus, Path):
            files = sorted(p for p in self.corpus.rglob("*") if p.is_file()) if self.corpus.is_dir() else [self.corpus]
            for p in files:
                h.update(p.name.encode())
                h.update(p.read_bytes())
        else:
            for art in self.corpus:
                h.update(json.dumps(asdict(art), ensure_ascii=False, sort_keys=True).encode("utf-8", "surrogatepass"))
        return h.hexdigest()[:16]


def load_set(folder: Path) -> QuestionSet:
    """Read a question-set folder; a bad line is named by file and line number."""
    folder = Path(folder)
    qfile = folder / "questions.jsonl"
    if not qfile.exists():
        raise RagError(f"{folder} is not a question set: it has no questions.jsonl (see README, 'Question sets').")
    meta = tomllib.loads((folder / "set.toml").read_text()) if (folder / "set.toml").exists() else {}
    questions = []
    for n, line in enumerate(qfile.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            questions.append(_question(json.loads(line)))
        except (KeyError, TypeError, json.JSONDecodeError) as e:
            raise RagError(f"{qfile}:{n}: bad question record ({e}); each needs id, question, answers, "
                           "answerable") from e
    corpus = folder / meta["corpus"] if "corpus" in meta else folder / "corpus.jsonl"
    if not corpus.exists():
        raise RagError(f"The corpus of {folder} is missing: expected {corpus}")
    return QuestionSet(meta.get("name", folder.name), tuple(questions), corpus.resolve(),
                       {k: float(v) for k, v in meta.get("thresholds", {}).items()}, meta.get("description", ""),
                       folder)


def _question(r: object) -> Question:
    if not isinstance(r, dict):
        raise TypeError("each line must be a JSON object")
    answers = r.get("answers") or []
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise TypeError('"answers" must be a list of strings')
    if not isinstance(r.get("answerable", True), bool):
        raise TypeError('"answerable" must be true or false')
    return Question(str(r["id"]), r["question"], tuple(answers), bool(r.get("answerable", True)),
                    tuple(r.get("evidence") or ()),
                    tuple(Turn(h["question"], h["answer"]) for h in r.get("history") or ()), r.get("category", ""))


def question_record(q: Question) -> dict[str, object]:
    """A question as one line of questions.jsonl (what load_set reads back)."""
    return {"id": q.id, "question": q.question, "answers": list(q.answers), "answerable": q.answerable,
            "evidence": list(q.evidence), "history": [{"question": t.question, "answer": t.answer} for t in q.history],
            "category": q.category}
