"""Eval scoring pinned exactly: answer matching, token F1, the summary metrics (draft accuracy, kept, recall@k), the one
percentile, the gate, and question-set loading."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from rag.answer.conversation import Turn
from rag.errors import RagError
from rag.evals.questions import Question, load_set
from rag.evals.run import Result, contains_answer, gate, percentile, resolve_set, score, summarize, token_f1

# ---- contains_answer ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "golds"), [
    ("The talks are in Istanbul.", ("Istanbul",)),
    ("The talks are in ISTANBUL", ("istanbul",)),  # case
    ("They met in “Istanbul”.", ('"Istanbul"',)),  # curly and straight quotes
    ("Drones hit a gas station.", ("the gas station",)),  # articles
    ("Drones hit the gas-station!", ("gas station",)),  # punctuation
    ("Peskov said it's hardly possible", ("it’s hardly possible",)),  # apostrophes
    ("The mayor of São Paulo spoke.", ("Sao Paulo",)),  # accents
    ("Russia controls approximately 20% of the land.", ("20%",)),
    ("Nobody; Umerov leads it.", ("Zelensky", "Umerov")),  # any gold
    ("No. No specific date has been set. [1]", ("No",)),  # a yes/no verdict
    ("Yes: the first was reported on 2022-06-12.", ("yes",)),
    ("It sold for $12,600,000.", ("$12.6 million",)),  # the same amount written otherwise
    ("About 1600 titles were banned.", ("1,600",)),
    ("China and Russia. [1]", ("Russia and China",)),  # every part of a list, in any order
    ("Albertsons and Kroger plan to merge.", ("Kroger & Albertsons",)),
    ("The UK's new prime minister", ("United Kingdom",)),  # a country by its usual short name
])
def test_contains_answer_matches_after_normalisation(text: str, golds: tuple[str, ...]) -> None:
    assert contains_answer(text, golds) is True


@pytest.mark.parametrize(("text", "golds"), [
    ("Umerov leads it.", ("Rustem Umerov",)),  # the whole gold must appear
    ("The Istanbuls of this world.", ("Istanbul",)),  # whole words only
    ("In 2015 a boy was born.", ("201",)),
    ("Anything at all.", ("",)),  # an empty gold never matches
    ("Anything at all.", ("The",)),  # nor one that normalises to nothing
    ("Anything at all.", ()),
    ("$310,605.", ("$300,000",)),  # amounts are compared exactly, not rounded
    ("$402 million", ("$400 million",)),
    ("100%.", ("90%",)),
    ("12,600,000 people", ("$12.6 million",)),  # a dollar amount is not a head count
    ("The Astros and Phillies", ("Houston Astros & Philadelphia Phillies",)),  # each part whole
    ("Russia alone.", ("Russia and China",)),
    ("President Obama", ("Barack Obama",)),  # no guessing at names
    ("Yes. No date has been set.", ("No",)),  # a yes/no gold is the answer's first word, not one in a quote
    ("The articles say no date was set.", ("No",)),
])
def test_contains_answer_rejects(text: str, golds: tuple[str, ...]) -> None:
    assert contains_answer(text, golds) is False


# ---- token_f1 -----------------------------------------------------------------------------------------------------


def test_token_f1_worked_example() -> None:
    # prediction "rustem umerov leads delegation" (4 tokens; "the" dropped), gold "umerov": p = 1/4, r = 1
    assert token_f1("Rustem Umerov leads the delegation", ("Umerov",)) == pytest.approx(2 * 0.25 * 1 / 1.25)
    assert token_f1("Rustem Umerov leads the delegation", ("Umerov",)) == pytest.approx(0.4)


def test_token_f1_takes_the_best_gold() -> None:
    # against "rustem umerov": common 2, p = 2/4, r = 1 -> 2/3
    assert token_f1("Rustem Umerov leads the delegation", ("Umerov", "Rustem Umerov")) == pytest.approx(2 / 3)


def test_token_f1_clips_repeated_tokens() -> None:
    # pred talks x3, gold talks/in/istanbul: common = min(3, 1) = 1 -> p = r = 1/3
    assert token_f1("talks talks talks", ("talks in Istanbul",)) == pytest.approx(1 / 3)


def test_token_f1_exact_and_disjoint() -> None:
    assert token_f1("The Istanbul!", ("istanbul",)) == 1.0
    assert token_f1("Kyiv", ("Istanbul",)) == 0.0
    assert token_f1("", ("Istanbul",)) == 0.0
    assert token_f1("Istanbul", ()) == 0.0


# ---- summarize ----------------------------------------------------------------------------------------------------

BASE = Result(id="q", question="?", category="", answerable=True, answer="", refused=False, mode="generated",
              correct=False, f1=0.0, length=0, retrieval_hit=None, cited=0, cited_ok=0, evidence_cited=None,
              seconds=0.0, gold=(), citations=())


def res(**kw: object) -> Result:
    return replace(BASE, **kw)


RESULTS = [
    res(id="a1", correct=True, f1=1.0, length=5, retrieval_hit=True, retrieval_rank=2, cited=2, cited_ok=1,
        evidence_cited=True, seconds=1.0),
    res(id="a2", f1=0.5, length=3, retrieval_hit=False, evidence_cited=False, seconds=2.0),
    res(id="a3", refused=True, mode="refused", length=6, retrieval_hit=True, retrieval_rank=7, seconds=4.0),
    res(id="u1", answerable=False, refused=True, mode="refused", length=4, seconds=3.0),
    res(id="u2", answerable=False, length=10, cited=1, seconds=5.0),
]


def test_summarize_exact_values() -> None:
    assert summarize(RESULTS) == {
        "questions": 5, "answerable": 3, "unanswerable": 2,
        "accuracy": 0.3333,  # a1 of a1..a3
        "f1": 0.5,  # (1 + 0.5 + 0) / 3
        "false_refusal": 0.3333,  # a3
        "retrieval_recall": 0.6667,  # a1, a3 of a1..a3
        "recall@1": 0.0, "recall@3": 0.3333, "recall@5": 0.3333, "recall@10": 0.6667,  # ranks 2 (a1), 7 (a3)
        "citation_precision": 0.5,  # answered answerable: (1 + 0) ok of (2 + 0) cited
        "citation_recall": 0.5,  # a1 True, a2 False (a3 None is left out)
        "cited_share": 0.6667,  # a1 and u2 of the answered a1, a2, u2
        "answer_words": 6.0,  # mean(5, 3, 10) over the answered
        "refusal": 0.5,  # u1 of u1, u2
        "latency_p50": 3.0,  # sorted [1, 2, 3, 4, 5] at position 4 * 0.5 = 2
        "latency_p95": 4.8,  # at position 4 * 0.95 = 3.8: 4 + 0.8 * (5 - 4)
    }


def test_summarize_empty_and_only_unanswerable() -> None:
    assert summarize([]) == {"questions": 0, "answerable": 0, "unanswerable": 0}
    got = summarize([res(answerable=False, refused=True, seconds=2.0)])
    assert got == {"questions": 1, "answerable": 0, "unanswerable": 1, "refusal": 1.0, "latency_p50": 2.0,
                   "latency_p95": 2.0}


def test_summarize_without_citations_has_no_citation_precision() -> None:
    got = summarize([res(correct=True, f1=1.0, length=2, seconds=1.0)])
    assert "citation_precision" not in got
    assert got["cited_share"] == 0.0 and got["accuracy"] == 1.0 and got["answer_words"] == 2


# ---- draft accuracy, kept, recall@k -------------------------------------------------------------------------------

GOLD = ("Istanbul",)
DRAFTS = [
    res(id="d1", gold=GOLD, draft="In Istanbul. [1]", correct=True),  # good draft, kept
    res(id="d2", gold=GOLD, draft="The talks are in istanbul", refused=True),  # good draft, refused: lost
    res(id="d3", gold=GOLD, draft="Istanbul, Turkey", correct=False),  # good draft, wrong final answer: lost
    res(id="d4", gold=GOLD, draft="In Ankara.", correct=True),  # bad draft, right final answer (extractive)
    res(id="d5", gold=GOLD, draft="", refused=True),  # refused before the model wrote anything
    res(id="u1", answerable=False, gold=(), draft="Istanbul", refused=True),  # unanswerable: not counted
]


def test_draft_accuracy_and_kept_exact_values() -> None:
    got = summarize(DRAFTS)
    assert got["draft_accuracy"] == 0.6  # d1, d2, d3 of the 5 answerable
    assert got["kept"] == 0.3333  # d1 of d1, d2, d3
    assert got["accuracy"] == 0.4  # d1, d4


def test_kept_is_absent_without_a_good_draft_and_both_without_drafts() -> None:
    got = summarize([res(gold=GOLD, draft="Ankara"), res(gold=GOLD, draft="")])
    assert got["draft_accuracy"] == 0.0 and "kept" not in got
    got = summarize([res(gold=GOLD, correct=True)])  # a pipeline without drafts (the llama-index baseline)
    assert "draft_accuracy" not in got and "kept" not in got


def test_recall_at_k_exact_values() -> None:
    results = [res(id=f"r{i}", retrieval_hit=rank is not None, retrieval_rank=rank)
               for i, rank in enumerate([1, 2, 3, 4, 6, 10, 11, None])]
    results.append(res(id="skip", retrieval_hit=None))  # not measured: left out of every recall
    results.append(res(id="una", answerable=False))
    got = summarize(results)
    assert {k: got[k] for k in ("retrieval_recall", "recall@1", "recall@3", "recall@5", "recall@10")} == {
        "retrieval_recall": 0.875,  # 7 hits of 8 measured
        "recall@1": 0.125, "recall@3": 0.375, "recall@5": 0.5, "recall@10": 0.75}


def _answer(text: str, draft: str = "", refused: bool = False):  # noqa: ANN202
    from rag.answer.records import Answer

    return Answer("q?", text, (), refused, "refused" if refused else "generated", draft=draft)


def test_score_ranks_the_first_retrieved_unit_holding_the_evidence() -> None:
    q = Question("q", "Where are the talks?", ("Istanbul",), True, ("art-2",))
    retrieved = [("art-1", "", "Nothing here."), ("art-1", "", "Still nothing."), ("art-3", "", "Talks in Istanbul."),
                 ("art-2", "", "The evidence article.")]
    r = score(q, _answer("Istanbul.", draft="Istanbul"), 1.0, retrieved)
    assert (r.retrieval_hit, r.retrieval_rank, r.draft, r.correct) == (True, 3, "Istanbul", True)  # answer at 3
    r = score(q, _answer("No."), 1.0, retrieved[:2])
    assert (r.retrieval_hit, r.retrieval_rank) == (False, None)
    una = score(Question("u", "?", (), False), _answer("", refused=True), 1.0, retrieved)
    assert (una.retrieval_hit, una.retrieval_rank) == (None, None)


# ---- percentile -----------------------------------------------------------------------------------------------------


def test_percentile_interpolates_like_numpy() -> None:
    np = pytest.importorskip("numpy")
    values = [3.0, 1.0, 10.0, 2.5, 7.0, 4.0]
    for q in (0, 5, 25, 50, 90, 95, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([2.0], 95) == 2.0
    assert percentile([1.0, 2.0], 50) == 1.5


def test_percentile_of_nothing_is_nan() -> None:
    assert percentile([], 50) != percentile([], 50)  # nan


# ---- gate ---------------------------------------------------------------------------------------------------------


def test_gate_higher_is_better_fails_below_the_threshold() -> None:
    assert gate({"accuracy": 0.5, "refusal": 0.9}, {"accuracy": 0.6, "refusal": 0.9}) == [
        "accuracy = 0.5 (threshold 0.6)"]


def test_gate_lower_is_better_fails_above_the_threshold() -> None:
    summary = {"false_refusal": 0.4, "latency_p95": 3.0, "answer_words": 30.0}
    thresholds = {"false_refusal": 0.3, "latency_p95": 5.0, "answer_words": 25.0}
    assert gate(summary, thresholds) == ["false_refusal = 0.4 (threshold 0.3)", "answer_words = 30.0 (threshold 25.0)"]


def test_gate_passes_at_the_threshold_and_fails_on_unmeasured_metrics() -> None:
    summary = {"accuracy": 0.6, "false_refusal": 0.3}
    assert gate(summary, {"accuracy": 0.6, "false_refusal": 0.3}) == []
    assert gate(summary, {}) == []
    # a misspelt metric, or one no question produced, must not pass silently
    assert gate(summary, {"citation_recal": 0.9}) == ["citation_recal was not measured (misspelt, or no question "
                                                      "produced it)"]


# ---- load_set -----------------------------------------------------------------------------------------------------


def write_set(folder: Path, lines: list[str], toml: str | None = None, corpus: str = "corpus.jsonl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "questions.jsonl").write_text("\n".join(lines) + "\n")
    (folder / corpus).write_text(json.dumps({"title": "T", "text": "Umerov leads the delegation."}) + "\n")
    if toml is not None:
        (folder / "set.toml").write_text(toml)
    return folder


Q1 = json.dumps({"id": 1, "question": "Who leads?", "answers": ["Umerov", "Rustem Umerov"], "answerable": True,
                 "evidence": ["Umerov leads the delegation."], "category": "factual"})
Q2 = json.dumps({"id": "q2", "question": "Where?", "history": [{"question": "Who leads?", "answer": "Umerov."}],
                 "answerable": False})


def test_load_set_reads_questions_corpus_and_settings(tmp_path: Path) -> None:
    toml = ('name = "mini"\ndescription = "a tiny set"\ncorpus = "articles.jsonl"\n'
            "[thresholds]\naccuracy = 0.5\nfalse_refusal = 1\n")
    folder = write_set(tmp_path / "mini-set", [Q1, "", Q2], toml, corpus="articles.jsonl")
    qs = load_set(folder)
    assert qs.name == "mini" and qs.description == "a tiny set" and qs.folder == folder
    assert qs.corpus == (folder / "articles.jsonl").resolve()
    assert qs.thresholds == {"accuracy": 0.5, "false_refusal": 1.0}
    assert qs.questions == (
        Question("1", "Who leads?", ("Umerov", "Rustem Umerov"), True, ("Umerov leads the delegation.",), (),
                 "factual"),
        Question("q2", "Where?", (), False, (), (Turn("Who leads?", "Umerov."),), ""),
    )


def test_load_set_defaults_without_set_toml(tmp_path: Path) -> None:
    folder = write_set(tmp_path / "plain", [Q1])
    qs = load_set(folder)
    assert qs.name == "plain" and qs.thresholds == {} and qs.description == ""
    assert qs.corpus == (folder / "corpus.jsonl").resolve()
    assert len(qs.questions) == 1 and qs.questions[0].answerable is True


def test_load_set_missing_questions_or_corpus(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(RagError, match="no questions.jsonl"):
        load_set(tmp_path / "empty")
    folder = write_set(tmp_path / "nocorpus", [Q1], 'corpus = "missing.jsonl"\n')
    with pytest.raises(RagError, match="missing.jsonl"):
        load_set(folder)


@pytest.mark.parametrize(("lines", "line_no"), [
    ([Q1, json.dumps({"id": "x", "answers": ["a"]})], 2),  # no "question"
    ([Q1, "", "{not json"], 3),  # blank lines still count
    (['"just a string"'], 1),
    ([Q1, Q2, json.dumps({"id": "h", "question": "?", "history": [{"question": "only"}]})], 3),
])
def test_load_set_bad_line_names_file_and_line(tmp_path: Path, lines: list[str], line_no: int) -> None:
    folder = write_set(tmp_path / "bad", lines)
    with pytest.raises(RagError) as err:
        load_set(folder)
    assert f"questions.jsonl:{line_no}:" in str(err.value)


def test_load_set_answers_given_as_one_string(tmp_path: Path) -> None:
    # A hand-written set easily says "answers": "Istanbul". Read as ("I", "s", "t", ...) it silently scores any answer
    # holding a lone letter ("Putin's" normalises to "putin s") as correct; it must be one gold, or an error.
    folder = write_set(tmp_path / "str", [json.dumps({"id": "s", "question": "Where?", "answers": "Istanbul"})])
    try:
        qs = load_set(folder)
    except RagError as e:
        assert "questions.jsonl:1" in str(e)
    else:
        assert qs.questions[0].answers == ("Istanbul",)


def test_load_set_answerable_given_as_a_string(tmp_path: Path) -> None:
    folder = write_set(tmp_path / "str", [json.dumps({"id": "s", "question": "Capital?", "answerable": "false"})])
    try:
        qs = load_set(folder)
    except RagError as e:
        assert "questions.jsonl:1" in str(e)
    else:
        assert qs.questions[0].answerable is False


def test_split_applies_to_built_in_sets_only(tmp_path: Path) -> None:
    folder = write_set(tmp_path / "mine", [Q1])
    assert resolve_set(str(folder)).questions[0].id == "1"
    with pytest.raises(RagError, match="--split dev applies to the built-in public sets"):
        resolve_set(str(folder), split="dev")
    with pytest.raises(RagError, match="--split test"):
        resolve_set("seed", split="test")
