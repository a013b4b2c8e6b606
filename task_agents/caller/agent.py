"""Caller: function calling (BFCL), single- and multi-turn. A deliberately plain starter.

Graph: open_turn (append the turn's user messages; offer any tools added at this turn) ->
call (model calls with the tools: native tool calling, falling back to the `<tool_call>`
text protocol) -> open_turn for the next turn, or END. In multi-turn tasks each call runs in
the task's environment (`ctx.tool("env", ...)`) and the model sees its result, for up to
STEPS_PER_TURN model calls a turn; single-turn calls are answers, not executed.
Answer: single-turn, the list of calls `[{"name": ..., "arguments": {...}}]` (`[]` for no
call); multi-turn, one such list per turn. Names are the task's own (dots restored).
"""

from __future__ import annotations

import json
import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph

from harness.models.types import Message
from task_agents.lib.consistency import self_consistency
from task_agents.lib.context import AgentContext, TaskView
from task_agents.lib.mechanisms import mark
from task_agents.lib.prompts import load_prompts
from task_agents.lib.strategy import load_demos, load_strategy
from task_agents.lib.text_tools import Native, call_with_tools, followup_messages

from .tools import Toolbox

PROMPTS = load_prompts(__file__)
STRATEGY = load_strategy(__file__)
MODEL_PARAMS: dict[str, Any] = STRATEGY.params()
NATIVE_TOOLS: Native = STRATEGY.native_tools
STEPS_PER_TURN = STRATEGY.steps_per_turn
DEMOS = load_demos(__file__, STRATEGY.demos)


class CallerState(TypedDict, total=False):
    messages: list[Message]
    turn: int
    calls: Annotated[list[list[dict[str, Any]]], operator.add]


def turns_of(task: TaskView) -> list[list[dict[str, str]]]:
    return task.turns or [[{"role": "user", "content": task.prompt}]]


def as_message(turn_message: dict[str, Any]) -> Message:
    role = turn_message.get("role")
    return Message(role=role if role in ("system", "user", "assistant") else "user",
                   content=str(turn_message.get("content") or ""))


def is_multi_turn(task: TaskView) -> bool:
    return task.category.startswith("multi_turn") or len(task.turns) > 1


def build_graph(ctx: AgentContext, task: TaskView) -> Any:
    turns = turns_of(task)
    toolbox = Toolbox(task.tools)
    added: dict[str, Any] = task.metadata.get("tools_added_at_turn") or {}

    def open_turn(state: CallerState) -> CallerState:
        index = state["turn"]
        toolbox.add(added.get(str(index), []))
        new = [as_message(m) for m in turns[index]]
        return {"messages": [*state["messages"], *new]}

    async def call(state: CallerState) -> CallerState:
        messages = state["messages"]
        new_tools = bool(added.get(str(state["turn"])))
        if messages[-1].role == "assistant" and not new_tools:  # nothing new to answer
            return {"calls": [[]], "turn": state["turn"] + 1}
        steps = STEPS_PER_TURN if is_multi_turn(task) else 1
        if steps == 1 and STRATEGY.votes > 1:
            return {"calls": [await vote(messages)], "turn": state["turn"] + 1}
        made: list[dict[str, Any]] = []
        for _ in range(steps):
            result = await call_with_tools(ctx, messages, toolbox.specs, native=NATIVE_TOOLS,
                                           **MODEL_PARAMS)
            calls = toolbox.as_answer(result.tool_calls)
            outputs = [await execute(call) for call in calls] if steps > 1 else (
                [PROMPTS["no_result"]] * len(result.tool_calls))
            messages = [*messages, *followup_messages(result, outputs)]
            made += calls
            if not calls:
                break
        return {"messages": messages, "calls": [made], "turn": state["turn"] + 1}

    async def vote(messages: list[Message]) -> list[dict[str, Any]]:
        """The set of calls most samples agree on (compared as canonical JSON)."""
        async def sample(ctx: AgentContext, index: int) -> str:
            result = await call_with_tools(ctx, messages, toolbox.specs, native=NATIVE_TOOLS,
                                           **MODEL_PARAMS)
            return json.dumps(toolbox.as_answer(result.tool_calls), sort_keys=True)

        winner = await self_consistency(ctx, sample, n=STRATEGY.votes, name="vote")
        calls: list[dict[str, Any]] = json.loads(winner) if winner else []
        return calls

    async def execute(call: dict[str, Any]) -> str:
        outcome = await ctx.tool("env", function=call["name"], arguments=call["arguments"])
        return outcome.output if outcome.ok or outcome.output else PROMPTS["no_result"]

    def route(state: CallerState) -> str:
        return "open_turn" if state["turn"] < len(turns) else END

    graph = StateGraph(CallerState)
    graph.add_node("open_turn", open_turn)
    graph.add_node("call", call)
    graph.add_edge(START, "open_turn")
    graph.add_edge("open_turn", "call")
    graph.add_conditional_edges("call", route, ["open_turn", END])
    return graph.compile()


def opening_messages() -> list[Message]:
    """The system prompt, then the demonstrations as earlier turns."""
    messages = [Message(role="system", content=PROMPTS["system"])]
    for demo in DEMOS:
        messages += [Message(role="user", content=demo.user),
                     Message(role="assistant", content=demo.assistant)]
    return messages


async def run(task: TaskView, ctx: AgentContext) -> list[Any]:
    if DEMOS:
        mark(ctx, "demos", f"{len(DEMOS)} demonstrations")
    state: CallerState = {"messages": opening_messages(), "turn": 0, "calls": []}
    limit = 2 * len(turns_of(task)) + 5
    final = await build_graph(ctx, task).ainvoke(state, {"recursion_limit": limit})
    calls: list[list[dict[str, Any]]] = final.get("calls", [])
    if is_multi_turn(task):
        return list(calls)
    return [call for turn in calls for call in turn]
