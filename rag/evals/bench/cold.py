"""Bench section `cold`: a new `rag ask` process to its first answer; `python ui.py` until its page answers 200."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from rag.evals.bench.common import ROOT, Log, Table, fmt, seed_questions, stop


def measure(seed_index: Path, log: Log) -> dict[str, Any]:
    log("cold: rag ask in a new process, then ui.py start-up...")
    return {"ask": cold_ask(seed_index, seed_questions(1)[0]), "ui": cold_ui(seed_index)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cold_ask(index_dir: Path, question: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "ask", question, "--index", str(index_dir)], cwd=ROOT,
                          text=True, capture_output=True, timeout=900, check=False)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "exit": proc.returncode, "answer": proc.stdout.strip().splitlines()[:1]}


def cold_ui(index_dir: Path, timeout_s: float = 180.0) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "ui.py"), "--port", str(port), "--index", str(index_dir)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < timeout_s and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        return {"ready_s": time.perf_counter() - t0, "port": port}
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        return {"ready_s": None, "error": f"no 200 within {timeout_s:.0f} s (exit {proc.poll()})"}
    finally:
        stop(proc)



def render(cold: dict[str, Any], table: Table) -> None:
    table.title("Cold start")
    ui = cold["ui"]
    table.rows(["", "seconds"], [
        ["new process `rag ask` to first answer (exit " + str(cold["ask"]["exit"]) + ")",
         fmt(cold["ask"]["wall_s"], 1)],
        ["`python ui.py` until / answers 200", fmt(ui.get("ready_s"), 1) if ui.get("ready_s") else ui["error"]],
    ])
