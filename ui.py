"""The chat web page: `python ui.py` serves the seed articles with the embedded default model.

Thin on purpose: it builds the gradio Blocks and wires events to rag.present, where the logic lives.
Host and port: --host/--port, else GRADIO_SERVER_NAME/GRADIO_SERVER_PORT, else 127.0.0.1:7860.
Login: set RAG_UI_USER and RAG_UI_PASSWORD. Models load on the first question, not at start.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import gradio as gr

from rag import present
from rag.errors import RagError
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent
SEEDS = ROOT / "seeds"
MAX_FILE_SIZE = "20mb"  # the loader's own per-file limit is 20 MB too
ASK_CONCURRENCY = 4  # sessions answered at once; llama.cpp itself runs one generation at a time

log = logging.getLogger("rag.ui")


def _corpus_view(assistants: present.Assistants, message: str = "") -> tuple:
    """(message, article table, remove-dropdown update, source-filter update) for the current library."""
    try:
        assistants.ensure_index()
        infos = assistants.library.articles()
    except RagError as e:
        return message or str(e), present.articles_table([]), gr.update(choices=[], value=None), gr.update()
    return (message, present.articles_table(infos), gr.update(choices=present.article_choices(infos), value=None),
            gr.update(choices=present.source_choices(infos)))


def build_app(settings: Settings, seeds_dir: Path | None = SEEDS) -> gr.Blocks:
    assistants = present.Assistants(settings, seeds_dir)

    with gr.Blocks(title="News Q&A", analytics_enabled=False) as demo:
        gr.Markdown("## News Q&A\nAnswers from the articles in the library, each sentence cited.")
        exchanges = gr.State([])
        with gr.Tabs():
            with gr.Tab("Chat"), gr.Row():
                with gr.Column(scale=3):
                    chat = gr.HTML(present.conversation_html([]), elem_id="rag-chat", css_template=present.CSS,
                                   js_on_load=present.CITE_JS, min_height=360, autoscroll=True)
                    with gr.Row():
                        question = gr.Textbox(placeholder="Ask about the articles…", show_label=False, scale=5,
                                              elem_id="rag-question", autofocus=True)
                        send = gr.Button("Ask", variant="primary", scale=1, elem_id="rag-send")
                    clear = gr.Button("New conversation", size="sm")
                with gr.Column(scale=1), gr.Accordion("Settings", open=True):
                    model = gr.Dropdown(list(present.EMBEDDED_MODELS), value=settings.model, label="Model",
                                        allow_custom_value=True, elem_id="rag-model",
                                        info="gemma, smollm2, a .gguf file path, or an OpenAI-compatible URL")
                    evidence = gr.Slider(1, 12, value=settings.evidence_sentences, step=1,
                                         label="Evidence sentences")
                    sources = gr.Dropdown([], value=[], multiselect=True, label="Only these sources",
                                          info="empty: all sources", allow_custom_value=True)
                    date_from = gr.Textbox(label="From date", placeholder="YYYY-MM-DD", elem_id="rag-date-from")
                    date_to = gr.Textbox(label="To date", placeholder="YYYY-MM-DD", elem_id="rag-date-to")
            with gr.Tab("Articles"):
                files = gr.File(label="Article files (.txt .md .html .json .jsonl)", file_count="multiple",
                                file_types=list(present.UPLOAD_SUFFIXES), type="filepath", elem_id="rag-files")
                add = gr.Button("Add to library", variant="primary", elem_id="rag-add")
                result = gr.Textbox(label="Result", lines=4, interactive=False, elem_id="rag-result")
                table = gr.HTML(present.articles_table([]), elem_id="rag-table", css_template=present.CSS,
                                js_on_load=None)
                with gr.Row():
                    to_remove = gr.Dropdown([], label="Article to remove", scale=4, elem_id="rag-remove-choice")
                    remove = gr.Button("Remove", variant="stop", scale=1, elem_id="rag-remove")

        def ask(q: str, state: list, model_: str, k: float, sources_: list[str] | None, d_from: str, d_to: str):
            options = present.ChatOptions(model_, int(k), tuple(sources_ or ()), d_from, d_to)
            cleared = False
            for new_state, page in present.chat_turn(assistants, q, state, options):
                yield new_state, page, gr.update() if cleared else ""  # clear once: typing ahead survives
                cleared = True

        def add_files(paths: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
            progress(0, desc="Reading and embedding the articles")
            message = present.ingest_uploads(assistants.library, paths or [],
                                             lambda done, total: progress((done, total), desc="Embedding chunks"))
            return (None, *_corpus_view(assistants, message))

        def remove_one(article_id: str | None) -> tuple:
            return _corpus_view(assistants, present.remove_article(assistants.library, article_id))

        corpus_outputs = [result, table, to_remove, sources]
        gr.on([question.submit, send.click], ask, [question, exchanges, model, evidence, sources, date_from, date_to],
              [exchanges, chat, question], concurrency_limit=ASK_CONCURRENCY)
        clear.click(lambda: ([], present.conversation_html([])), None, [exchanges, chat], queue=False)
        add.click(add_files, files, [files, *corpus_outputs], concurrency_limit=1)
        remove.click(remove_one, to_remove, corpus_outputs, concurrency_limit=1)
        demo.load(lambda: _corpus_view(assistants), None, corpus_outputs)
    return demo


def auth_from_env() -> tuple[str, str] | None:
    user, password = os.environ.get("RAG_UI_USER", ""), os.environ.get("RAG_UI_PASSWORD", "")
    return (user, password) if user and password else None


def host_and_port(host: str | None = None, port: int | None = None) -> tuple[str, int]:
    host = host or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    return host, int(port or os.environ.get("GRADIO_SERVER_PORT") or 7860)


def launch(demo: gr.Blocks, host: str | None = None, port: int | None = None, *, block: bool = True) -> None:
    host, port = host_and_port(host, port)
    auth = auth_from_env()
    if host not in ("127.0.0.1", "localhost", "::1") and auth is None:
        log.warning("serving on %s without a login: set RAG_UI_USER and RAG_UI_PASSWORD", host)
    demo.queue(default_concurrency_limit=1)
    demo.launch(server_name=host, server_port=port, auth=auth, max_file_size=MAX_FILE_SIZE,
                prevent_thread_lock=not block, show_error=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", help="address to bind (default 127.0.0.1, or $GRADIO_SERVER_NAME)")
    p.add_argument("--port", type=int, help="port (default 7860, or $GRADIO_SERVER_PORT)")
    p.add_argument("--index", help="index folder (default index/, or $RAG_INDEX_DIR)")
    p.add_argument("--model", help="gemma | smollm2 | path.gguf | http://server/v1 (default gemma, or $RAG_MODEL)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env(index_dir=args.index, model=args.model)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    launch(build_app(settings), args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
