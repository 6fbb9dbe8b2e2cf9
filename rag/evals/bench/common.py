"""What the bench sections share: paths, the news and question sources (through rag.evals.datasets), fresh-process
workers, machine facts, the one percentile and the text table."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.evals.run import percentile
from rag.ingest.articles import Article

ROOT = Path(__file__).resolve().parents[3]  # the repository
SEEDS = ROOT / "seeds"
SEED_QUESTIONS = ROOT / "evals/seed/questions.jsonl"
MIN_TEXT = 500  # news texts shorter than this are mostly cookie banners and ad forms

Log = Callable[[str], None]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def percentiles(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "n": len(values)}


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    mem_gb = float("nan")
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), cpu)
        kb = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                  if ln.startswith("MemTotal:"))
        mem_gb = kb / 1024**2
    except (OSError, StopIteration):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = {}
    for mod in ("faiss", "torch", "sentence_transformers", "llama_cpp"):
        try:
            versions[mod] = __import__(mod).__version__
        except (ImportError, AttributeError):
            versions[mod] = "missing"
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable, "ram_gb": round(mem_gb, 1),
            "python": platform.python_version(), "versions": versions, "load_avg_start": os.getloadavg()}


def parse_sizes(text: str) -> list[int]:
    """'10k,100k,1M' or '10000,100000,1000000'."""
    out = []
    for part in text.replace("_", "").split(","):
        part = part.strip().lower()
        if not part:
            continue
        mult = {"k": 1_000, "m": 1_000_000}.get(part[-1], 1)
        out.append(int(float(part[:-1] if mult > 1 else part) * mult))
    return out


def evaldata() -> Path | None:
    """The public evaluation data ($RAG_EVALDATA, else ../shared/evaldata), or None when it is not there."""
    from rag.evals.datasets import evaldata_dir

    try:
        return evaldata_dir()
    except RagError:
        return None


def news_articles(limit: int) -> list[Article]:
    """The first `limit` RealTimeQA web-search articles (unique url, text >= MIN_TEXT chars), in file order."""
    from rag.evals.datasets import realtimeqa

    root = evaldata()
    out: list[Article] = []
    seen: set[str] = set()
    if root is None or not (root / realtimeqa.FOLDER).is_dir():
        return out
    for art in realtimeqa.search_articles(root):
        if len(art.text) < MIN_TEXT or art.url in seen:
            continue
        seen.add(art.url)
        out.append(art)
        if len(out) >= limit:
            break
    return out


def news_questions(limit: int) -> list[str]:
    """The first `limit` RealTimeQA quiz questions (real news questions), [] without the data."""
    from rag.evals.datasets import realtimeqa

    root = evaldata()
    if root is None or not (root / realtimeqa.FOLDER).is_dir():
        return []
    return realtimeqa.quiz_questions(root)[:limit]


def seed_questions(limit: int) -> list[str]:
    rows = [json.loads(line) for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows if not r.get("history")][:limit]


def run_worker(kind: str, *args: str) -> dict[str, Any]:
    """Run `python -m rag.evals.bench --worker KIND ARGS...` in a fresh process; its last stdout line is a JSON
    result."""
    proc = subprocess.run([sys.executable, "-m", "rag.evals.bench", "--worker", kind, *args], cwd=ROOT, text=True,
                          stdout=subprocess.PIPE, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"bench worker {kind!r} failed (exit {proc.returncode}); see its stderr above")
    return json.loads(lines[-1])


class Table:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def title(self, text: str) -> None:
        self.lines += ["", text]

    def rows(self, header: list[str], rows: list[list[str]]) -> None:
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        for r in [header, *rows]:
            self.lines.append("  " + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                               for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())

    def text(self, line: str) -> None:
        self.lines.append("  " + line)

    def __str__(self) -> str:
        return "\n".join(self.lines)


def fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


def stop(proc: subprocess.Popen) -> None:
    """End a server process started by a bench section: politely, then for good after 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
