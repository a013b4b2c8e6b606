"""Solver: short-answer reasoning tasks (arithmetic, gsm-symbolic, countdown, knights-knaves).
A deliberately plain starter whose wiring points are data (`strategy.json`).

Graph: [calculate] -> ask -> extract -> [verify]. With the shipped strategy it is ask (one
model call: the question plus a short instruction) -> extract (the final answer). The
strategy can add:
- `demos: k`: the first k demonstrations of `demos.json` as earlier chat turns;
- `calculator: true`: the model first writes one Python expression, `run_python` evaluates
  it, and its printout goes with the question;
- `votes: k`: ask k times as parallel subagents and take the majority answer;
- `verify_rounds: r`: the model checks the answer (prompts/verify.md); a wrong verdict sends
  the check back and asks again, up to r times.
Answer: the final answer string alone (an `Answer:` line, <answer> tag or \\boxed{} if the
reply has one; for numeric tasks the last number; else the last line). Empty or garbled
replies give a best-effort string (possibly ""), never an exception.
"""

from __future__ import annotations

import ast
import re
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from task_agents.lib.answers import extract_code, final_answer
from task_agents.lib.consistency import self_consistency
from task_agents.lib.context import AgentContext, TaskView
from task_agents.lib.mechanisms import mark
from task_agents.lib.prompts import fill, load_prompts
from task_agents.lib.strategy import demo_turns, load_demos, load_strategy
from task_agents.lib.tools import run_python
from task_agents.lib.verify import Attempt, Verdict, verify_and_retry

PROMPTS = load_prompts(__file__)
STRATEGY = load_strategy(__file__)
MODEL_PARAMS: dict[str, Any] = STRATEGY.params()
RECURSION_LIMIT = STRATEGY.recursion_limit
DEMOS = load_demos(__file__, STRATEGY.demos)
_VERDICT = re.compile(r"verdict\s*[:=]\s*\**\s*(correct|wrong|incorrect)", re.I)


class SolverState(TypedDict, total=False):
    question: str
    numeric: bool
    calculation: str
    reply: str
    answer: str


def question_messages(state: SolverState) -> list[dict[str, str]]:
    """System prompt, the demonstrations, then the question (with any calculator result)."""
    user = fill(PROMPTS["user"], prompt=state["question"])
    if state.get("calculation"):
        user += "\n\n" + state["calculation"]
    return [{"role": "system", "content": PROMPTS["system"]}, *demo_turns(DEMOS),
            {"role": "user", "content": user}]


def as_program(code: str) -> str:
    """A lone expression is printed; anything else runs as written."""
    try:
        ast.parse(code, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return code
    return f"print({code.strip()})"


def verdict_of(reply: str) -> Verdict:
    found = _VERDICT.findall(reply or "")
    ok = bool(found) and found[-1].lower() == "correct"
    return Verdict(ok, (reply or "").strip()[-1500:] or "the check gave no verdict")


def build_graph(ctx: AgentContext) -> Any:
    async def chat(messages: list[dict[str, str]]) -> str:
        result = await ctx.model.chat(messages, **MODEL_PARAMS)
        return result.text or result.reasoning_text

    async def calculate(state: SolverState) -> SolverState:
        asked = fill(PROMPTS["calculator"], prompt=state["question"])
        code = extract_code(await chat([{"role": "user", "content": asked}])).strip()
        if not code:
            mark(ctx, "calculator", "no expression")
            return {}
        outcome = await run_python(ctx, as_program(code))
        mark(ctx, "calculator", "ok" if outcome.ok else "failed")
        if not outcome.ok:
            return {}
        return {"calculation": fill(PROMPTS["calculator_result"], expression=code[:500],
                                    result=outcome.output[:500])}

    async def ask(state: SolverState) -> SolverState:
        messages = question_messages(state)
        if DEMOS:
            mark(ctx, "demos", f"{len(DEMOS)} demonstrations")
        if STRATEGY.votes <= 1:
            return {"reply": await chat(messages)}

        async def sample(ctx: AgentContext, index: int) -> str:
            return final_answer(await chat(messages), numeric=state["numeric"])

        return {"answer": await self_consistency(ctx, sample, n=STRATEGY.votes, name="vote")}

    def extract(state: SolverState) -> SolverState:
        if "answer" in state:  # the vote already gave it
            return {}
        return {"answer": final_answer(state.get("reply", ""), numeric=state["numeric"])}

    async def verify(state: SolverState) -> SolverState:
        async def generate(ctx: AgentContext, last: Attempt[str] | None) -> str:
            if last is None:
                return state["answer"]
            retry = fill(PROMPTS["retry"], feedback=last.feedback)
            messages = [*question_messages(state),
                        {"role": "assistant", "content": f"Answer: {last.value}"},
                        {"role": "user", "content": retry}]
            return final_answer(await chat(messages), numeric=state["numeric"])

        async def check(ctx: AgentContext, answer: str) -> Verdict:
            asked = fill(PROMPTS["verify"], prompt=state["question"], answer=answer)
            return verdict_of(await chat([{"role": "system", "content": PROMPTS["system"]},
                                          {"role": "user", "content": asked}]))

        answer = await verify_and_retry(ctx, generate, check,
                                        attempts=STRATEGY.verify_rounds + 1)
        return {"answer": answer}

    graph = StateGraph(SolverState)
    first = "calculate" if STRATEGY.calculator else "ask"
    if STRATEGY.calculator:
        graph.add_node("calculate", calculate)
        graph.add_edge("calculate", "ask")
    graph.add_node("ask", ask)
    graph.add_node("extract", extract)
    graph.add_edge(START, first)
    graph.add_edge("ask", "extract")
    if STRATEGY.verify_rounds > 0:
        graph.add_node("verify", verify)
        graph.add_edge("extract", "verify")
        graph.add_edge("verify", END)
    else:
        graph.add_edge("extract", END)
    return graph.compile()


async def run(task: TaskView, ctx: AgentContext) -> str:
    numeric = bool(task.metadata.get("numeric_answer", False))
    state: SolverState = {"question": task.prompt, "numeric": numeric}
    final = await build_graph(ctx).ainvoke(state, {"recursion_limit": RECURSION_LIMIT})
    return str(final.get("answer", ""))
