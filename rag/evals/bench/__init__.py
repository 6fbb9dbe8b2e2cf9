"""`rag bench`: one module per section (ingest, embedding, search, answer, cold, memory), the shared helpers in
`common`, the run and its table in `main` (`python -m rag.evals.bench`, as `rag bench`); `page` measures the chat
page against the API."""
