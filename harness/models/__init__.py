"""The model layer: one `ModelClient` protocol, clients per provider, and specs users type.

Public: `ModelClient`, the chat types, `ModelSpec`/`parse_model_spec`, `OpenAIClient`, and
`open_client`, which turns a config into a ready client. The provider SDKs are imported on
first use only: sandboxed agent workers need the types, not the SDKs, and start faster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.models.spec import ModelSpec, parse_model_spec
from harness.models.types import (
    ChatResult,
    Message,
    ModelClient,
    ReasoningPart,
    ToolCall,
    ToolSpec,
    Usage,
)

if TYPE_CHECKING:
    from harness.models.factory import open_client
    from harness.models.openai_client import OpenAIClient

__all__ = [
    "ChatResult", "Message", "ModelClient", "ModelSpec", "OpenAIClient", "ReasoningPart",
    "ToolCall", "ToolSpec", "Usage", "open_client", "parse_model_spec",
]


def __getattr__(name: str) -> Any:
    if name == "OpenAIClient":
        from harness.models.openai_client import OpenAIClient

        return OpenAIClient
    if name == "open_client":
        from harness.models.factory import open_client

        return open_client
    raise AttributeError(f"module 'harness.models' has no attribute {name!r}")
