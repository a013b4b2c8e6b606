"""Turn a config into a ready `ModelClient`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.errors import ModelRequestError
from harness.models.openai_client import OpenAIClient
from harness.models.types import ModelClient

if TYPE_CHECKING:
    from harness.config import HarnessConfig

_PROVIDER_NAMES = {"embedded": "llama.cpp", "vllm": "vllm", "openai": "openai"}


async def open_client(config: HarnessConfig, *, base_url: str | None = None) -> ModelClient:
    """A client for `config.model`. `base_url` is where a server we manage listens."""
    spec = config.spec
    if spec.provider == "anthropic":
        from harness.models.anthropic_client import AnthropicClient

        thinking = int(config.thinking) if config.thinking.isdigit() else config.thinking
        return AnthropicClient(spec.model or "", timeout_s=config.request_timeout_s,
                               max_retries=config.max_retries, thinking=thinking)  # type: ignore[arg-type]
    url = base_url or spec.base_url
    if url is None:
        raise ModelRequestError(f"'{spec.text}' needs a running server but none was given")
    key = config.api_key.get_secret_value() if config.api_key else None
    model = spec.served_name if spec.needs_local_server else spec.model
    client = OpenAIClient(url, model or "", api_key=key, timeout_s=config.request_timeout_s,
                          max_retries=config.max_retries, provider=_PROVIDER_NAMES[spec.provider])
    if not model:
        client.model = await _first_model(client)
    return client


async def _first_model(client: OpenAIClient) -> str:
    models = await client.list_models()
    if not models:
        raise ModelRequestError(f"server at {client.base_url} serves no models")
    return models[0]
