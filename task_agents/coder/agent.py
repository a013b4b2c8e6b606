"""Coder: HumanEval-style function completion. A deliberately plain starter.

Graph: generate (one model call with the signature and docstring) -> extract (the code in
the reply). Answer: Python source, the whole function definition when the reply has one
(the scorer puts the task's prompt, with its imports, in front), else the reply's code
indented as the function's body. Garbage in gives a best-effort string, never an exception.
"""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from task_agents.lib.answers import defines, extract_code
from task_agents.lib.context import AgentContext, TaskView
from task_agents.lib.prompts import fill, load_prompts

PROMPTS = load_prompts(__file__)
MODEL_PARAMS: dict[str, Any] = {"max_tokens": 2048}
RECURSION_LIMIT = 10


class CoderState(TypedDict, total=False):
    prompt: str
    entry_point: str
    reply: str
    answer: str


def entry_point_of(task: TaskView) -> str:
    """The function to write: `metadata.entry_point`, else the last `def` in the prompt."""
    named = task.metadata.get("entry_point")
    if isinstance(named, str) and named:
        return named
    found = re.findall(r"^\s*def\s+(\w+)\s*\(", task.prompt, re.M)
    return found[-1] if found else ""


def _parses_as_body(body: str) -> bool:
    try:
        ast.parse("def _f():\n" + body)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def body_candidates(code: str) -> list[str]:
    """Ways to read `code` as a function body at 4 spaces, most likely first.

    Replies often arrive with the first line's indentation stripped, so one reading restores
    it from the least-indented later line.
    """
    lines = code.expandtabs(4).splitlines()
    rest = [line for line in lines[1:] if line.strip()]
    base = min((len(line) - len(line.lstrip()) for line in rest), default=0)
    restored = [" " * base + lines[0].lstrip(), *lines[1:]] if lines else []
    return [textwrap.indent(textwrap.dedent("\n".join(restored)), "    ") + "\n",
            textwrap.indent(textwrap.dedent(code), "    "), code]


def as_answer(code: str, entry_point: str) -> str:
    """The whole definition as is; anything else as the function's body (best effort)."""
    if not code.strip() or (entry_point and defines(code, entry_point)):
        return code
    candidates = body_candidates(code)
    return next((body for body in candidates if _parses_as_body(body)), candidates[1])


def build_graph(ctx: AgentContext) -> Any:
    async def generate(state: CoderState) -> CoderState:
        messages = [
            {"role": "system", "content": PROMPTS["system"]},
            {"role": "user", "content": fill(PROMPTS["user"], prompt=state["prompt"])},
        ]
        result = await ctx.model.chat(messages, **MODEL_PARAMS)
        return {"reply": result.text or result.reasoning_text}

    def extract(state: CoderState) -> CoderState:
        code = extract_code(state.get("reply", ""), state["entry_point"] or None)
        return {"answer": as_answer(code, state["entry_point"])}

    graph = StateGraph(CoderState)
    graph.add_node("generate", generate)
    graph.add_node("extract", extract)
    graph.add_edge(START, "generate")
    graph.add_edge("generate", "extract")
    graph.add_edge("extract", END)
    return graph.compile()


async def run(task: TaskView, ctx: AgentContext) -> str:
    state: CoderState = {"prompt": task.prompt, "entry_point": entry_point_of(task)}
    final = await build_graph(ctx).ainvoke(state, {"recursion_limit": RECURSION_LIMIT})
    return str(final.get("answer", ""))
