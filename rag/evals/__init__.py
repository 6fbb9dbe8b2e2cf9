"""Evals: question sets in, scored answers and a report out.

    questions   one `Question` type and `QuestionSet`; question-set folders (`evals/seed/`, `rag eval DIR`)
    datasets/   the built-in sets, built in memory from the public data: one reader per dataset (realtimeqa,
                quail, rgb), sets built from them (absent, long), the dev/test split (splits), thresholds from
                evals/<name>.toml
    run         index the set's corpus (cached), ask every question through the API users call, score, summarize,
                gate on thresholds (`rag eval`)
    report      results.jsonl, summary.json, summary.md, index.html and SVG plots
    bench/      `rag bench`: one module per section; reads news through the datasets' readers
"""
