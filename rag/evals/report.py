"""Eval reports: per-question results.jsonl, summary.json, summary.md, index.html and two SVG plots (per-category
bars, latency histogram). Plain SVG keeps plotting free of extra dependencies."""

from __future__ import annotations

import html
import json
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

from rag.evals.questions import QuestionSet
from rag.evals.run import Result, summarize

BAR_METRICS = ("accuracy", "refusal", "citation_precision", "retrieval_recall")
COLORS = ("#3b6ea5", "#c0504d", "#4f9d69", "#8064a2")


def bars_svg(by_category: dict[str, dict[str, float]]) -> str:
    cats = list(by_category)
    w_group, bar, h, top, left = 34 * len(BAR_METRICS), 30, 220, 20, 40
    width = left + w_group * max(1, len(cats)) + 160
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 90}" font-family="sans-serif" '
             'font-size="11">', f'<line x1="{left}" y1="{top + h}" x2="{width - 150}" y2="{top + h}" stroke="#333"/>']
    for tick in (0, 0.5, 1.0):
        y = top + h - tick * h
        parts.append(f'<text x="4" y="{y + 4}">{tick:.1f}</text>')
    for i, cat in enumerate(cats):
        x0 = left + i * w_group
        for j, metric in enumerate(BAR_METRICS):
            v = by_category[cat].get(metric)
            if v is None:
                continue
            bh = v * h
            parts.append(f'<rect x="{x0 + j * bar + 2}" y="{top + h - bh}" width="{bar - 4}" height="{bh}" '
                         f'fill="{COLORS[j]}"><title>{html.escape(cat)} {metric} {v:.2f}</title></rect>')
        parts.append(f'<text x="{x0 + 4}" y="{top + h + 14}" transform="rotate(30 {x0 + 4} {top + h + 14})">'
                     f'{html.escape(cat[:18])}</text>')
    for j, metric in enumerate(BAR_METRICS):
        y = top + 14 * j
        parts.append(f'<rect x="{width - 150}" y="{y}" width="10" height="10" fill="{COLORS[j]}"/>'
                     f'<text x="{width - 135}" y="{y + 9}">{metric}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram_svg(seconds: list[float], bins: int = 20) -> str:
    w, h, left, top = 420, 180, 40, 10
    if not seconds:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}"></svg>'
    hi = max(seconds) or 1.0
    counts = [0] * bins
    for s in seconds:
        counts[min(bins - 1, int(s / hi * bins))] += 1
    peak = max(counts)
    bw = (w - left) / bins
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + 10}" height="{h + 40}" font-family="sans-serif" '
             'font-size="11">']
    for i, c in enumerate(counts):
        bh = c / peak * h
        parts.append(f'<rect x="{left + i * bw}" y="{top + h - bh}" width="{bw - 1}" height="{bh}" fill="#3b6ea5"/>')
    parts.append(f'<text x="{left}" y="{top + h + 16}">0 s</text><text x="{w - 40}" y="{top + h + 16}">{hi:.1f} s'
                 f'</text><text x="4" y="{top + 10}">{peak}</text><text x="{left + 120}" y="{top + h + 32}">'
                 'seconds per question</text></svg>')
    return "".join(parts)


def table_md(rows: dict[str, dict[str, float]]) -> str:
    metrics = list(dict.fromkeys(m for r in rows.values() for m in r))  # the summary's order
    lines = ["| | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for name, r in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{r[m]:g}" if m in r else "" for m in metrics) + " |")
    return "\n".join(lines)


def write(out: Path, set_name: str, pipeline: str, summary: dict[str, float],
          by_category: dict[str, dict[str, float]], seconds: list[float], failures: list[str]) -> None:
    (out / "categories.svg").write_text(bars_svg(by_category))
    (out / "latency.svg").write_text(histogram_svg(seconds))
    status = "FAILED: " + "; ".join(failures) if failures else "passed all thresholds"
    md = (f"# {set_name} — {pipeline}\n\n{status}\n\n## Summary\n\n{table_md({'all': summary})}\n\n"
          f"## Per category\n\n{table_md(by_category)}\n\n![categories](categories.svg)\n\n![latency](latency.svg)\n")
    (out / "summary.md").write_text(md)
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:g}</td></tr>" for k, v in summary.items())
    (out / "index.html").write_text(
        f"<!doctype html><meta charset=utf-8><title>{html.escape(set_name)}</title>"
        f"<h1>{html.escape(set_name)} — {html.escape(pipeline)}</h1><p>{html.escape(status)}</p>"
        f"<table border=1 cellpadding=4>{rows}</table><h2>Per category</h2>{bars_svg(by_category)}"
        f"<h2>Latency</h2>{histogram_svg(seconds)}")


def write_report(out: Path, qs: QuestionSet, pipeline: str, results: list[Result], summary: dict[str, float],
                 failures: list[str]) -> None:
    """Everything of one run under `out`: the per-question results, the summary and the per-category summaries."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.jsonl", "w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")
    (out / "summary.json").write_text(json.dumps({"set": qs.name, "pipeline": pipeline, "summary": summary,
                                                  "failures": failures}, indent=1))
    by_cat: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_cat[r.category or "all"].append(r)
    write(out, qs.name, pipeline, summary, {c: summarize(rs) for c, rs in sorted(by_cat.items())},
          [r.seconds for r in results], failures)
