"""Train the semantic verifier (rag/answer/verifier.json) on the dev split of the public question sets.

    python -m rag.evals.train_verifier                 # harvest (cached), fit, choose thresholds, write the weights
    python -m rag.evals.train_verifier --report-only   # print dev and test metrics of the packaged weights
    python -m rag.evals.train_verifier --thresholds-only --out F   # the packaged models, thresholds re-chosen on dev
    python -m rag.evals.train_verifier --cv [--l2 X] [--global-thresholds]   # leave-one-set-out on dev

1. Harvest: every question of each set goes through the real pipeline, over the set's whole corpus, up to the
   model's draft (`Answerer.find`, then the default model); the sentences it read are kept with the draft.
   Cached in .cache/verifier/ by corpus, so refitting costs seconds. Only the dev split's questions are fitted.
2. Fit: a logistic regression (L2, Newton steps, numpy only) of "this sentence contains a gold answer" on the
   features of `rag.answer.verifier.features`; unanswerable questions give negatives only.
   An answer that no sentence contains verbatim (QuAIL's option texts) labels the sentence closest to it (token F1
   at least WEAK_LABEL_F1) instead.
   A second logistic model, over CLAIM_FEATURES, says how likely a model claim is right given the sentence it rests
   on (that sentence's likelihood, against the likeliest one's; its support; whether the model's marker pointed
   there), labelled by whether the claim holds a gold answer.
3. Thresholds: `answer_at` per kind of question (quote a sentence at least this likely) and `claim_at` (keep a
   model claim at least this likely to be right) maximise, on dev, the mean
   over sets of: accuracy (for QuAIL, where answers are paraphrased, 1 - false refusal) on answerable questions and
   refusal on unanswerable ones, less the false refusal above 0.15 and the kept share below 0.9 (the ceiling and
   floor the product aims at).
The test split is never used for fitting or choosing; `--report-only` and `rag eval NAME --split test` report it.
"""

from __future__ import annotations

import argparse
import io
import json
import pickle
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from rag.answer.claims import SUPPORTED, Claim, cut_short, new_words, parse_claims, support, supported_part
from rag.answer.pipeline import _NO_ANSWER, STOPS, clean_draft, is_unusable
from rag.answer.retrieve import Evidence
from rag.answer.verifier import (
    CLAIM_FEATURES,
    FEATURES,
    WEIGHTS,
    Question,
    Verifier,
    absent_names,
    claim_answers,
    claim_features,
    features,
)
from rag.evals.run import contains_answer, token_f1
from rag.settings import DEFAULTS

