"""Run one worker per item as parallel subagents: a LangGraph `Send` fan-out.

    results = await fan_out(ctx, ["a", "b", "c"], solve_one, name="solver")

Each item becomes a `Send` to one worker node; the branch runs `worker(ctx, item)` inside
`ctx.subagent(f"{name}[{i}]")`, so the trace shows one `invoke_agent {name}[i]` span per item
with that worker's model and tool calls under it. Results come back in item order (each
branch adds `(i, result)` through a list reducer; they are sorted by `i`).
An exception in a worker propagates (the other branches are cancelled); catch inside the
worker to turn failures into values. A fan-out is marked `mechanism:fanout` on the trace.
"""

from __future__ import annotations

import operator
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypedDict, TypeVar

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from task_agents.lib.context import AgentContext
from task_agents.lib.mechanisms import mark

T = TypeVar("T")
R = TypeVar("R")
Worker = Callable[[AgentContext, T], Awaitable[R]]


class FanOutState(TypedDict, total=False):
    items: list[Any]
    results: Annotated[list[tuple[int, Any]], operator.add]
    index: int  # set only in a branch's own input (its `Send` argument)
    item: Any


def _build(ctx: AgentContext, worker: Worker[Any, Any], name: str) -> Any:
    async def work(state: FanOutState) -> FanOutState:  # `state` is this branch's Send input
        async with ctx.subagent(f"{name}[{state['index']}]"):
            result = await worker(ctx, state["item"])
        return {"results": [(state["index"], result)]}

    def dispatch(state: FanOutState) -> list[Send]:
        return [Send("work", {"index": i, "item": item}) for i, item in enumerate(state["items"])]

    graph = StateGraph(FanOutState)
    graph.add_node("work", work)
    graph.add_conditional_edges(START, dispatch, ["work"])
    graph.add_edge("work", END)
    return graph.compile()


async def fan_out(
    ctx: AgentContext, items: Sequence[T], worker: Worker[T, R], *, name: str = "worker",
) -> list[R]:
    """`[await worker(ctx, item) for item in items]`, run concurrently as subagents."""
    if not items:
        return []
    graph = _build(ctx, worker, name)
    mark(ctx, "fanout", f"{len(items)} x {name}")
    # One superstep dispatches, one runs every branch; a little headroom on top.
    state = await graph.ainvoke({"items": list(items), "results": []}, {"recursion_limit": 5})
    return [result for _, result in sorted(state["results"], key=lambda pair: pair[0])]
