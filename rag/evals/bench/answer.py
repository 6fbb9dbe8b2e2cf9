"""Bench section `answer`: per-stage p50/p95 of Assistant.ask over the seed questions in a warm fresh process, and
generation tokens/s against raw llama.cpp on the very prompts the pipeline sent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.evals.bench.common import Log, Table, fmt, peak_rss_mb, percentiles, run_worker, seed_questions

N_QUESTIONS = 10  # seed questions answered in the answer section


def measure(seed_index: Path, log: Log) -> dict[str, Any]:
    log(f"answer: {N_QUESTIONS} seed questions in a fresh process...")
    return run_worker("answer", str(seed_index), str(N_QUESTIONS))


@dataclass
class _Call:
    prompt: Any  # rag.generate.Prompt
    max_tokens: int
    stop: tuple[str, ...]
    text: str = ""


@dataclass
class _Recording:
    """Passes a generator through, keeping each prompt and its output so raw llama.cpp can redo the same calls."""

    inner: Any
    calls: list[_Call] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def stream(self, prompt: Any, max_tokens: int, stop: tuple[str, ...] = ()) -> Iterator[str]:
        call = _Call(prompt, max_tokens, tuple(stop))
        parts = []
        for delta in self.inner.stream(prompt, max_tokens, stop):
            parts.append(delta)
            yield delta
        call.text = "".join(parts)
        self.calls.append(call)


def raw_llama(gen: Any, call: _Call) -> tuple[str, float, float]:
    """(text, seconds to first token, seconds in all) of llama.cpp itself on the prompt the pipeline sent.

    Renders the prompt, trims it to the context and adds the newline stop exactly as rag.generate.LlamaCpp does."""
    llm = gen.llm
    llm.reset()
    t0 = time.perf_counter()
    first = None
    parts = []
    if gen.chat:
        stream = llm.create_chat_completion(call.prompt.as_messages(), max_tokens=call.max_tokens, temperature=0.0,
                                            seed=gen.seed, stop=list(call.stop) or None, stream=True)
        deltas = (p["choices"][0]["delta"].get("content") or "" for p in stream)
    else:
        text = gen.fit_prompt(call.prompt.as_completion(), call.max_tokens)
        stream = llm.create_completion(text, max_tokens=call.max_tokens, temperature=0.0, seed=gen.seed,
                                       stop=[*call.stop, "\n"], stream=True)
        deltas = (p["choices"][0]["text"] for p in stream)
    for delta in deltas:
        if first is None:
            first = time.perf_counter() - t0
        parts.append(delta)
    total = time.perf_counter() - t0
    return "".join(parts), first if first is not None else total, total


def worker(index_dir: str, n_questions: str) -> dict[str, Any]:
    """In a fresh process: Assistant.ask over the seed questions, then raw llama.cpp on the same prompts."""
    from rag.assistant import Assistant
    from rag.generate import LlamaCpp, make_generator
    from rag.settings import Settings

    settings = Settings.from_env(index_dir=index_dir)
    s = settings
    recording = _Recording(make_generator(s.model, s.threads, s.api_model, s.api_key, s.timeout_s, s.seed))
    assistant = Assistant(settings, generator=recording)
    questions = seed_questions(int(n_questions))
    t0 = time.perf_counter()
    assistant.ask(questions[0])  # loads the embedder and the model: reported apart, not in the per-stage figures
    warmup_s = time.perf_counter() - t0
    stages: dict[str, list[float]] = {}
    pairs: list[tuple[_Call, dict[str, float]]] = []
    modes: dict[str, int] = {}
    for q in questions:
        before = len(recording.calls)
        t0 = time.perf_counter()
        answer = assistant.ask(q)
        total = time.perf_counter() - t0
        for stage, sec in {**answer.timings, "total": total}.items():
            stages.setdefault(stage, []).append(sec)
        modes[answer.mode] = modes.get(answer.mode, 0) + 1
        if len(recording.calls) > before:
            pairs.append((recording.calls[-1], answer.timings))
    out: dict[str, Any] = {"questions": len(questions), "model": recording.name, "warmup_first_answer_s": warmup_s,
                           "modes": modes, "stages_s": {k: percentiles(v) for k, v in stages.items()}}
    gen = recording.inner
    if isinstance(gen, LlamaCpp) and pairs:
        llm = gen.llm

        def count(text: str) -> int:
            return len(llm.tokenize(text.encode(), add_bos=False))

        pipe_tokens = pipe_s = raw_tokens = raw_s = same = 0
        pipe_first, raw_first = [], []
        for call, timings in pairs:
            text, first, total = raw_llama(gen, call)
            pipe_tokens += count(call.text)
            pipe_s += timings.get("generate", float("nan"))
            pipe_first.append(timings.get("first_token", float("nan")))
            raw_tokens += count(text)
            raw_s += total
            raw_first.append(first)
            same += text == call.text
        out["generation"] = {
            "calls": len(pairs), "same_output": same, "pipeline_tokens": pipe_tokens, "raw_tokens": raw_tokens,
            "pipeline_tokens_per_s": pipe_tokens / pipe_s, "raw_tokens_per_s": raw_tokens / raw_s,
            "ratio": (pipe_tokens / pipe_s) / (raw_tokens / raw_s),
            "pipeline_first_token_s": percentiles(pipe_first), "raw_first_token_s": percentiles(raw_first)}
    out["peak_rss_mb"] = peak_rss_mb()
    return out



def render(ans: dict[str, Any], table: Table) -> None:
    table.title(f"Answering: {ans['questions']} seed questions, model {ans['model']}, warm process "
                f"(first answer incl. model loads: {ans['warmup_first_answer_s']:.1f} s); modes {ans['modes']}")
    order = ["condense", "retrieve", "rank", "first_token", "generate", "verify", "total"]
    st = ans["stages_s"]
    table.rows(["stage (s)", "p50", "p95", "n"],
               [[k, fmt(st[k]["p50"], 3), fmt(st[k]["p95"], 3), str(st[k]["n"])] for k in order if k in st])
    g = ans.get("generation")
    if g:
        table.rows(["generation, same prompts", "tokens", "tokens/s", "first token p50 s"], [
            ["pipeline (Assistant.ask)", str(g["pipeline_tokens"]), fmt(g["pipeline_tokens_per_s"], 1),
             fmt(g["pipeline_first_token_s"]["p50"], 3)],
            ["raw llama.cpp create_completion", str(g["raw_tokens"]), fmt(g["raw_tokens_per_s"], 1),
             fmt(g["raw_first_token_s"]["p50"], 3)],
        ])
        table.text(f"ratio pipeline / raw tokens/s: {g['ratio']:.2f}; same text {g['same_output']}/{g['calls']} "
                   "(tokens/s include prompt processing: answers are short)")
