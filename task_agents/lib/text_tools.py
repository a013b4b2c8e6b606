"""Tool calling for models with and without native tool calls.

The text protocol: the tools are described in a system-prompt section (`render_tools_prompt`)
and the model answers with one block per call,

    <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>

`parse_tool_calls(text)` reads those blocks (a block may also hold a JSON list of calls; an
unclosed last block runs to the end; single-quoted Python dicts are accepted). Without any
block it falls back to bare JSON objects in the text that have a "name" (and "arguments",
"parameters" or "args"); pass `names` to accept only those tools' names in the fallback.
A call whose arguments cannot be read keeps its name, gets `arguments={}` and says why in
`arguments_error`, like a native call would.

`call_with_tools(ctx, messages, tools, native=...)` makes one model call:
- `native=True`: tools go in the request's `tools` field; only native calls count.
- `native=False`: tools are rendered into the system prompt; calls are parsed from the text.
- `native="auto"` (default): native first; when the reply has no native calls but its text
  parses, those calls are used; when the server rejects a request with tools, it is retried
  once with the text protocol.
Text-parsed calls get ids starting with `TEXT_CALL_PREFIX`; `followup_messages` builds the
right next turn for either kind (tool-role messages for native, a user message for text).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from harness.errors import ModelRequestError
from harness.models.types import (
    ChatResult,
    Message,
    MessageLike,
    ToolCall,
    ToolLike,
    to_messages,
    to_tools,
)
from task_agents.lib.context import AgentContext

TEXT_CALL_PREFIX = "text-call-"
Native = bool | Literal["auto"]

_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"^```[A-Za-z]*\s*|\s*```$")
_OPENER = re.compile(r"[\[{]")
_ARG_KEYS = ("arguments", "parameters", "args", "input")

PROMPT_HEADER = """# Tools

You may call these tools. Each is given as JSON: its name, description and a JSON Schema of its
arguments.

{tools}

To call a tool, write one block per call, exactly like this, and nothing after the blocks:
<tool_call>{{"name": "<tool name>", "arguments": {{<argument name>: <value>, ...}}}}</tool_call>
"""


def render_tools_prompt(tools: Sequence[ToolLike]) -> str:
    """The system-prompt section that describes `tools` and the call format."""
    lines = [json.dumps(spec.model_dump(), ensure_ascii=False) for spec in to_tools(tools)]
    return PROMPT_HEADER.format(tools="\n".join(lines))


def _load(text: str) -> Any:
    """JSON, else a Python literal (single quotes, True/None), else raise ValueError."""
    text = _FENCE.sub("", text.strip())
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        why = f"{error.msg} at {error.pos}" if isinstance(error, json.JSONDecodeError) else (
            "nested too deeply")
        try:
            return ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise ValueError(f"not JSON: {why}") from None


def _arguments(obj: dict[str, Any]) -> tuple[dict[str, Any], str, str | None]:
    """(arguments, raw text, error) from a call object's arguments field."""
    raw: Any = next((obj[k] for k in _ARG_KEYS if k in obj), {})
    raw_text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
    if isinstance(raw, str):
        try:
            raw = _load(raw) if raw.strip() else {}
        except ValueError as error:
            return {}, raw_text, f"arguments are not valid JSON: {error}"
    if not isinstance(raw, dict):
        return {}, raw_text, f"arguments are {type(raw).__name__}, not an object"
    return raw, raw_text, None


def _call_from(obj: Any, index: int) -> ToolCall | None:
    if not isinstance(obj, dict):
        return None
    name = obj.get("name")
    if not isinstance(name, str) and isinstance(obj.get("function"), dict):
        return _call_from(obj["function"], index)  # OpenAI wire shape
    if not isinstance(name, str) or not name.strip():
        return None
    arguments, raw, error = _arguments(obj)
    return ToolCall(id=f"{TEXT_CALL_PREFIX}{index}", name=name.strip(), arguments=arguments,
                    raw_arguments=raw, arguments_error=error)


def _salvage(block: str, index: int) -> ToolCall | None:
    """A call from an unparsable block: the name if one is legible, with the error noted."""
    found = re.search(r"""["']name["']\s*:\s*["']([^"']+)["']""", block)
    if not found:
        return None
    return ToolCall(id=f"{TEXT_CALL_PREFIX}{index}", name=found.group(1).strip(),
                    raw_arguments=block.strip(), arguments_error="tool call is not valid JSON")


