"""The page against the API: the same questions answered in one run by `Assistant.ask` in this process and by
the chat page (`python ui.py`, its own process) in a real headless Chromium, one after the other, warm.

- api: wall time of `Assistant.ask(question)` (no history).
- page: from the click on Ask to the final answer in the DOM (the new turn's `[data-final]` element), taken in
  the browser with `performance.now()` and a MutationObserver, then one animation frame (the answer is painted).
  Each question is asked in a fresh page load, so no history changes the answer.
- first_text: the page's time to the first piece of the model's text in the draft (0 when the answer came
  without a draft, e.g. a refusal).

`page_vs_api(index_dir, questions, log)` returns per-question numbers, the medians (p50) and the median of the
paired differences page - api; the target is the page within 0.3 s of the API. On a shared machine run several
rounds: each round alternates which side goes first, and set OMP_WAIT_POLICY=PASSIVE (both sides inherit it).
llama.cpp's OpenMP threads otherwise spin-wait, and on 2 cores shared with other processes one thread's spinning
starves the other: the same 33-token gemma completion took 55-70 s instead of 1.2 s, depending on which thread of
the process had run the model before, so either side could come out many seconds slower.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.evals.bench.cold import free_port
from rag.evals.bench.common import ROOT, Log, stop
from rag.evals.run import percentile

UI = ROOT / "ui.py"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # as tests/test_ui_browser.py
TARGET_S = 0.3

# Installed before each question: stamps the click on Ask and the first draft text and the final answer of the
# turn the click adds (turn index n).
_WATCH = """() => {
    const t = window.__rag_t = {};
    const n = document.querySelectorAll('#rag-chat .rag-turn').length;
    document.querySelector('#rag-send').addEventListener('click', () => { t.sent = performance.now(); },
                                                        {capture: true, once: true});
    const seen = () => {
        const draft = document.querySelector('#rag-draft .rag-text, #rag-chat .rag-streaming .rag-text');
        if (t.first === undefined && draft && draft.textContent) t.first = performance.now();
        const turn = document.querySelectorAll('#rag-chat .rag-turn')[n];
        const done = turn && turn.querySelector('[data-final]');
        if (done && t.dom === undefined) {
            t.dom = performance.now();
            t.text = (done.querySelector('.rag-text') || done).textContent;
            requestAnimationFrame(() => { t.final = performance.now(); });
        }
    };
    new MutationObserver(seen).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def _serve(index_dir: Path, model: str, ui: Path, timeout_s: float) -> tuple[subprocess.Popen, str]:
    """`python ui.py` over `index_dir` on a free port, once it answers 200."""
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, str(ui), "--port", str(port), "--index", str(index_dir), "--model", model],
                            cwd=ui.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout_s:
        if proc.poll() is not None:
            raise RagError(f"{ui} exited with {proc.returncode} before serving the page")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    stop(proc)
    raise RagError(f"{ui} did not serve {url} within {timeout_s:.0f} s")


def _ask_in_page(page, url: str, question: str, timeout_s: float) -> dict[str, Any]:  # noqa: ANN001 - playwright Page
    page.goto(url)
    for ready in ("#rag-chat .rag-chat", "#rag-send", "#rag-question textarea"):
        page.locator(ready).wait_for(timeout=60_000)
    page.evaluate(_WATCH)
    page.locator("#rag-question textarea").fill(question)
    page.locator("#rag-send").click()
    page.wait_for_function("() => window.__rag_t.final !== undefined", timeout=timeout_s * 1000, polling=100)
    t = page.evaluate("() => window.__rag_t")
    return {"page_s": (t["final"] - t["sent"]) / 1000, "page_dom_s": (t["dom"] - t["sent"]) / 1000,
            "first_text_s": (t["first"] - t["sent"]) / 1000 if "first" in t else 0.0,
            "page_answer": " ".join(str(t.get("text", "")).split())}


def page_vs_api(index_dir: Path, questions: list[str], log: Log, *, model: str = "gemma",
                rounds: int = 1, ui: Path = UI, timeout_s: float = 300.0) -> dict[str, Any]:
    """Time each question through `Assistant.ask` and through the page in Chromium, side by side (see the module
    docstring). Both sides are warmed up with the first question first. With `rounds` > 1 every question is
    timed again, the order of the two sides alternating, and each question's numbers are medians over its rounds
    (the diff's median is over the paired differences). `ui`: the page script to serve."""
    from rag.assistant import Assistant
    from rag.settings import Settings

    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        raise RagError("The page benchmark needs playwright: pip install playwright") from e
    if not CHROMIUM.exists():
        raise RagError(f"The page benchmark needs Chromium at {CHROMIUM}: apt-get install -y chromium")
    if not questions or rounds < 1:
        raise RagError("Give the page benchmark at least one question and one round.")
    index_dir = Path(index_dir).resolve()
    load_start = os.getloadavg()
    assistant = Assistant(Settings.from_env(index_dir=index_dir, model=model))
    if os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        log("page vs api: OMP_WAIT_POLICY is not PASSIVE: on a machine shared with other work the timings swing "
            "widely (see the module docstring)")
    log(f"page vs api: warming up the in-process assistant ({model})...")
    assistant.ask(questions[0])
    log(f"page vs api: starting {ui.name} over {index_dir}...")
    proc, url = _serve(index_dir, model, ui, timeout_s)
    runs: list[dict[str, Any]] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
                log("page vs api: warming up the page (its model loads on the first question)...")
                _ask_in_page(page, url, questions[0], timeout_s)
                for r in range(rounds):
                    for q in questions:
                        run: dict[str, Any] = {"question": q, "round": r}
                        for side in (("api", "page") if r % 2 == 0 else ("page", "api")):
                            if side == "page":
                                run.update(_ask_in_page(page, url, q, timeout_s))
                            else:
                                t0 = time.perf_counter()
                                answer = assistant.ask(q)
                                run["api_s"] = time.perf_counter() - t0
                                run["api_answer"] = " ".join(answer.text.split())
                                run["api_timings"] = answer.timings
                        run["diff_s"] = run["page_s"] - run["api_s"]
                        run["same_answer"] = run["page_answer"] == run["api_answer"]
                        runs.append(run)
                        log(f"  api {run['api_s']:5.2f} s  page {run['page_s']:5.2f} s  (first text "
                            f"{run['first_text_s']:.2f} s)  diff {run['diff_s']:+.2f} s  {q}")
            finally:
                browser.close()
    finally:
        stop(proc)
    per_question = []
    for q in questions:
        mine = [r for r in runs if r["question"] == q]
        per_question.append({"question": q, **{k: percentile([r[k] for r in mine], 50)
                                               for k in ("api_s", "page_s", "page_dom_s", "first_text_s", "diff_s")},
                             "same_answer": all(r["same_answer"] for r in mine), "answer": mine[0]["api_answer"]})
    diff_p50 = percentile([r["diff_s"] for r in runs], 50)
    return {"questions": per_question, "runs": runs, "api_p50_s": percentile([r["api_s"] for r in runs], 50),
            "page_p50_s": percentile([r["page_s"] for r in runs], 50), "diff_p50_s": diff_p50, "target_s": TARGET_S,
            "within_target": diff_p50 <= TARGET_S, "same_answers": all(r["same_answer"] for r in runs),
            "model": model, "rounds": rounds, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
            "load_avg": [load_start, os.getloadavg()]}
