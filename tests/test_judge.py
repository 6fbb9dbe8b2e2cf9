"""The judge probe (`python -m rag.evals.judge`): its ranking measure and report with exact values, its prompt, and
that reusing the evaluated prefix of the previous prompt (as it does) gives the real model's same score."""

from __future__ import annotations

import math

import pytest

from rag.evals.judge import EXAMPLES, Judge, Judged, auc, prompt, report


def test_auc_exact() -> None:
    assert auc([3.0, 2.0], [1.0, 0.0]) == 1.0
    assert auc([0.0], [1.0]) == 0.0
    assert auc([1.0, 0.0], [1.0]) == pytest.approx(0.25)  # one tie (half), one below
    assert math.isnan(auc([], [1.0])) and math.isnan(auc([1.0], []))


def test_report_counts_what_a_veto_would_refuse() -> None:
    judged = [Judged("a", True, 1.5), Judged("a", False, -1.5), Judged("b", False, 0.5)]
    lines = report(judged).splitlines()
    assert lines[1].split()[:4] == ["a", "2", "1", "1.000"]
    assert "t=+0: 0/1" in lines[1] and "t=+2: 1/1" in lines[1]
    assert lines[2].split()[:3] == ["b", "1", "0"] and "nan" in lines[2]
    assert lines[3].split()[:4] == ["all", "3", "1", "1.000"] and "t=+1: 0/2" in lines[3]


def test_prompt_is_a_shared_head_and_the_case() -> None:
    head, case = prompt("Who won?", "Oslo", ("Oslo won.", "It rained."), chatml=False)
    assert case == "Sentences: Oslo won. It rained.\nQuestion: Who won?\nAnswer: Oslo\nStated:"
    assert all(f"Answer: {a}\nStated: {y}" in head for _, _, a, y in EXAMPLES)
    assert prompt("Who lost?", "Bergen", ("Bergen lost.",), chatml=False)[0] == head
    chat_head, chat_case = prompt("Who won?", "Oslo", ("Oslo won.",), chatml=True)
    assert chat_head.startswith("<|im_start|>system") and chat_case.endswith("<|im_start|>assistant\n")


@pytest.mark.slow
def test_a_case_scores_the_same_whatever_was_judged_before() -> None:
    from rag.generate import gemma_path

    judge = Judge(gemma_path())
    race = prompt("Who won the race?", "Oslo", ("Oslo won the race on Sunday.",), chatml=False)
    storm = prompt("How many died?", "12", ("The storm killed 12 people.",), chatml=False)
    first = judge.log_odds(*storm)
    judge.log_odds(*race)
    assert judge.log_odds(*storm) == first
    judge.llm.reset()
    assert judge.log_odds(*storm) == first
    assert judge.log_odds(*storm) != judge.log_odds(*race)
