"""The chat-model factory: the embedded model starts once per process and answers offline;
a missing key or an unreachable endpoint is a clear LLMUnavailable, never a hang or a raw
client error."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agents import llm
from control_tower.config import AgentSettings
from control_tower.errors import ConfigError


def test_the_embedded_model_starts_once_and_answers_offline():
    first = llm.chat_backend()
    second = llm.chat_backend()
    assert first.provider == "local" and first.reasoning == "routed"
    assert "SmolLM2-135M-Instruct" in first.label and "1 thread" in first.label
    assert first.where == second.where and first.where.startswith("http://127.0.0.1:")
    reply = llm.invoke(first, [("system", "Answer in a few words."), ("human", "Say hello.")])
    assert isinstance(reply.content, str) and reply.content.strip()
    assert reply.usage_metadata["output_tokens"] <= AgentSettings().max_tokens


def test_an_unreachable_endpoint_is_reported_with_where_it_was():
    settings = AgentSettings(provider="openai", model="m", base_url="http://127.0.0.1:9/v1")
    backend = llm.chat_backend(settings)
    assert backend.reasoning == "tools"
    with pytest.raises(llm.LLMUnavailable, match=r"m \(openai\) at http://127.0.0.1:9/v1 failed"):
        llm.invoke(backend, [("human", "hi")])


def test_missing_keys_and_names_are_refused_before_any_call(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(llm.LLMUnavailable, match="set OPENAI_API_KEY"):
        llm.chat_backend(AgentSettings(provider="openai", model="gpt-x"))
    with pytest.raises(llm.LLMUnavailable, match="set MY_KEY"):
        llm.chat_backend(AgentSettings(provider="anthropic", model="c", api_key_env="MY_KEY"))
    with pytest.raises(ConfigError, match="needs a model name"):
        llm.chat_backend(AgentSettings(provider="anthropic"))
    with pytest.raises(ValidationError):
        AgentSettings(provider="cloud")
    with pytest.raises(llm.LLMUnavailable, match="does not exist"):
        llm.chat_backend(AgentSettings(model=str(tmp_path / "none.gguf")))
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")
    with pytest.raises(llm.LLMUnavailable, match="could not load bad.gguf"):
        llm.chat_backend(AgentSettings(model=str(bad)))


def test_an_anthropic_backend_is_built_from_the_environment(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    backend = llm.chat_backend(AgentSettings(provider="anthropic", model="claude-x"))
    assert (backend.provider, backend.reasoning) == ("anthropic", "tools")
    assert backend.label == "claude-x (anthropic)"
