"""Solver: short-answer reasoning tasks (arithmetic, gsm-symbolic, countdown, knights-knaves).
A deliberately plain starter.

Graph: ask (one model call: the question plus a short instruction) -> extract (the final
answer). Answer: the final answer string alone (an `Answer:` line, <answer> tag or \\boxed{}
if the reply has one; for numeric tasks the last number; else the last line). Empty or
garbled replies give a best-effort string (possibly ""), never an exception.
"""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from task_agents.lib.answers import final_answer
from task_agents.lib.context import AgentContext, TaskView
from task_agents.lib.prompts import fill, load_prompts

PROMPTS = load_prompts(__file__)
MODEL_PARAMS: dict[str, Any] = {"max_tokens": 2048}
RECURSION_LIMIT = 10


class SolverState(TypedDict, total=False):
    question: str
    numeric: bool
    reply: str
    answer: str


def build_graph(ctx: AgentContext) -> Any:
    async def ask(state: SolverState) -> SolverState:
        messages = [
            {"role": "system", "content": PROMPTS["system"]},
            {"role": "user", "content": fill(PROMPTS["user"], prompt=state["question"])},
        ]
        result = await ctx.model.chat(messages, **MODEL_PARAMS)
        return {"reply": result.text or result.reasoning_text}

    def extract(state: SolverState) -> SolverState:
        return {"answer": final_answer(state.get("reply", ""), numeric=state["numeric"])}

    graph = StateGraph(SolverState)
    graph.add_node("ask", ask)
    graph.add_node("extract", extract)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", "extract")
    graph.add_edge("extract", END)
    return graph.compile()


async def run(task: TaskView, ctx: AgentContext) -> str:
    numeric = bool(task.metadata.get("numeric_answer", False))
    state: SolverState = {"question": task.prompt, "numeric": numeric}
    final = await build_graph(ctx).ainvoke(state, {"recursion_limit": RECURSION_LIMIT})
    return str(final.get("answer", ""))
