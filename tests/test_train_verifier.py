"""The verifier's training with exact values: the logistic fit, the decision it simulates, the utility it maximises."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rag.answer.verifier import CLAIM_FEATURES, FEATURES, Verifier
from rag.evals.train_verifier import Prepared, decide, fit, given, metrics, utility


def _prepared(labels: list[float], claims: tuple[str, ...] = (), support: list[list[float]] | None = None,
              sentences: tuple[str, ...] = ("Oslo hosts the talks.", "Rain fell."), answerable: bool = True,
              absent: bool = False, draft_correct: bool = False, kind: str = "name") -> Prepared:
    rows = np.zeros((len(labels), len(FEATURES)))
    rows[:, 0] = 1.0
    sup = np.array(support if support is not None else [[0.0] * len(labels) for _ in claims])
    return Prepared("t", kind, answerable, ("Oslo",) if answerable else (), rows, np.array(labels), absent, claims,
                    tuple(() for _ in claims), tuple(1 for _ in claims), tuple(True for _ in claims),
                    sup.reshape(len(claims), len(labels)),
                    sentences, draft_correct)


def test_fit_separates_a_separable_feature() -> None:
    x = np.array([[1.0, v] for v in (-2, -1, -0.5, 0.5, 1, 2)])
    y = np.array([0, 0, 0, 1, 1, 1], dtype=float)
    w, mean, scale = fit(x, y)
    assert mean[0] == 0.0 and scale[0] == 1.0
    p = 1 / (1 + np.exp(-(((x - mean) / scale) @ w)))
    assert (p[:3] < 0.5).all() and (p[3:] > 0.5).all()
    assert w[1] > 0


def _verifier(answer_at: float, claim_at: float, defer_share: float = 0.0, requote_below: float = 0.0) -> Verifier:
    """Claim probability = logistic(likely - 0.5) * ... : weights that make it the sentence's own likelihood."""
    n, m = len(FEATURES), len(CLAIM_FEATURES)
    cw = [0.0] * m
    cw[0], cw[CLAIM_FEATURES.index("likely")] = -4.0, 8.0  # p(claim) = logistic(8 * likely - 4)
    return Verifier(tuple([0.0] * n), tuple([0.0] * n), tuple([1.0] * n), {"name": answer_at}, tuple(cw),
                    tuple([0.0] * m), tuple([1.0] * m), claim_at, defer_share, requote_below)


def test_decide_quotes_the_likeliest_sentence_keeps_supported_claims_and_refuses() -> None:
    v = _verifier(answer_at=0.5, claim_at=0.5)
    p = _prepared([1.0, 0.0])
    assert decide(p, np.array([0.6, 0.1]), v) == (False, True)  # quotes "Oslo hosts…"
    assert decide(p, np.array([0.4, 0.1]), v) == (True, False)  # nothing likely enough
    claim = _prepared([1.0, 0.0], claims=("Oslo.",), support=[[1.0, 0.0]])
    assert decide(claim, np.array([0.55, 0.1]), _verifier(0.9, 0.5)) == (False, True)  # the claim is kept
    assert decide(claim, np.array([0.45, 0.1]), _verifier(0.9, 0.5)) == (True, False)  # claim unlikely; no quote
    wrong = _prepared([1.0, 0.0], claims=("Rain.",), support=[[0.0, 1.0]])
    assert decide(wrong, np.array([0.6, 0.1]), v) == (False, True)  # dropped (its sentence unlikely); quote wins
    # a claim on a sentence far less likely than an answer-worthy best one defers to the best one
    assert decide(wrong, np.array([0.6, 0.55]), _verifier(0.5, 0.5, defer_share=0.95)) == (False, True)
    assert decide(_prepared([1.0, 0.0], absent=True), np.array([0.9, 0.9]), v) == (True, False)


def test_given_is_the_answer_with_the_sentences_it_rests_on() -> None:
    v = _verifier(answer_at=0.5, claim_at=0.5)
    oslo = "Oslo hosts the talks."
    assert given(_prepared([1.0, 0.0]), np.array([0.6, 0.1]), v) == (oslo, (oslo,))
    assert given(_prepared([1.0, 0.0]), np.array([0.4, 0.1]), v) is None
    claim = _prepared([1.0, 0.0], claims=("Oslo.",), support=[[1.0, 0.0]])
    assert given(claim, np.array([0.55, 0.1]), _verifier(0.9, 0.5)) == ("Oslo.", (oslo,))