SETS = ("realtimeqa", "long", "rgb", "rgb-refusal", "quail", "seed")
SPLIT_INDEXED = {"realtimeqa-web"}  # 1,813 web pages: each split's own index (the one its rag eval builds), not one
CACHE = Path(".cache/verifier")
ANSWER_AT = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)
KINDS = ("number", "date", "name", "other")
CLAIM_AT = (0.03, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
DEFER_SHARE = (0.0, 0.1, 0.2, 0.3, 0.5)
REQUOTE_BELOW = (0.0, 0.5, 0.6, 0.7, 0.8, 1.0)
FALSE_REFUSAL_CEILING = 0.15
NUMBERED = DEFAULTS.evidence_sentences  # the sentences numbered in the prompt: a model's [n] beyond them is not its own
KEPT_FLOOR = 0.9  # the share of correct drafts the checker must keep
WEAK_LABEL_F1 = 0.3  # an answer not found verbatim labels the sentence closest to it (token F1) when this close
PARAPHRASED = {"quail"}  # answers are option texts, rarely verbatim: accuracy is not measured, answering is


@dataclass(frozen=True)
class Harvested:
    """One question as the checker sees it: the sentences the model read and the model's draft."""

    set: str
    id: str
    question: str
    answers: tuple[str, ...]
    answerable: bool
    context: tuple[Evidence, ...]
    idf: dict[str, float]
    draft: str
    outlets: frozenset[str] = frozenset()
    standalone: str = ""  # the question with a follow-up's conversation words (`condense`); "": cached without


@dataclass(frozen=True)
class Prepared:
    """A harvested question turned into numbers: feature rows, labels, and each claim's support per sentence."""

    set: str
    kind: str
    answerable: bool
    answers: tuple[str, ...]
    rows: np.ndarray
    labels: np.ndarray
    absent: bool
    claims: tuple[str, ...]
    cited: tuple[tuple[int, ...], ...]  # each claim's own [n] markers
    claim_words: tuple[int, ...]  # each claim's new content words
    claim_typed: tuple[bool, ...]  # each claim holds an answer of the asked kind (verifier.claim_answers)
    support: np.ndarray  # claims x sentences
    sentences: tuple[str, ...]
    draft_correct: bool
    low: bool = False  # nothing relevant enough: refused before the model wrote (Answerer.find)
    model_refused: bool = False  # the draft said "not in the articles"


class _Unpickler(pickle.Unpickler):
    """Reads a cache written by `python -m rag.evals.train_verifier`, where Harvested was `__main__.Harvested`, from
    any other entry point too (`rag.evals.judge`)."""

    def find_class(self, module: str, name: str):  # noqa: ANN201
        return Harvested if name == "Harvested" else super().find_class(module, name)


def harvest(name: str, log=print, split: str = "all") -> list[Harvested]:  # noqa: ANN001
    """Every question of set `name` (QuAIL: all unanswerable and every 4th answerable one) in `split`, over that
    split's corpus, up to the model's draft. Cached by corpus. The sets of SPLIT_INDEXED are harvested per split (the
    index `rag eval NAME --split S` builds); the others over their whole corpus, the split applied after
    (`split_ids`)."""
    from rag.assistant import Assistant
    from rag.evals import datasets
    from rag.evals.run import build_index, index_path, resolve_set
    from rag.settings import Settings

    qs = resolve_set("seed") if name == "seed" else datasets.build(name, split=split)
    # cached per index: drafts harvested over another index (one without sentence vectors, or with other chunk
    # vectors) are not what the pipeline now writes (about half of them differ), so they are not reused
    index_dir = index_path(qs, Settings())
    path = CACHE / f"{index_dir.name}.pkl"
    if not path.exists():
        build_index(qs)
    if path.exists():
        cached = _Unpickler(io.BytesIO(path.read_bytes())).load()
        if cached and not cached[0].__dict__.get("outlets"):  # cached before outlets were recorded
            from rag.library import Library

            outlets = Library(index_dir).retriever.outlets
            cached = [replace(h, outlets=outlets) for h in cached]
        return cached
    assistant = Assistant(Settings.from_env(index_dir=index_dir))
    answerer = assistant.answerer()
    idf = dict(assistant.library.retriever.idf)
    outlets = assistant.library.retriever.outlets
    questions = [q for i, q in enumerate(qs.questions) if name != "quail" or not q.answerable or i % 4 == 0]
    out = []
    for i, q in enumerate(questions, 1):
        found = answerer.find(q.question, list(q.history))
        draft = "" if found.prompt is None else "".join(answerer.generator.stream(found.prompt, answerer.max_tokens,
                                                                                  stop=STOPS))
        out.append(Harvested(name, q.id, q.question, q.answers, q.answerable, tuple(found.context), idf, draft,
                             outlets, found.standalone))
        log(f"\r{name}: {i}/{len(questions)}", end="")
    log("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


def split_ids(name: str, split: str) -> set[str]:
    """The question ids of `split`. The hand-written seed set is the project's own: dev, all of it."""
    from rag.evals import datasets
    from rag.evals.run import resolve_set

    if name == "seed":
        return {q.id for q in resolve_set("seed").questions} if split == "dev" else set()
    return {it.question.id for it in datasets.sample_items(name, split=split)}


def harvest_split(names: list[str], split: str, log=print) -> list[Harvested]:  # noqa: ANN001
    out = []
    for name in names:
        if name in SPLIT_INDEXED:
            out += harvest(name, log, split)
            continue
        ids = split_ids(name, split)
        out += [h for h in harvest(name, log) if h.id in ids]
    return out


def prepare(h: Harvested) -> Prepared:
    q = Question(h.question, h.idf)
    draft = clean_draft(h.draft)
    refused = bool(_NO_ANSWER.search(draft))
    claims = [] if refused or is_unusable(draft, h.question) else (parse_claims(draft) or [Claim(draft, ())])
    ctx = list(h.context)
    rows = features(q, ctx, refused)
    labels = np.array([h.answerable and contains_answer(ev.sentence.text, h.answers) for ev in ctx], dtype=float)
    if h.answerable and ctx and not labels.any():  # answers not written verbatim (QuAIL's options): the closest one
        f1 = np.array([token_f1(ev.sentence.text, h.answers) for ev in ctx])
        if f1.max() >= WEAK_LABEL_F1:
            labels[int(np.argmax(f1))] = 1.0
    asked = h.standalone or h.question  # as `Answerer.check`: a follow-up's claims are read against the conversation
    texts = [ev.sentence.text for ev in ctx]
    claims = [supported_part(c, asked, texts) for c in claims]  # as `Answerer.check`
    sup = np.array([[support(c.text, asked, text) for text in texts] for c in claims])
    absent = bool(ctx and absent_names(q, ctx, h.outlets))
    return Prepared(h.set, q.kind, h.answerable, h.answers, rows, labels, absent,
                    tuple(c.text for c in claims), tuple(c.cited for c in claims),
                    tuple(len(new_words(c.text, asked)) for c in claims),
                    tuple(claim_answers(c.text, q) for c in claims), sup.reshape(len(claims), len(ctx)),
                    tuple(ev.sentence.text for ev in ctx), h.answerable and contains_answer(h.draft, h.answers),
                    not ctx or ctx[0].score < DEFAULTS.refuse_below, refused)


def fit(rows: np.ndarray, labels: np.ndarray, l2: float = 1.0, steps: int = 30) -> tuple[np.ndarray, ...]:
    """Logistic regression by Newton's method on standardised features (the bias column left as is)."""
    mean, scale = rows.mean(0), rows.std(0) + 1e-9
    mean[0], scale[0] = 0.0, 1.0
    z = (rows - mean) / scale
    w = np.zeros(z.shape[1])
    penalty = l2 * np.diag(np.r_[0.0, np.ones(len(w) - 1)])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (p - labels) + penalty @ w
        hess = (z * (p * (1 - p))[:, None]).T @ z + penalty
        w -= np.linalg.solve(hess, grad)
    return w, mean, scale


def claim_rows(p: Prepared, likely: np.ndarray) -> list[tuple[np.ndarray, int] | None]:
    """Each claim's CLAIM_FEATURES row on the sentence `check_claim` would rest it on, and that sentence's index
    (None: no sentence supports the claim)."""
    kind = SimpleNamespace(kind=p.kind)
    out: list[tuple[np.ndarray, int] | None] = []
    for ci, sup in enumerate(p.support):
        ok = sup >= SUPPORTED
        if not ok.any():
            out.append(None)
            continue
        marked = [n - 1 for n in p.cited[ci] if 1 <= n <= min(NUMBERED, len(sup)) and ok[n - 1]]
        n = marked[0] if marked else max(np.flatnonzero(ok), key=lambda i: (sup[i] * likely[i], likely[i]))
        out.append((claim_features(kind, p.claim_words[ci], p.claim_typed[ci], int(n), float(sup[n]),  # type: ignore[arg-type]
                                   bool(marked), likely, p.rows), int(n)))
    return out


def given(p: Prepared, likely: np.ndarray, v: Verifier) -> tuple[str, tuple[str, ...]] | None:
    """The answer exactly as `Answerer.stream` and `check` decide it, on precomputed numbers: (its text, the
    sentences it rests on), the kept claims or else the quoted sentence: the likeliest, or the one sentence the kept
    claims reword when none of them is sure (`Verifier.requotes`); None when refused."""
    if p.absent or p.low or not len(likely):
        return None
    claims = [Claim(c, ()) for c in p.claims]
    unfinished = cut_short(claims)  # said by the whole sentence it rests on, as in `check`
    kept = [(p.sentences[found[1]] if c is unfinished else c.text, found[1], v.claim_probability(found[0]))
            for c, found in zip(claims, claim_rows(p, likely), strict=True)
            if found is not None and v.keeps(found[0], p.kind)]
    best = int(np.argmax(likely))
    rest_on = {n for _, n, _ in kept}
    if v.requotes([r for _, _, r in kept], len(rest_on) == 1):
        best = rest_on.pop()
    elif kept:
        return " ".join(c for c, _, _ in kept), tuple(p.sentences[n] for _, n, _ in kept)
    elif likely[best] < v.quote_threshold(p.kind, p.model_refused):
        return None
    return p.sentences[best], (p.sentences[best],)


def decide(p: Prepared, likely: np.ndarray, v: Verifier) -> tuple[bool, bool]:
    """(refused, correct) of the answer `given` gives."""
    answer = given(p, likely, v)
    if answer is None:
        return True, False
    return False, p.answerable and contains_answer(answer[0], p.answers)


def metrics(prepared: list[Prepared], v: Verifier) -> dict[str, dict[str, float]]:
    tally: dict[str, dict[str, int]] = {}
    for p in prepared:
        refused, correct = decide(p, v.probabilities(p.rows), v)
        t = tally.setdefault(p.set, dict.fromkeys(("answerable", "correct", "refused_answerable", "unanswerable",
                                                   "refused_unanswerable", "drafts", "kept"), 0))
        if p.answerable:
            t["answerable"] += 1
            t["correct"] += correct
            t["refused_answerable"] += refused
            t["drafts"] += p.draft_correct
            t["kept"] += p.draft_correct and correct
        else:
            t["unanswerable"] += 1
            t["refused_unanswerable"] += refused
    out = {}
    for name, t in tally.items():
        m = {}
        if t["answerable"]:
            m.update(accuracy=t["correct"] / t["answerable"], false_refusal=t["refused_answerable"] / t["answerable"],
                     draft_accuracy=t["drafts"] / t["answerable"], kept=t["kept"] / max(1, t["drafts"]))
        if t["unanswerable"]:
            m["refusal"] = t["refused_unanswerable"] / t["unanswerable"]
        out[name] = m
    return out


def utility(by_set: dict[str, dict[str, float]]) -> float:
    scores = []
    for name, m in by_set.items():
        answered = 1.0 - m["false_refusal"] if name in PARAPHRASED and "false_refusal" in m else m.get("accuracy")
        parts = [x for x in (answered, m.get("refusal")) if x is not None]
        kept = m.get("kept", 1.0) if m.get("draft_accuracy", 0.0) > 0.1 else 1.0  # too few correct drafts to judge
        scores.append(sum(parts) / len(parts) - max(0.0, m.get("false_refusal", 0.0) - FALSE_REFUSAL_CEILING)
                      - max(0.0, KEPT_FLOOR - kept))
    return sum(scores) / len(scores)


def train(prepared: list[Prepared], l2: float = 1.0, per_kind: bool = True) -> Verifier:
    """Fit both models (L2 strength `l2`) and choose the thresholds on `prepared`; `per_kind`: refine the answer
    threshold for each kind of question, else one for all."""
    rows = np.concatenate([p.rows for p in prepared if len(p.rows)])
    labels = np.concatenate([p.labels for p in prepared if len(p.rows)])
    w, mean, scale = fit(rows, labels, l2=l2)
    sentences = Verifier(tuple(w), tuple(mean), tuple(scale), {})
    # the claim model: each supported claim on its sentence, labelled by whether the claim holds a gold answer
    claim_x, claim_y = [], []
    for p in prepared:
        for claim, found in zip(p.claims, claim_rows(p, sentences.probabilities(p.rows)), strict=True):
            if found is not None:
                claim_x.append(found[0])
                claim_y.append(float(p.answerable and contains_answer(claim, p.answers)))
    cw, cmean, cscale = fit(np.array(claim_x), np.array(claim_y), l2=l2)
    base = replace(sentences, claim_weights=tuple(cw), claim_mean=tuple(cmean), claim_scale=tuple(cscale))
    return choose_thresholds(base, prepared, per_kind)


def choose_thresholds(base: Verifier, prepared: list[Prepared], per_kind: bool = True) -> Verifier:
    """`base`'s two models with the thresholds that maximise `utility` on `prepared`: one answer threshold for all
    kinds with the claim threshold, then each kind's own with the claim threshold and `defer_share`, then
    `requote_below`, twice round (coordinate ascent)."""
    best = None
    for answer_at in ANSWER_AT:
        for claim_at in CLAIM_AT:
            v = replace(base, answer_at=dict.fromkeys(KINDS, answer_at), claim_at=claim_at)
            u = utility(metrics(prepared, v))
            if best is None or u > best[0] + 1e-9:
                best = (u, v)
    assert best is not None
    for _ in range(2):
        for kind in KINDS if per_kind else ():
            for answer_at in ANSWER_AT:
                v = replace(best[1], answer_at={**best[1].answer_at, kind: answer_at})
                u = utility(metrics(prepared, v))
                if u > best[0] + 1e-9:
                    best = (u, v)
        for claim_at in CLAIM_AT:
            for defer in DEFER_SHARE:
                v = replace(best[1], claim_at=claim_at, defer_share=defer)
                u = utility(metrics(prepared, v))
                if u > best[0] + 1e-9:
                    best = (u, v)
        for requote in REQUOTE_BELOW:
            v = replace(best[1], requote_below=requote)
            u = utility(metrics(prepared, v))
            if u > best[0] + 1e-9:
                best = (u, v)
    return best[1]


def leave_one_set_out(prepared: list[Prepared], l2: float = 1.0, per_kind: bool = True) -> dict[str, float]:
    """Each set's utility under a verifier trained on the other sets: how the training procedure does on a
    question set it has never seen (the situation of a user's own set)."""
    sets = sorted({p.set for p in prepared})
    return {s: utility(metrics([p for p in prepared if p.set == s],
                               train([p for p in prepared if p.set != s], l2, per_kind))) for s in sets}


def table(by_set: dict[str, dict[str, float]]) -> str:
    cols = ("accuracy", "false_refusal", "refusal", "draft_accuracy", "kept")
    lines = [f"{'set':14}" + "".join(f"{c:>15}" for c in cols)]
    for name, m in sorted(by_set.items()):
        lines.append(f"{name:14}" + "".join(f"{m[c]:15.2f}" if c in m else f"{'–':>15}" for c in cols))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rag.evals.train_verifier", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated built-in sets (default: %(default)s)")
    ap.add_argument("--report-only", action="store_true", help="evaluate the packaged weights on dev and test")
    ap.add_argument("--thresholds-only", action="store_true",
                    help="keep the packaged models, re-choose every threshold on dev, write --out")
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    ap.add_argument("--l2", type=float, default=1.0, help="L2 strength of both logistic models (default: 1)")
    ap.add_argument("--global-thresholds", action="store_true", help="one answer threshold for every kind")
    ap.add_argument("--cv", action="store_true", help="only print each dev set's utility when left out of training")
    ap.add_argument("--caution", type=float, default=0.0,
                    help="with --report-only: the weights as RAG_CAUTION=X uses them (thresholds raised by X)")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.sets.split(",") if n.strip()]

    def log(msg: str, end: str = "\n") -> None:
        print(msg, end=end, file=sys.stderr, flush=True)

    dev = [prepare(h) for h in harvest_split(names, "dev", log)]
    if args.report_only:
        v = Verifier.load(args.out).cautious(args.caution)
        test = [prepare(h) for h in harvest_split(names, "test", log)]
        by_dev, by_test = metrics(dev, v), metrics(test, v)
        print(f"dev (utility {utility(by_dev):.4f})\n" + table(by_dev)
              + f"\n\ntest (utility {utility(by_test):.4f})\n" + table(by_test))
        return 0
    if args.cv:
        by_set_u = leave_one_set_out(dev, args.l2, not args.global_thresholds)
        print("left-out set utility (trained on the other dev sets):\n" + "\n".join(
            f"{s:14}{u:8.3f}" for s, u in by_set_u.items()) + f"\n{'mean':14}{np.mean(list(by_set_u.values())):8.3f}")
        return 0
    if args.thresholds_only:
        v = choose_thresholds(Verifier.load(), dev, not args.global_thresholds)
    else:
        v = train(dev, args.l2, not args.global_thresholds)
    by_set = metrics(dev, v)
    args.out.write_text(json.dumps({
        "features": list(FEATURES), "weights": list(v.weights), "mean": list(v.mean), "scale": list(v.scale),
        "answer_at": v.answer_at, "claim_features": list(CLAIM_FEATURES), "claim_weights": list(v.claim_weights),
        "claim_mean": list(v.claim_mean), "claim_scale": list(v.claim_scale), "claim_at": v.claim_at,
        "defer_share": v.defer_share, "requote_below": v.requote_below, "trained_on": names, "split": "dev",
        "questions": len(dev), "sentences": int(sum(len(p.rows) for p in dev)), "dev_metrics": by_set,
    }, indent=1) + "\n")
    print(f"wrote {args.out}: answer_at {v.answer_at}, claim_at {v.claim_at}, defer_share {v.defer_share}, "
          f"requote_below {v.requote_below}\n"
          + table(by_set))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
