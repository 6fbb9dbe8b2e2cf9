"""The built-in question sets, built in memory from the public data at run time (never copied into this repository).

The data lives in ../shared/evaldata next to the repository, or in $RAG_EVALDATA (see its README.md). One reader per
dataset (`realtimeqa` and `realtimeqa-web`, `quail`, `rgb`), sets built in code from their items (`absent`, `long`,
`long-refusal`, `polar`, `outlets`, `outlets-refusal`), and
the dev/test split rules in one place (`splits`). A reader returns `Item`s: a question, the articles it brings
(evidence and distractors) and its split; a set is the questions of the chosen split, sampled (`--limit N`: the N
questions whose id hashes lowest, in order, so a smaller sample is part of a larger one), with the union of their
articles as corpus.

CI thresholds live in evals/<name>.toml, one table per run: `[thresholds."30"]` for `rag eval NAME --limit 30`
(`"all"` without a limit) on the default split `all`, `[thresholds."test-30"]` for `--split test --limit 30`.

    python -m rag.evals.datasets NAME [--split all|dev|test] [--limit N] [--out DIR]   # counts; DIR: a set folder
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.errors import RagError
from rag.evals.datasets import absent, long, outlets, polar, quail, realtimeqa, rgb
from rag.evals.datasets.common import Item, sample
from rag.evals.datasets.splits import SPLITS
from rag.evals.questions import QuestionSet, question_record
from rag.ingest.articles import Article, make_article

ROOT = Path(__file__).resolve().parents[3]  # the repository
THRESHOLDS = ROOT / "evals"


@dataclass(frozen=True)
class Dataset:
    description: str
    items: Callable[[Path], list[Item]]  # the evaldata folder -> every item, in a fixed order


DATASETS: dict[str, Dataset] = {
    "realtimeqa": Dataset(realtimeqa.DESCRIPTION, realtimeqa.items),
    "realtimeqa-web": Dataset(realtimeqa.WEB_DESCRIPTION, realtimeqa.web_items),
    "quail": Dataset(quail.DESCRIPTION, quail.items),
    "rgb": Dataset(rgb.DESCRIPTION, rgb.items),
    "rgb-refusal": Dataset(rgb.REFUSAL_DESCRIPTION, lambda root: rgb.items(root, refusal=True)),
    "absent": Dataset(absent.DESCRIPTION, lambda root: absent.build(realtimeqa.items(root) + rgb.items(root))),
    "long": Dataset(long.DESCRIPTION, lambda root: long.build(realtimeqa.items(root))),
    "long-refusal": Dataset(long.REFUSAL_DESCRIPTION, lambda root: long.build_refusal(realtimeqa.items(root))),
    "polar": Dataset(polar.DESCRIPTION, lambda root: polar.build(realtimeqa.items(root), realtimeqa.quiz_claims(root))),
    "outlets": Dataset(outlets.DESCRIPTION, lambda root: outlets.build(realtimeqa.web_items(root))),
    "outlets-refusal": Dataset(outlets.REFUSAL_DESCRIPTION,
                               lambda root: outlets.build_refusal(realtimeqa.web_items(root))),
}
BUILTIN = tuple(DATASETS)


def evaldata_dir() -> Path:
    """The external data folder: $RAG_EVALDATA, else ../shared/evaldata next to the repository."""
    env = os.environ.get("RAG_EVALDATA")
    path = Path(env) if env else ROOT.parent / "shared" / "evaldata"
    if not path.is_dir():
        raise RagError(f"Evaluation data not found at {path}. Put the shared evaldata folder there, "
                       "or set RAG_EVALDATA=/path/to/evaldata.")
    return path


def sample_items(name: str, limit: int = 0, split: str = "all") -> list[Item]:
    """The items of set `name` in `split`; limit > 0 keeps the fixed sample of that many (see the module docstring)."""
    if name not in DATASETS:
        raise RagError(f"Unknown question set {name!r}; choose one of: {', '.join(BUILTIN)}.")
    if split not in SPLITS:
        raise RagError(f"--split must be one of {', '.join(SPLITS)}, not {split!r}.")
    if limit < 0:
        raise RagError(f"--limit must be 0 (all questions) or more, not {limit}.")
    items = DATASETS[name].items(evaldata_dir())
    return sample([it for it in items if split == "all" or it.split == split], limit)


def build(name: str, limit: int = 0, split: str = "all") -> QuestionSet:
    """Question set `name` in memory: its questions, its corpus and its thresholds from evals/<name>.toml."""
    items = sample_items(name, limit, split)
    description = DATASETS[name].description
    if split != "all":
        description += f" Split {split} (rag.evals.datasets.splits)."
    if limit:
        description += f" Fixed sample of {len(items)} questions."
    return QuestionSet(name if split == "all" else f"{name}-{split}", tuple(it.question for it in items),
                       corpus(items), thresholds(name, limit, split), description)


def corpus(items: Iterable[Item]) -> tuple[Article, ...]:
    """The items' articles, each once (its first occurrence), cleaned as ingestion cleans a JSON article record;
    articles left without text are dropped."""
    unique: dict[str, Article] = {}
    for it in items:
        for art in it.articles:
            unique.setdefault(art.id, art)
    out = []
    for a in unique.values():
        if a.text.strip():
            clean = make_article(a.title, a.text, date=a.date, source=a.source, url=a.url, id=a.id)
            if clean.text:
                out.append(clean)
    return tuple(out)


def thresholds(name: str, limit: int = 0, split: str = "all") -> dict[str, float]:
    """The CI thresholds of one run of built-in set `name` (see the module docstring); {} when there are none."""
    path = THRESHOLDS / f"{name}.toml"
    if not path.exists():
        return {}
    key = str(limit or "all") if split == "all" else f"{split}-{limit or 'all'}"
    table = tomllib.loads(path.read_text(encoding="utf-8")).get("thresholds", {}).get(key, {})
    return {k: float(v) for k, v in table.items()}


def write_set(qs: QuestionSet, out: Path) -> Path:
    """Write a built set as a question-set folder (questions.jsonl, corpus.jsonl, set.toml) that `rag eval DIR` runs."""
    out.mkdir(parents=True, exist_ok=True)
    arts = qs.corpus if isinstance(qs.corpus, tuple) else ()
    _write_jsonl(out / "questions.jsonl", (question_record(q) for q in qs.questions))
    _write_jsonl(out / "corpus.jsonl", ({k: v for k, v in asdict(a).items() if v} for a in arts))
    limits = "".join(f"{k} = {v}\n" for k, v in qs.thresholds.items())
    (out / "set.toml").write_text(f"name = {json.dumps(qs.name)}\ndescription = {json.dumps(qs.description)}\n"
                                  f'corpus = "corpus.jsonl"\n\n[thresholds]\n{limits}', encoding="utf-8")
    return out


def _write_jsonl(path: Path, records: Iterable[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.evals.datasets", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=BUILTIN)
    parser.add_argument("--split", default="all", choices=SPLITS)
    parser.add_argument("--limit", type=int, default=0, help="keep a fixed sample of N questions (0 = all)")
    parser.add_argument("--out", type=Path, default=None, help="also write the set as a question-set folder")
    args = parser.parse_args(argv)
    try:
        qs = build(args.name, args.limit, args.split)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    answerable = sum(q.answerable for q in qs.questions)
    print(f"{qs.name}: {len(qs.questions)} questions ({answerable} answerable), {len(qs.corpus)} corpus articles")
    if args.out:
        print(f"written to {write_set(qs, args.out)}")
    return 0