def test_an_unsure_claim_gives_way_to_the_sentence_it_rests_on() -> None:
    oslo = "Oslo hosts the talks."
    claim = _prepared([1.0, 0.0], claims=("Bergen.",), support=[[1.0, 0.0]])
    likely = np.array([0.55, 0.1])  # p(claim) = logistic(8 * 0.55 - 4) = 0.599
    assert given(claim, likely, _verifier(0.9, 0.5)) == ("Bergen.", (oslo,))  # off: the claim is kept
    assert given(claim, likely, _verifier(0.9, 0.5, requote_below=0.6)) == (oslo, (oslo,))  # quoted, though 0.55
    assert given(claim, likely, _verifier(0.9, 0.5, requote_below=0.59)) == ("Bergen.", (oslo,))  # sure enough
    # the sentence the claim rests on is quoted, not the likeliest one
    rain = _prepared([1.0, 0.0], claims=("Drizzle.",), support=[[0.0, 1.0]])
    assert given(rain, np.array([0.6, 0.56]), _verifier(0.9, 0.5)) == ("Drizzle.", ("Rain fell.",))
    assert given(rain, np.array([0.6, 0.56]), _verifier(0.9, 0.5, requote_below=0.9)) == ("Rain fell.", ("Rain fell.",))
    # claims resting on two sentences are not one sentence's rewording: kept, both
    both = _prepared([1.0, 0.0], claims=("Oslo.", "Rain."), support=[[1.0, 0.0], [0.0, 1.0]])
    assert given(both, np.array([0.6, 0.56]), _verifier(0.9, 0.5, requote_below=0.9)) == (
        "Oslo. Rain.", (oslo, "Rain fell."))


def test_verifier_requotes_exact() -> None:
    v = _verifier(0.5, 0.5, requote_below=0.7)
    assert v.requotes([0.69, 0.2], one_sentence=True) is True
    assert v.requotes([0.7], one_sentence=True) is False
    assert v.requotes([0.1], one_sentence=False) is False
    assert v.requotes([], one_sentence=True) is False
    assert _verifier(0.5, 0.5).requotes([0.0], one_sentence=True) is False  # 0: never


def test_metrics_and_utility_exact() -> None:
    n = len(FEATURES)
    v = Verifier(tuple([0.0] * n), tuple([0.0] * n), tuple([1.0] * n), {"name": 0.4})  # every p = 0.5
    answered = _prepared([1.0, 0.0], draft_correct=True)
    unanswerable = _prepared([0.0, 0.0], answerable=False)
    m = metrics([answered, unanswerable], v)["t"]
    assert m == {"accuracy": 1.0, "false_refusal": 0.0, "draft_accuracy": 1.0, "kept": 1.0, "refusal": 0.0}
    assert utility({"t": m}) == pytest.approx(0.5)
    assert utility({"t": {"accuracy": 0.5, "false_refusal": 0.35}}) == pytest.approx(0.5 - 0.2)
    assert utility({"quail": {"accuracy": 0.0, "false_refusal": 0.1, "refusal": 0.7}}) == pytest.approx(0.8)


def test_leave_one_set_out_trains_on_the_other_sets_and_scores_the_one_left_out(monkeypatch) -> None:
    from dataclasses import replace

    import rag.evals.train_verifier as tv

    n = len(FEATURES)
    v = Verifier(tuple([0.0] * n), tuple([0.0] * n), tuple([1.0] * n), {"name": 0.4})  # every p = 0.5: answers
    a = replace(_prepared([1.0, 0.0], draft_correct=True), set="a")  # quoted right
    b = replace(_prepared([0.0, 0.0], answerable=False), set="b")  # answered though unanswerable
    seen: list[tuple[str, ...]] = []

    def fake_train(prepared, l2, per_kind):  # noqa: ANN001, ANN202
        seen.append(tuple(sorted({p.set for p in prepared})))
        assert (l2, per_kind) == (3.0, False)
        return v

    monkeypatch.setattr(tv, "train", fake_train)
    assert tv.leave_one_set_out([a, b], l2=3.0, per_kind=False) == {"a": 1.0, "b": 0.0}
    assert seen == [("b",), ("a",)]


def test_split_indexed_sets_are_harvested_per_split(monkeypatch) -> None:
    import rag.evals.train_verifier as tv

    calls = []

    def fake_harvest(name, log=print, split="all"):  # noqa: ANN001, ANN202
        calls.append((name, split))
        return [SimpleNamespace(id=f"{name}-{i}") for i in range(3)]

    monkeypatch.setattr(tv, "harvest", fake_harvest)
    monkeypatch.setattr(tv, "split_ids", lambda name, split: {f"{name}-1"})
    got = tv.harvest_split(["realtimeqa-web", "rgb"], "test")
    assert calls == [("realtimeqa-web", "test"), ("rgb", "all")]  # rgb: its whole corpus, then filtered
    assert [h.id for h in got] == ["realtimeqa-web-0", "realtimeqa-web-1", "realtimeqa-web-2", "rgb-1"]


