"""Bench section `memory`: peak RSS (VmHWM) of the ingestion process and of the answering process, as measured by
the `ingest` and `answer` workers (the section runs both)."""

from __future__ import annotations

from typing import Any

from rag.evals.bench.common import Table, fmt


def collect(ingest: dict[str, Any] | None, answer: dict[str, Any] | None) -> dict[str, Any]:
    return {"ingest_peak_rss_mb": ingest and ingest["peak_rss_mb"],
            "answer_peak_rss_mb": answer and answer["peak_rss_mb"]}


def render(mem: dict[str, Any], ingest: dict[str, Any] | None, table: Table) -> None:
    table.title("Peak memory (VmHWM of a fresh process)")
    ing_n = f"{ingest['articles']} articles" if ingest else "-"
    table.rows(["", "MB"], [[f"ingestion ({ing_n}, incl. model)", fmt(mem["ingest_peak_rss_mb"], 0)],
                            ["answering (seed index, MiniLM + gemma)", fmt(mem["answer_peak_rss_mb"], 0)]])
