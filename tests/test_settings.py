"""Settings are checked when they are made: a bad value fails at once with the valid range, not deep inside a call."""

from __future__ import annotations

import pytest

from rag.answer.pipeline import Answerer
from rag.errors import RagError
from rag.settings import DEFAULTS, Settings


@pytest.mark.parametrize(("field", "value", "message"), [
    ("top_chunks", -1, "top_chunks must be a whole number of at least 1"),
    ("top_chunks", 0, "top_chunks must be a whole number of at least 1"),
    ("evidence_sentences", 0, "evidence_sentences must be"),
    ("chunk_sentences", 0, "chunk_sentences must be"),
    ("chunk_overlap", 5, "chunk_overlap must be between 0 and chunk_sentences - 1 = 4"),
    ("chunk_overlap", -1, "chunk_overlap must be between 0"),
    ("refuse_below", 1.5, "refuse_below must be between 0 and 1"),
    ("refuse_below", -0.1, "refuse_below must be between 0 and 1"),
    ("caution", 0.6, r"caution must be between 0 and 0.5 \(RAG_CAUTION\)"),
    ("caution", -0.1, "caution must be between 0 and 0.5"),
    ("timeout_s", 0.0, "timeout_s must be a positive number"),
    ("stale_after_days", -1, r"stale_after_days must be a whole number of days, 0 or more \(RAG_STALE_AFTER_DAYS"),
    ("model", " ", "model is empty"),
])
def test_bad_values_fail_at_construction(field: str, value: object, message: str) -> None:
    with pytest.raises(RagError, match=message):
        Settings(**{field: value})


def test_environment_values_are_converted_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TOP_CHUNKS", "7")
    assert Settings.from_env().top_chunks == 7
    monkeypatch.setenv("RAG_TOP_CHUNKS", "many")
    with pytest.raises(RagError, match="RAG_TOP_CHUNKS='many' is not a valid int: set a whole number"):
        Settings.from_env()
    monkeypatch.setenv("RAG_TOP_CHUNKS", "-3")
    with pytest.raises(RagError, match="top_chunks must be a whole number of at least 1"):
        Settings.from_env()


def test_one_source_of_defaults() -> None:
    import inspect

    params = inspect.signature(Answerer.__init__).parameters
    assert params["evidence_sentences"].default == DEFAULTS.evidence_sentences == Settings().evidence_sentences
    assert params["max_tokens"].default == DEFAULTS.max_answer_tokens
    assert params["refuse_below"].default == DEFAULTS.refuse_below


@pytest.mark.parametrize("raw", ["0.9", "-0.1", "lots", "nan"])
def test_caution_flag_out_of_range_names_the_flag(raw: str, capsys: pytest.CaptureFixture[str]) -> None:
    from rag.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["ask", "Who leads the delegation?", "--caution", raw])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --caution:" in err and "0.5" in err and "RAG_CAUTION" not in err
