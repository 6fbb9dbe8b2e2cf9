"""Would a local model judge answers better than the verifier? Measure it before wiring it in.

    python -m rag.evals.judge MODEL.gguf [--chatml] [--split dev|test] [--sets realtimeqa,rgb]

Every harvested question (the drafts `rag.evals.train_verifier` caches) is answered by the shipped verifier on
replay (`train_verifier.given`). For each answer it gives, the model reads the question, the answer and the
sentences it rests on, and is asked whether they state it; its log-odds of "Yes" over "No" for the next token is the
judge's score. A useful judge scores right answers above wrong ones (answers to unanswerable questions are all
wrong): the report gives, per set, that ranking's AUC and what a veto below each score would cost (right answers
refused) and gain (wrong answers refused), with the seconds per judgement. Nothing here changes the pipeline.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.answer.verifier import Verifier
from rag.evals.run import contains_answer
from rag.evals.train_verifier import PARAPHRASED, SETS, given, harvest_split, prepare

INSTRUCTION = "Decide whether the article sentences state the answer to the question."
EXAMPLES = (  # a base model needs to see the form; both answers of each pair rest on the same kind of sentence
    ("Abdulrazak Gurnah was awarded the 2021 Nobel Prize in Literature on Thursday.",
     "Who won the 2021 Nobel Prize in Literature?", "Abdulrazak Gurnah", "Yes"),
    ("The 2020 prize went to the American poet Louise Glück.", "Who won the 2021 Nobel Prize in Literature?",
     "Louise Glück", "No"),
    ("Shares of the company fell 4% after the report.", "How many employees will the company lay off?", "4%", "No"),
    ("The storm killed at least 12 people in Florida, officials said.", "How many people died in the Florida storm?",
     "12", "Yes"),
)
VETO_AT = (-2.0, -1.0, 0.0, 1.0, 2.0)


def _case(sentences: str, question: str, answer: str) -> str:
    return f"Sentences: {sentences}\nQuestion: {question}\nAnswer: {answer}\nStated:"


def prompt(question: str, answer: str, sentences: tuple[str, ...], chatml: bool) -> tuple[str, str]:
    """The judge's prompt in two parts: the instruction and worked examples, the same every time (`Judge` evaluates
    them once), and the case. `chatml`: wrapped in the ChatML turns of an instruction-tuned model (Qwen)."""
    shots = "\n\n".join(_case(s, q, a) + f" {y}" for s, q, a, y in EXAMPLES)
    head = f"{INSTRUCTION}\n\n{shots}\n\n"
    case = _case(" ".join(sentences), question, answer)
    if not chatml:
        return head, case
    return (f"<|im_start|>system\nYou check answers against news article sentences.<|im_end|>\n<|im_start|>user\n"
            f"{head}", f"{case.removesuffix('Stated:')}\nDo the sentences state this answer to the question? Reply "
            "Yes or No.<|im_end|>\n<|im_start|>assistant\n")


class Judge:
    """A GGUF model's log-odds of "Yes" over "No" as the next token after a prompt. The prompt's shared head is
    evaluated once and each case after it in one batch, so a case scores the same whatever was judged before it
    (llama.cpp's numbers depend slightly on how tokens are batched)."""

    def __init__(self, path: Path, threads: int = 2) -> None:
        from llama_cpp import Llama

        self.llm = Llama(model_path=str(path), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)
        self.yes = self._first_tokens("Yes", " Yes")
        self.no = self._first_tokens("No", " No")

    def _first_tokens(self, *words: str) -> list[int]:
        return sorted({self.llm.tokenize(w.encode(), add_bos=False)[0] for w in words})

    def log_odds(self, head: str, case: str) -> float:
        llm = self.llm
        shared = llm.tokenize(head.encode(), add_bos=True, special=True)
        tokens = llm.tokenize((head + case).encode(), add_bos=True, special=True)
        if tokens[: len(shared)] != shared or len(tokens) > llm.n_ctx() - 8:  # no clean seam, or too long: all
            shared = []
        if llm.n_tokens < len(shared) or llm.input_ids[: len(shared)].tolist() != shared:
            llm.n_tokens = 0  # eval() drops the cache past n_tokens
            llm.eval(shared)
        llm.n_tokens = len(shared)
        llm.eval(tokens[len(shared) :][-(llm.n_ctx() - 8 - len(shared)) :])
        logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))
        return float(np.logaddexp.reduce(logits[self.yes]) - np.logaddexp.reduce(logits[self.no]))


@dataclass(frozen=True)
class Judged:
    set: str
    right: bool
    score: float


def auc(right: list[float], wrong: list[float]) -> float:
    """The chance that a right answer scores above a wrong one (ties count half); nan without both."""
    if not right or not wrong:
        return float("nan")
    r, w = np.array(right)[:, None], np.array(wrong)[None, :]
    return float((r > w).mean() + 0.5 * (r == w).mean())


def report(judged: list[Judged]) -> str:
    lines = [f"{'set':14}{'answers':>9}{'right':>7}{'AUC':>7}   veto below t: right refused / wrong refused"]
    for name in sorted({j.set for j in judged}) + ["all"]:
        js = [j for j in judged if name in ("all", j.set)]
        right = [j.score for j in js if j.right]
        wrong = [j.score for j in js if not j.right]
        veto = "  ".join(f"t={t:+.0f}: {sum(s < t for s in right)}/{sum(s < t for s in wrong)}" for t in VETO_AT)
        lines.append(f"{name:14}{len(js):9}{len(right):7}{auc(right, wrong):7.3f}   {veto}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rag.evals.judge", description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path, help="a .gguf file")
    ap.add_argument("--chatml", action="store_true", help="wrap the prompt in ChatML turns (Qwen and the like)")
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--sets", default=",".join(s for s in SETS if s not in PARAPHRASED),
                    help="comma-separated built-in sets (default: %(default)s; QuAIL's answers are paraphrases, so "
                         "right and wrong cannot be told apart by string)")
    args = ap.parse_args(argv)
    if not args.model.is_file():
        print(f"No model file at {args.model}: give the path of a .gguf file.", file=sys.stderr)
        return 2
    judge, v = Judge(args.model), Verifier.load()
    judged, spent = [], 0.0
    for h in harvest_split([s.strip() for s in args.sets.split(",") if s.strip()], args.split):
        p = prepare(h)
        answer = given(p, v.probabilities(p.rows), v)
        if answer is None:
            continue
        start = time.perf_counter()
        score = judge.log_odds(*prompt(h.question, answer[0], answer[1], args.chatml))
        spent += time.perf_counter() - start
        judged.append(Judged(h.set, p.answerable and contains_answer(answer[0], h.answers), score))
    print(report(judged) + f"\n{spent / max(1, len(judged)):.2f} s per judgement ({args.model.name}, {args.split})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
