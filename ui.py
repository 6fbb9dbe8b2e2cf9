"""The chat web page: `python ui.py` serves the seed articles with the embedded default model.

Thin on purpose: it builds the gradio Blocks and wires events to rag.present, where the logic lives.
Host and port: --host/--port, else GRADIO_SERVER_NAME/GRADIO_SERVER_PORT, else 127.0.0.1:7860.
Login: set RAG_UI_USER and RAG_UI_PASSWORD. Models load on the first question, not at start.

While a question is answered, only the draft (a small element under the chat) changes with each piece of the
model's text; the conversation itself is rendered twice per question: when it is sent, and when the checked
answer, its sources and its article views are final.

API (see "Use via API" on the page): `/answer` returns the checked Answer as JSON, for scripts and other apps:

    from gradio_client import Client
    answer = Client("http://127.0.0.1:7860/").predict("Who leads the Ukrainian delegation?", [], api_name="/answer")
    answer["text"], answer["refused"], answer["citations"][0]["start"]   # citations: article_id, sentence_id, ...
    # a follow-up: pass the turns so far as [question, answer text, refused]
    Client(...).predict("What is his current role?", [["Who leads ...?", answer["text"], answer["refused"]]],
                        api_name="/answer")

`/ask` is the page's own chat event (it returns the conversation HTML).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import RagError
from rag.present import chat, static, uploads
from rag.settings import MODELS, Settings

ROOT = Path(__file__).resolve().parent
SEEDS = ROOT / "seeds"
MAX_FILE_SIZE = "20mb"  # the loader's own per-file limit is 20 MB too
ASK_CONCURRENCY = 4  # sessions answered at once; llama.cpp itself runs one generation at a time
CSS = static("chat.css")
CITE_JS = static("cite.js")

log = logging.getLogger("rag.ui")


def _skip(value: str | None):  # noqa: ANN202 - a value, or gradio's "leave this output as it is"
    return gr.skip() if value is None else value


def _corpus_view(assistants: chat.Assistants, message: str = "") -> tuple:
    """(message, article table, remove-dropdown update, source-filter update) for the current library."""
    try:
        assistants.ensure_index()
        infos = assistants.library.articles()
    except RagError as e:
        return message or str(e), uploads.articles_table([]), gr.update(choices=[], value=None), gr.update()
    return (message, uploads.articles_table(infos), gr.update(choices=uploads.article_choices(infos), value=None),
            gr.update(choices=uploads.source_choices(infos)))


def build_app(settings: Settings, seeds_dir: Path | None = SEEDS) -> gr.Blocks:
    assistants = chat.Assistants(settings, seeds_dir)

    with gr.Blocks(title="News Q&A", analytics_enabled=False) as demo:
        gr.Markdown("## News Q&A\nAnswers from the articles in the library, each sentence cited.")
        session = gr.State(chat.ChatLog())
        with gr.Tabs():
            with gr.Tab("Chat"), gr.Row():
                with gr.Column(scale=3):
                    conversation = gr.HTML(chat.ChatLog().html(), elem_id="rag-chat", css_template=CSS,
                                           js_on_load=CITE_JS, autoscroll=True)
                    draft = gr.HTML("", elem_id="rag-draft", css_template=CSS, js_on_load=None)
                    with gr.Row():
                        question = gr.Textbox(placeholder="Ask about the articles…", show_label=False, scale=5,
                                              elem_id="rag-question", autofocus=True)
                        send = gr.Button("Ask", variant="primary", scale=1, elem_id="rag-send")
                    clear = gr.Button("New conversation", size="sm")
                with gr.Column(scale=1), gr.Accordion("Settings", open=True):
                    model = gr.Dropdown(list(MODELS), value=settings.model, label="Model",
                                        allow_custom_value=True, elem_id="rag-model",
                                        info=f"{', '.join(MODELS)}, a .gguf file path, or an OpenAI-compatible URL")
                    evidence = gr.Slider(1, 12, value=settings.evidence_sentences, step=1,
                                         label="Evidence sentences")
                    sources = gr.Dropdown([], value=[], multiselect=True, label="Only these sources",
                                          info="empty: all sources", allow_custom_value=True)
                    date_from = gr.Textbox(label="From date", placeholder="YYYY-MM-DD", elem_id="rag-date-from")
                    date_to = gr.Textbox(label="To date", placeholder="YYYY-MM-DD", elem_id="rag-date-to")
            with gr.Tab("Articles"):
                files = gr.File(label=f"Article files ({uploads.suffixes_text()})", file_count="multiple",
                                file_types=list(uploads.SUFFIXES), type="filepath", elem_id="rag-files")
                add = gr.Button("Add to library", variant="primary", elem_id="rag-add")
                result = gr.Textbox(label="Result", lines=4, interactive=False, elem_id="rag-result")
                table = gr.HTML(uploads.articles_table([]), elem_id="rag-table", css_template=CSS, js_on_load=None)
                with gr.Row():
                    to_remove = gr.Dropdown([], label="Article to remove", scale=4, elem_id="rag-remove-choice")
                    remove = gr.Button("Remove", variant="stop", scale=1, elem_id="rag-remove")

        def ask(q: str, log_: chat.ChatLog, model_: str, k: float, sources_: list[str] | None, d_from: str,
                d_to: str):
            options = chat.ChatOptions(model_, int(k), tuple(sources_ or ()), d_from, d_to)
            first = True
            for step in chat.chat_turn(assistants, q, log_, options):
                # the question box is cleared once (typing ahead survives); the log changes only when final
                yield (step.log if step.chat is not None else gr.skip(), _skip(step.chat), _skip(step.draft),
                       "" if first else gr.skip())
                first = False

        def answer(question: str, history: list[list] | None = None) -> dict[str, Any]:
            """The checked answer to `question` as JSON: text, refused, mode, citations (each with n, article_id,
            title, source, date, url, sentence_id, start, end, text, score: `text` is the stored article's
            text[start:end]), closest (for a refusal), sources_disagree, model, timings. `history`: the turns so
            far, oldest first, as [question, answer text, refused]; empty or None for a first question."""
            try:
                return chat.answer_json(assistants, question, history,
                                        chat.ChatOptions(settings.model, settings.evidence_sentences))
            except RagError as e:
                raise gr.Error(str(e)) from None

        def add_files(paths: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
            progress(0, desc="Reading and embedding the articles")
            message = uploads.ingest_uploads(assistants.library, paths or [], lambda done, total: progress(
                (done, total), desc="Embedding chunks and sentences"))
            return (None, *_corpus_view(assistants, message))

        def remove_one(article_id: str | None) -> tuple:
            return _corpus_view(assistants, uploads.remove_article(assistants.library, article_id))

        corpus_outputs = [result, table, to_remove, sources]
        gr.on([question.submit, send.click], ask, [question, session, model, evidence, sources, date_from, date_to],
              [session, conversation, draft, question], api_name="ask", show_progress="hidden",
              concurrency_limit=ASK_CONCURRENCY, concurrency_id="ask")
        gr.api(answer, api_name="answer", concurrency_limit=ASK_CONCURRENCY, concurrency_id="ask")
        clear.click(lambda: (chat.ChatLog(), chat.ChatLog().html(), ""), None, [session, conversation, draft],
                    queue=False)
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
