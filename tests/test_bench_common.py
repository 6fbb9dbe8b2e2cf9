"""`rag bench` helpers pinned without running a benchmark: sizes, sections, the one percentile, the news sources
(read through rag.evals.datasets, so $RAG_EVALDATA counts) and the table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rag.evals.bench import common
from rag.evals.bench.main import SECTIONS, parse_only


def test_parse_sizes_and_sections() -> None:
    assert common.parse_sizes("10k, 100_000,1M,1.5k") == [10_000, 100_000, 1_000_000, 1_500]
    assert parse_only(None) == list(SECTIONS) and parse_only("search, answer") == ["search", "answer"]
    with pytest.raises(SystemExit, match="unknown section"):
        parse_only("search,nope")


def test_percentiles_use_the_eval_percentile() -> None:
    assert common.percentiles([1.0, 2.0, 3.0, 4.0, 5.0]) == {"p50": 3.0, "p95": 4.8, "n": 5}
    empty = common.percentiles([])
    assert math.isnan(empty["p50"]) and empty["n"] == 0


def test_news_comes_from_the_dataset_reader_and_honours_rag_evaldata(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "realtimeqa-2022"
    folder.mkdir()
    long_text = "Real news text. " * 40
    results = [{"url": "https://www.a.com/1", "title": "One", "text": long_text, "publish_date": "2022/06/01"},
               {"url": "https://www.a.com/1", "title": "One again", "text": long_text},  # same url: once
               {"url": "https://b.org/2", "title": "Short", "text": "too short"},
               {"url": "https://b.org/3", "title": "Three", "text": long_text}]
    (folder / "20220617_gcs.jsonl").write_text(json.dumps({"question_id": "x", "search_result": results}) + "\n")
    (folder / "20220617_qa.jsonl").write_text(json.dumps({"question_id": "x", "question_sentence": " Who? "}) + "\n")
    monkeypatch.setenv("RAG_EVALDATA", str(tmp_path))
    arts = common.news_articles(5)
    assert [(a.title, a.source, a.date) for a in arts] == [("One", "a.com", "2022-06-01"), ("Three", "b.org", "")]
    assert [a.title for a in common.news_articles(1)] == ["One"]
    assert common.news_questions(5) == ["Who?"]
    monkeypatch.setenv("RAG_EVALDATA", str(tmp_path / "missing"))
    assert common.news_articles(5) == [] and common.news_questions(5) == []


def test_table_aligns_columns() -> None:
    t = common.Table()
    t.title("T")
    t.rows(["name", "n"], [["a", "1"], ["bbb", "22"]])
    assert str(t) == "\nT\n  name   n\n  a      1\n  bbb   22"
    assert common.fmt(None) == "-" and common.fmt(float("nan")) == "-" and common.fmt(1234.5, 1) == "1,234.5"
