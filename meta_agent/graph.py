"""The meta-agent's tool loop as a LangGraph graph: think (one model call) → act (its tool
calls) → think … until it submits, goes quiet, loops, or runs out of steps or tokens.

The same graph serves the main agent and its investigators (subagents with read-only tools).
Tool calls go through `ctx.tool`, so the harness traces every one as `execute_tool`; model
calls go through `ctx.model`, traced as `chat`. Native tool calls are used where the server
offers them, the text protocol of `task_agents.lib.text_tools` otherwise.

Ends, each with a reason in `end`:
- `submitted`: the `submit` tool accepted a proposal;
- `quiet`: the model answered without a tool call `MAX_QUIET` times in a row (for an
  investigator that is how it reports: its last text is the summary);
- `looping`: the same tool call, or the same text, `MAX_REPEAT` times in a row;
- `truncated`: a reply cut by the token limit with no usable tool call, twice;
- `steps` / `budget`: the step limit or the token budget was reached.

`force` (for small models): when the model answers without a tool call, the next calls name
the tools of the plan one by one with a named `tool_choice` (native tool calling only), so
the server's grammar makes the call well-formed (llama.cpp, vLLM); the model still fills in
the arguments. A plan of a structured move then `submit` turns a model that never volunteers
a tool call into one that proposes something the loop can judge.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from harness.models.types import ChatResult, Message, ToolCall, ToolLike, to_tools
from task_agents.lib.context import AgentContext, BudgetExceeded
from task_agents.lib.text_tools import Native, call_with_tools, followup_messages

MAX_QUIET = 2
MAX_REPEAT = 3
SUBMIT = "submit"


class LoopState(TypedDict, total=False):
    messages: list[Message]
    steps: int
    quiet: int
    truncated: int
    recent: list[str]  # signatures of the last replies, for loop detection
    end: str
    last_text: str
    calls: dict[str, int]  # tool name -> times called
    pending: ChatResult | None  # the reply whose tool calls `act` carries out
    forced: int  # how many calls of the force plan were made


def build_loop(ctx: AgentContext, tools: Sequence[ToolLike], *, max_steps: int,
               native: Native = "auto", params: dict[str, Any] | None = None,
               force: Sequence[str] = ()) -> Any:
    """A compiled graph over `LoopState`; run it with `ainvoke({"messages": [...]})`."""
    sampling = dict(params or {})
    by_name = {to_tools([t])[0].name: t for t in tools}

    async def think(state: LoopState) -> LoopState:
        if state.get("steps", 0) >= max_steps:
            return {"end": "steps"}
        forced = _next_forced(state, force)
        offered, mode, extra = tools, native, {}
        if forced and forced in by_name:
            offered, mode = [by_name[forced]], True
            extra = {"tool_choice": {"type": "function", "function": {"name": forced}}}
        try:
            result = await call_with_tools(ctx, state["messages"], offered, native=mode,
                                           **sampling, **extra)
        except BudgetExceeded:
            return {"end": "budget"}
        update: LoopState = {"steps": state.get("steps", 0) + 1, "last_text": result.text}
        if extra:
            update["forced"] = state.get("forced", 0) + 1
        signature = _signature(result.text, result.tool_calls)
        recent = [*state.get("recent", []), signature][-MAX_REPEAT:]
        update["recent"] = recent
        if len(recent) == MAX_REPEAT and len(set(recent)) == 1:
            return {**update, "end": "looping"}
        if not result.tool_calls:
            return {**update, **_without_calls(state, result.finish_reason, result.text)}
        return {**update, "quiet": 0, "truncated": 0, "pending": result}

    async def act(state: LoopState) -> LoopState:
        result = state.get("pending")
        assert result is not None  # the graph routes here only with a pending reply
        outputs, counts, end = [], dict(state.get("calls", {})), None
        for call in result.tool_calls:
            counts[call.name] = counts.get(call.name, 0) + 1
            output = await _run_call(ctx, call)
            outputs.append(output)
            if call.name == SUBMIT and output.startswith("submitted"):
                end = "submitted"
        messages = [*state["messages"], *followup_messages(result, outputs)]
        update: LoopState = {"messages": messages, "calls": counts, "pending": None}
        return {**update, "end": end} if end else update

    graph = StateGraph(LoopState)
    graph.add_node("think", think)
    graph.add_node("act", act)
    graph.add_edge(START, "think")
    graph.add_conditional_edges("think", _after_think, {"act": "act", "think": "think",
                                                        END: END})
    graph.add_conditional_edges("act", lambda s: END if s.get("end") else "think",
                                {"think": "think", END: END})
    return graph.compile()


def _after_think(state: LoopState) -> str:
    if state.get("end"):
        return END
    return "act" if state.get("pending") is not None else "think"


def _next_forced(state: LoopState, force: Sequence[str]) -> str | None:
    """The plan's next tool once the model has gone quiet (and until the plan is spent)."""
    if not force or (state.get("quiet", 0) == 0 and not state.get("forced", 0)):
        return None
    index = state.get("forced", 0)
    return force[index] if index < len(force) else None


def _without_calls(state: LoopState, finish_reason: str, text: str) -> LoopState:
    """A reply with no tool call: nudge once, then stop (an investigator's report, or a
    meta-agent that has stopped using its tools)."""
    if finish_reason == "length":
        return _nudge(state, "truncated", text,
                      "Your reply was cut off by the token limit. Be brief: call one tool.")
    return _nudge(state, "quiet", text,
                  "Call one of the tools now (for example failures, trace, a move, or submit).")


def _nudge(state: LoopState, counter: str, text: str, nudge: str) -> LoopState:
    count = int(state.get(counter, 0)) + 1  # type: ignore[call-overload]
    if count >= MAX_QUIET:
        return {"end": counter, counter: count}  # type: ignore[misc]
    messages = [*state["messages"], Message(role="assistant", content=text),
                Message(role="user", content=nudge)]
    return {counter: count, "messages": messages}  # type: ignore[misc]


def _signature(text: str, calls: Sequence[ToolCall]) -> str:
    if calls:
        return json.dumps([[c.name, c.raw_arguments or c.arguments] for c in calls],
                          sort_keys=True, default=str)
    return "text:" + " ".join(text.split())[:2000]


async def _run_call(ctx: AgentContext, call: ToolCall) -> str:
    if call.arguments_error:
        return f"error: could not read the arguments of {call.name}: {call.arguments_error}"
    result = await ctx.tool(call.name, **call.arguments)
    return result.output