def test_choose_thresholds_keeps_the_models_and_sets_each_kinds_threshold() -> None:
    from dataclasses import replace

    from rag.evals.train_verifier import choose_thresholds

    n = len(FEATURES)
    base = Verifier(tuple([0.0] * n), tuple([0.0] * n), tuple([1.0] * n), {})  # every sentence p = 0.5
    who = replace(_prepared([1.0, 0.0], kind="name"), set="a")  # quoting answers it right
    count = replace(_prepared([0.0, 0.0], answerable=False, kind="number"), set="b")  # must be refused
    v = choose_thresholds(base, [who, count])
    assert (v.weights, v.mean, v.scale) == (base.weights, base.mean, base.scale)
    assert v.answer_at["name"] <= 0.5 < v.answer_at["number"]
    assert metrics([who, count], v) == {"a": {"accuracy": 1.0, "false_refusal": 0.0, "draft_accuracy": 0.0,
                                              "kept": 0.0}, "b": {"refusal": 1.0}}
    one = choose_thresholds(base, [who, count], per_kind=False)  # one threshold: answer both or refuse both
    assert len(set(one.answer_at.values())) == 1


def test_harvest_reuses_only_drafts_cached_for_the_current_index(tmp_path, monkeypatch) -> None:
    import pickle

    import rag.evals.datasets as datasets
    import rag.evals.run as run
    import rag.evals.train_verifier as tv

    class Rebuilt(Exception):
        pass

    def build_index(qs):  # noqa: ANN001, ANN202
        raise Rebuilt  # reached only when nothing is cached for the current index

    monkeypatch.setattr(tv, "CACHE", tmp_path)
    monkeypatch.setattr(datasets, "build", lambda name, split="all": SimpleNamespace(name=name))
    def index_path(qs, settings, sentence_vectors=True):  # noqa: ANN001, ANN202
        return tmp_path / ("rgb-new" if sentence_vectors else "rgb-old")  # "rgb-old": before sentence vectors

    monkeypatch.setattr(run, "index_path", index_path)
    monkeypatch.setattr(run, "build_index", build_index)
    old = tv.Harvested("rgb", "q1", "Who?", ("Oslo",), True, (), {}, "stale draft", frozenset({"Reuters"}))
    (tmp_path / "rgb-old.pkl").write_bytes(pickle.dumps([old]))  # drafts of another index of the same corpus
    with pytest.raises(Rebuilt):
        tv.harvest("rgb", log=lambda *a, **k: None)
    fresh = tv.Harvested("rgb", "q1", "Who?", ("Oslo",), True, (), {}, "fresh draft", frozenset({"Reuters"}))
    (tmp_path / "rgb-new.pkl").write_bytes(pickle.dumps([fresh]))
    assert [h.draft for h in tv.harvest("rgb", log=lambda *a, **k: None)] == ["fresh draft"]


def test_prepare_reads_a_follow_ups_claims_against_the_conversation() -> None:
    # As Answerer.check does: words the standalone question (the follow-up with the conversation's words) already
    # holds need no support, so the claim rests on "Istanbul" alone
    from dataclasses import replace

    from rag.answer.retrieve import Evidence
    from rag.evals.train_verifier import Harvested, prepare
    from rag.ingest.articles import make_article
    from rag.ingest.sentences import split_sentences

    art = make_article("Talks", "The talks are expected to take place in Istanbul.", url="https://example.com/t",
                       source="Example News")
    context = (Evidence(split_sentences(art.id, art.text)[0], art, 0.6, 0.5),)
    claim = "The third round of direct negotiations will be held in Istanbul."
    follow_up = Harvested("seed", "q", "Where will that round be held?", ("Istanbul",), True, context, {}, claim)
    alone = prepare(follow_up)  # third, direct, negotiations unsupported; Istanbul, a name, weighs double
    assert alone.support.tolist() == [[pytest.approx(2 / 5)]] and alone.claim_words == (4,)
    conversed = prepare(replace(follow_up, standalone="Where will that round be held? (third direct negotiations)"))
    assert conversed.support.tolist() == [[1.0]] and conversed.claim_words == (1,)
