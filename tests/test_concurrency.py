"""20 questions at once through the Python API: all answered, none mixed up, memory bounded."""

from __future__ import annotations

import resource
from concurrent.futures import ThreadPoolExecutor

import pytest

QUESTIONS = {
    "Who leads the Ukrainian delegation?": "Umerov",
    "In which city are the talks expected to take place?": "Istanbul",
    "What share of Ukrainian land does Russia control?": "20%",
    "How many Ukrainian drones did Russia's Defense Ministry say it intercepted?": "35",
}


@pytest.mark.slow
def test_twenty_concurrent_questions_each_get_their_own_answer(seed_assistant):
    asked = [q for _ in range(5) for q in QUESTIONS]  # 20 questions, interleaved
    seed_assistant.ask(asked[0])  # load the model before measuring memory
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(seed_assistant.ask, asked))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert len(answers) == 20
    for question, answer in zip(asked, answers, strict=True):
        assert answer.question == question
        # each answer rests on the sentence that answers *its* question (checked citations or closest sentences)
        cited = " ".join(c.text for c in answer.citations + answer.closest)
        assert QUESTIONS[question] in cited, (question, answer.text, cited)
    # the same question gets the same answer whatever runs beside it (greedy decoding, one model context)
    by_question: dict[str, set[str]] = {}
    for question, answer in zip(asked, answers, strict=True):
        by_question.setdefault(question, set()).add(answer.text)
    assert all(len(texts) == 1 for texts in by_question.values()), by_question
    assert grown_mb < 300, f"answering 20 questions at once grew peak RSS by {grown_mb:.0f} MB"
