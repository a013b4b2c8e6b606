"""The meta-agent's tool set: specs the model sees, and the functions behind them.

Every function returns text; a `ToolError` (or a bad argument) becomes an `error: …` result
the model can read and correct. The set is handed to the harness as a `HarnessTools`, so
`EpisodeHost` traces every call as an `execute_tool` span like a task agent's tools.
Two sizes: `full` for models with room, `compact` (fewer, shorter specs) for small contexts
such as the embedded 135M model's 4,096 tokens.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from harness.runner.tools import HarnessTools
from meta_agent.tools import ToolError
from task_agents.lib.context import ToolResult

TextFn = Callable[..., Awaitable[str] | str]
_S = {"type": "string"}
_I = {"type": "integer"}
_LIST = {"type": "array", "items": {"type": "string"}}


def _spec(name: str, description: str, required: dict[str, Any] | None = None,
          optional: dict[str, Any] | None = None) -> dict[str, Any]:
    properties = {**(required or {}), **(optional or {})}
    return {"name": name, "description": description, "parameters": {
        "type": "object", "properties": properties, "required": list(required or {})}}


READ_SPECS = [
    _spec("list_files", "List files under a path (view/... or candidate/...).",
          optional={"path": _S, "pattern": _S}),
    _spec("read_file", "Read a file, paged by lines.", {"path": _S},
          {"offset": _I, "limit": _I}),
    _spec("grep", "Search files for a regular expression.", {"pattern": _S}, {"path": _S}),
    _spec("overview", "Digest of a candidate's train run: failures grouped, tasks ranked.",
          {"candidate": _S}),
    _spec("failures", "Failed train episodes of a candidate, one line each.",
          {"candidate": _S}, {"limit": _I}),
    _spec("contrast", "A passing and a failing episode of one train task side by side.",
          {"task_id": _S}),
    _spec("trace", "The transcript of one train episode, paged.",
          {"candidate": _S, "task_id": _S}, {"trial": _I, "offset": _I}),
    _spec("diff_code", "Code diff between two candidates.", {"a": _S, "b": _S}),
    _spec("diff_traces", "How two candidates behaved differently on one task.",
          {"a": _S, "b": _S, "task_id": _S}),
]
EDIT_SPECS = [
    _spec("write_file", "Write a file in the candidate.", {"path": _S, "text": _S}),
    _spec("edit_file", "Replace one exact occurrence of `old` by `new` in a candidate file.",
          {"path": _S, "old": _S, "new": _S}),
    _spec("delete_file", "Delete a file in the candidate.", {"path": _S}),
]
SESSION_SPECS = [
    _spec("write_test", "Write a unit test file tests/test_<name>.py in the candidate.",
          {"name": _S, "code": _S}),
    _spec("run_tests", "Run the candidate's unit tests in the sandbox."),
    _spec("smoke_run", "Run the candidate on 1-3 train tasks; returns their scores.",
          {"task_ids": _LIST}),
    _spec("smoke_trace", "Transcript of a task from the last smoke run.", {"task_id": _S},
          {"offset": _I}),
    _spec("spawn_subagents", "Run parallel read-only investigations; each returns a summary.",
          {"tasks": {"type": "array", "items": {"type": "object", "properties": {
              "instruction": _S, "files": _LIST}, "required": ["instruction"]}}}),
    _spec("append_note", "Add one line to notes.md for later experiments.", {"text": _S}),
    _spec("submit", "Submit the change: one hypothesis, one mechanism.",
          {"description": _S, "hypothesis": _S, "mechanism": _S},
          {"component": {"type": "string", "enum": ["prompt", "tool", "graph", "param",
                                                    "memory", "other"]},
           "predicted_fixes": _LIST, "risk_tasks": _LIST}),
]
COMPACT = ("failures", "trace", "read_file", "edit_file", "smoke_run", "submit")


class ToolSet(HarnessTools):
    """Text tools wrapped as harness tools (so the episode host traces each call)."""

    def __init__(self, functions: dict[str, TextFn]) -> None:
        super().__init__()
        self.tools = {name: _as_tool(name, fn) for name, fn in functions.items()}


def _as_tool(name: str, fn: TextFn) -> Callable[..., Awaitable[ToolResult]]:
    async def call(**arguments: Any) -> ToolResult:
        try:
            bound = inspect.signature(fn).bind(**arguments)
        except TypeError as error:
            return ToolResult(ok=False, output=f"error: bad arguments for {name}: {error}")
        try:
            out = fn(*bound.args, **bound.kwargs)
            text = await out if inspect.isawaitable(out) else out
        except (ToolError, ValueError, KeyError) as error:
            return ToolResult(ok=False, output=f"error: {error}")
        except Exception as error:  # a bug of ours must not end the session; it is shown
            tail = traceback.format_exc(limit=2)[-600:]
            return ToolResult(ok=False, output=f"error: {name} failed: {error}\n{tail}")
        return ToolResult(ok=True, output=str(text))

    return call


def specs_for(names: set[str], compact: bool) -> list[dict[str, Any]]:
    every = [*READ_SPECS, *EDIT_SPECS, *SESSION_SPECS, *move_specs(compact)]
    chosen = [s for s in every if s["name"] in names]
    if compact:
        chosen = [s for s in chosen if s["name"] in COMPACT or s["name"] in MOVE_NAMES]
    return chosen


# Numeric sampling parameters: in compact mode `set_param` names one of these (an enum, so a
# grammar-constrained call cannot name anything else).
NUMERIC_PARAMS = ("temperature", "top_p", "top_k", "max_tokens", "presence_penalty",
                  "frequency_penalty")


MOVE_NAMES = ("set_prompt", "set_param", "add_demos", "add_block")


def move_specs(compact: bool = False) -> list[dict[str, Any]]:
    param = ({"name": {"type": "string", "enum": list(NUMERIC_PARAMS)}, "value": {
        "type": "number"}} if compact else {"name": _S, "value": {}})
    return [
        _spec("set_prompt", "Replace one of the agent's prompt files.", {"name": _S, "text": _S}),
        _spec("set_param", "Set a model parameter or constant, e.g. temperature.", param),
        _spec("add_demos", "Add k demonstrations from train episodes the agent solved.",
              {"k": _I}),
        _spec("add_block", "Wire a building block: verify, vote, calculator or fanout.",
              {"kind": _S}, {"options": {"type": "object"}}),
    ]
