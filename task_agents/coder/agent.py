"""Coder: HumanEval-style function completion. A deliberately plain starter whose wiring
points are data (`strategy.json`).

Graph: generate (one model call with the signature and docstring) -> extract (the code in
the reply) -> [verify]. The strategy can add `demos: k` (the first k demonstrations of
`demos.json` as earlier chat turns) and `verify_rounds: r` (run the docstring's `>>>`
examples against the answer with `run_tests`; on a failure, show the model the output and
ask again, up to r times).
Answer: Python source, the whole function definition when the reply has one (the scorer
puts the task's prompt, with its imports, in front), else the reply's code indented as the
function's body. Garbage in gives a best-effort string, never an exception.
"""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from task_agents.lib.answers import defines, extract_code
from task_agents.lib.context import AgentContext, TaskView, ToolResult
from task_agents.lib.mechanisms import mark
from task_agents.lib.prompts import fill, load_prompts
from task_agents.lib.strategy import demo_turns, load_demos, load_strategy
from task_agents.lib.tools import run_tests
from task_agents.lib.verify import Attempt, verify_and_retry

PROMPTS = load_prompts(__file__)
STRATEGY = load_strategy(__file__)
MODEL_PARAMS: dict[str, Any] = STRATEGY.params()
RECURSION_LIMIT = STRATEGY.recursion_limit
DEMOS = load_demos(__file__, STRATEGY.demos)
# Runs the `>>>` examples of the task's prompt against the functions defined above it.
_DOCTEST = """
import doctest as _doctest
_examples = _doctest.DocTestParser().get_doctest({prompt!r}, globals(), "examples", None, 0)
_runner = _doctest.DocTestRunner(optionflags=_doctest.NORMALIZE_WHITESPACE)
_runner.run(_examples)
if _runner.failures:
    raise SystemExit(f"{{_runner.failures}} of {{_runner.tries}} examples failed")
"""


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


def task_messages(state: CoderState) -> list[dict[str, str]]:
    return [{"role": "system", "content": PROMPTS["system"]}, *demo_turns(DEMOS),
            {"role": "user", "content": fill(PROMPTS["user"], prompt=state["prompt"])}]


def program_of(prompt: str, answer: str, entry_point: str) -> str:
    """The answer as the scorer assembles it: the prompt (imports, stub) and then the answer."""
    if entry_point and defines(answer, entry_point):
        return f"{prompt}\n    pass\n\n{answer}"
    return prompt + answer


def build_graph(ctx: AgentContext) -> Any:
    async def chat(messages: list[dict[str, str]]) -> str:
        result = await ctx.model.chat(messages, **MODEL_PARAMS)
        return result.text or result.reasoning_text

    def answer_of(state: CoderState, reply: str) -> str:
        code = extract_code(reply, state["entry_point"] or None)
        return as_answer(code, state["entry_point"])

    async def generate(state: CoderState) -> CoderState:
        if DEMOS:
            mark(ctx, "demos", f"{len(DEMOS)} demonstrations")
        return {"reply": await chat(task_messages(state))}

    def extract(state: CoderState) -> CoderState:
        return {"answer": answer_of(state, state.get("reply", ""))}

    async def verify(state: CoderState) -> CoderState:
        async def retry(ctx: AgentContext, last: Attempt[str] | None) -> str:
            if last is None:
                return state["answer"]
            messages = [*task_messages(state), {"role": "assistant", "content": last.value},
                        {"role": "user", "content": fill(PROMPTS["retry"],
                                                         feedback=last.feedback[-2000:])}]
            return answer_of(state, await chat(messages))

        async def examples(ctx: AgentContext, answer: str) -> ToolResult:
            program = program_of(state["prompt"], answer, state["entry_point"])
            return await run_tests(ctx, program, _DOCTEST.format(prompt=state["prompt"]))

        answer = await verify_and_retry(ctx, retry, examples,
                                        attempts=STRATEGY.verify_rounds + 1)
        return {"answer": answer}

    graph = StateGraph(CoderState)
    graph.add_node("generate", generate)
    graph.add_node("extract", extract)
    graph.add_edge(START, "generate")
    graph.add_edge("generate", "extract")
    if STRATEGY.verify_rounds > 0:
        graph.add_node("verify", verify)
        graph.add_edge("extract", "verify")
        graph.add_edge("verify", END)
    else:
        graph.add_edge("extract", END)
    return graph.compile()


async def run(task: TaskView, ctx: AgentContext) -> str:
    state: CoderState = {"prompt": task.prompt, "entry_point": entry_point_of(task)}
    final = await build_graph(ctx).ainvoke(state, {"recursion_limit": RECURSION_LIMIT})
    return str(final.get("answer", ""))