def _calls_in_block(block: str, start: int) -> list[ToolCall]:
    try:
        value = _load(block)
    except ValueError:
        salvaged = _salvage(block, start)
        return [salvaged] if salvaged else []
    items = value if isinstance(value, list) else [value]
    calls = [_call_from(item, start + i) for i, item in enumerate(items)]
    return [call for call in calls if call is not None]


MAX_SCAN_FAILURES = 200


def _bare_json_values(text: str) -> list[Any]:
    """Every top-level JSON object or list embedded in the text, in order."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position, failures = 0, 0
    # Each failed attempt costs up to the rest of the text; bound them, so a reply of 100,000
    # opening braces stays cheap.
    while failures < MAX_SCAN_FAILURES and (match := _OPENER.search(text, position)) is not None:
        try:
            value, end = decoder.raw_decode(text, match.start())
        except (json.JSONDecodeError, RecursionError):
            position, failures = match.start() + 1, failures + 1
            continue
        values.append(value)
        position = end
    return values


def _plain_name(name: str) -> str:
    """Names compared loosely: `math.factorial` and `math_factorial` are the same tool."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def parse_tool_calls(text: str, names: Sequence[str] | None = None) -> list[ToolCall]:
    """The tool calls written in `text` (see the module docstring); [] when there are none."""
    text = text or ""
    allowed = None if names is None else {_plain_name(name) for name in names}
    blocks = _BLOCK.findall(text)
    if blocks:
        calls: list[ToolCall] = []
        for block in blocks:
            calls.extend(_calls_in_block(block, len(calls)))
        return calls
    calls = []
    for value in _bare_json_values(text):
        for item in value if isinstance(value, list) else [value]:
            call = _call_from(item, len(calls))
            if call is not None and (allowed is None or _plain_name(call.name) in allowed):
                calls.append(call)
    return calls


def with_tools_prompt(messages: Sequence[MessageLike], tools: Sequence[ToolLike]) -> list[Message]:
    """`messages` with the tools section appended to the system prompt (one is added if none)."""
    out = to_messages(messages)
    section = render_tools_prompt(tools)
    if out and out[0].role == "system":
        out[0] = out[0].model_copy(update={"content": f"{out[0].content}\n\n{section}"})
    else:
        out.insert(0, Message(role="system", content=section))
    return out


def _parsed(result: ChatResult, tools: Sequence[ToolLike]) -> ChatResult:
    calls = parse_tool_calls(result.text, names=[spec.name for spec in to_tools(tools)])
    return result.model_copy(update={"tool_calls": calls}) if calls else result


async def call_with_tools(
    ctx: AgentContext, messages: Sequence[MessageLike], tools: Sequence[ToolLike], *,
    native: Native = "auto", **params: Any,
) -> ChatResult:
    """One model call that may use `tools`; see the module docstring for the three modes."""
    if not tools:
        return await ctx.model.chat(messages, **params)
    if native is False:
        result = await ctx.model.chat(with_tools_prompt(messages, tools), **params)
        return _parsed(result, tools)
    try:
        result = await ctx.model.chat(messages, tools, **params)
    except ModelRequestError as error:
        if native is True:
            raise
        ctx.log(f"request with native tools rejected ({error}); retrying with the text protocol")
        return await call_with_tools(ctx, messages, tools, native=False, **params)
    if result.tool_calls or native is True:
        return result
    return _parsed(result, tools)


def is_text_call(call: ToolCall) -> bool:
    return call.id.startswith(TEXT_CALL_PREFIX)


def followup_messages(result: ChatResult, outputs: Sequence[str]) -> list[Message]:
    """The assistant turn plus the tool results (`outputs[i]` answers `result.tool_calls[i]`).

    Native calls: the assistant message with its calls, then one `tool` message per call.
    Text-protocol calls: the assistant's text as is, then one user message with a
    `<tool_response>` block per call (models without tool support accept no tool role).
    """
    calls = result.tool_calls
    if not calls or not all(is_text_call(call) for call in calls):
        replies = [Message(role="tool", tool_call_id=call.id, name=call.name, content=output)
                   for call, output in zip(calls, outputs, strict=False)]
        return [result.as_message(), *replies]
    assistant = result.as_message().model_copy(update={"tool_calls": []})
    blocks = [f'<tool_response name="{call.name}">\n{output}\n</tool_response>'
              for call, output in zip(calls, outputs, strict=False)]
    return [assistant, Message(role="user", content="\n".join(blocks))]
