"""Question answering over news articles with a local model and checked sentence citations.

Importing `rag` is cheap: the heavy libraries (torch, faiss, llama.cpp) load on first use.
"""

from rag.errors import RagError
from rag.settings import Settings

__all__ = ["RagError", "Settings", "open_assistant"]


def open_assistant(settings: Settings | None = None):  # noqa: ANN201
    """The Python API entry point: an `Assistant` over `settings.index_dir` (see rag.assistant)."""
    from rag.assistant import Assistant

    return Assistant(settings or Settings.from_env())
