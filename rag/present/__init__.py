"""What the chat page shows and does, as plain functions on plain data; ui.py only wires them to gradio widgets
(nothing here imports gradio).

- `html`: answers, citations and articles as inert HTML
- `chat`: a page session (`ChatLog`), one question answered as page updates (`chat_turn`) or as JSON
  (`answer_json`), the settings panel (`ChatOptions`), the assistants all sessions share (`Assistants`)
- `uploads`: the Articles tab (uploads into the library, removal, the articles table)
- `static/`: chat.css and cite.js, read with `static(name)`
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"


def static(name: str) -> str:
    """The text of a file in rag/present/static/ (chat.css, cite.js)."""
    return (STATIC / name).read_text(encoding="utf-8")
