"""The starter agents, driven by scripted replies: right answer forms, and no crash on garbage.

Hand-made tasks check each agent's logic; a few real benchmark tasks check that the answers
score through the benchmarks' own scorers (gold turned into scripted model replies).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from benchmarks.base import Task
from benchmarks.bfcl import BFCL
from benchmarks.humaneval import HumanEval, build_program
from benchmarks.reasoning import ReasoningGym
from harness.testing import Reply, ScriptedServer
from task_agents.caller import agent as caller
from task_agents.coder import agent as coder
from task_agents.lib.context import AgentContext, TaskView
from task_agents.solver import agent as solver

Episode = Callable[..., Awaitable[Any]]  # the `episode` fixture (tests/task_agents/conftest.py)

ADD_PROMPT = ('def add(a: int, b: int) -> int:\n    """Return a + b.\n    >>> add(2, 3)\n'
              '    5\n    """\n')
ADD_TASK = TaskView(benchmark="hand", task_id="add", prompt=ADD_PROMPT,
                    metadata={"entry_point": "add"})
FACTORIAL = {"name": "math.factorial", "description": "n!",
             "parameters": {"type": "object", "properties": {"number": {"type": "integer"}},
                            "required": ["number"]}}
SINGLE = TaskView(benchmark="hand", task_id="fact", category="simple_python",
                  prompt="What is 5 factorial?",
                  turns=[[{"role": "user", "content": "What is 5 factorial?"}]], tools=[FACTORIAL])


async def run_agent(episode: Episode, module: Any, task: TaskView | Task) -> Any:
    view = TaskView.model_validate(task.model_dump())

    async def body(ctx: AgentContext) -> Any:
        return await module.run(view, ctx)

    return await episode(body, task=view)


def user_text(request: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content")) for m in request["messages"] if m["role"] == "user")


# --- coder ---------------------------------------------------------------------------------

async def test_coder_returns_the_whole_function(scripted: ScriptedServer,
                                                episode: Episode) -> None:
    scripted.push(Reply.text("Sure.\n```python\ndef add(a: int, b: int) -> int:\n"
                             "    return a + b\n```\nDone."))
    answer = await run_agent(episode, coder, ADD_TASK)
    assert answer == "def add(a: int, b: int) -> int:\n    return a + b\n"
    assert ADD_PROMPT.strip() in user_text(scripted.requests[0])
    namespace: dict[str, Any] = {}
    exec(build_program({"prompt": ADD_PROMPT, "entry_point": "add",  # our own code
                        "test": "def check(f):\n    assert f(2, 3) == 5"}, answer), namespace)


@pytest.mark.parametrize("form", ["fenced function", "bare body"])
async def test_coder_answer_scores_on_humaneval(form: str, scripted: ScriptedServer,
                                                episode: Episode) -> None:
    bench = HumanEval()
    task = bench.task("HumanEval/0")
    body = bench.reference_answer("HumanEval/0")
    reply = f"```python\n{task.prompt}{body}```" if form == "fenced function" else body
    scripted.push(Reply.text(reply))
    answer = await run_agent(episode, coder, task)
    assert (await bench.score(task, answer)).passed


@pytest.mark.parametrize("reply", ["I cannot help with that.", "", "```\n```", "<think>hmm"])
async def test_coder_survives_garbage(reply: str, scripted: ScriptedServer,
                                      episode: Episode) -> None:
    scripted.push(Reply.text(reply))
    answer = await run_agent(episode, coder, ADD_TASK)
    assert isinstance(answer, str)
    assert not answer.strip() or answer.startswith("    ")  # garbage goes in as the body


# --- caller --------------------------------------------------------------------------------

async def test_caller_native_call_with_dotted_name(scripted: ScriptedServer,
                                                   episode: Episode) -> None:
    scripted.push(Reply.tool_call("math_factorial", {"number": 5}))
    answer = await run_agent(episode, caller, SINGLE)
    assert answer == [{"name": "math.factorial", "arguments": {"number": 5}}]
    request = scripted.requests[0]
    assert [t["function"]["name"] for t in request["tools"]] == ["math_factorial"]
    assert request["messages"][0]["role"] == "system"


async def test_caller_text_protocol_fallback_and_no_call(scripted: ScriptedServer,
                                                         episode: Episode) -> None:
    scripted.push(Reply.text('<tool_call>{"name": "math.factorial", "arguments": {"number": 5}}'
                             "</tool_call><tool_call>{'name': 'math_factorial', 'arguments': "
                             "{'number': 6}}</tool_call>"))
    assert await run_agent(episode, caller, SINGLE) == [
        {"name": "math.factorial", "arguments": {"number": 5}},
        {"name": "math.factorial", "arguments": {"number": 6}}]
    scripted.push(Reply.text('Calling {"name": "math.factorial", "arguments": {"number": 7}}'))
    assert await run_agent(episode, caller, SINGLE) == [
        {"name": "math.factorial", "arguments": {"number": 7}}]
    scripted.push(Reply.text("None of the functions can help."))
    assert await run_agent(episode, caller, SINGLE) == []


async def test_caller_survives_garbage(scripted: ScriptedServer, episode: Episode) -> None:
    scripted.push(Reply.tool_call("math_factorial", "{number: five"))
    assert await run_agent(episode, caller, SINGLE) == [
        {"name": "math.factorial", "arguments": {}}]
    scripted.push(Reply.text("<tool_call>{{{{</tool_call> [1, 2] {broken"))
    assert await run_agent(episode, caller, SINGLE) == []


async def test_caller_multi_turn_collects_calls_per_turn(scripted: ScriptedServer,
                                                         episode: Episode) -> None:
    extra = {"name": "log", "description": "write a log line",
             "parameters": {"type": "object", "properties": {"text": {"type": "string"}}}}
    task = TaskView(task_id="mt", category="multi_turn_miss_func", prompt="first",
                    turns=[[{"role": "user", "content": "first"}], [],
                           [{"role": "user", "content": "third"}]],
                    tools=[FACTORIAL], metadata={"tools_added_at_turn": {"1": [extra]}})
    scripted.push(Reply.tool_calls_of([("math_factorial", {"number": 3}),
                                       ("math_factorial", {"number": 4})]),
                  Reply.text("Both computed."),  # the turn ends when no call is made
                  Reply.tool_call("log", {"text": "hi"}),  # an empty turn that adds a tool
                  Reply.text("Logged."),
                  Reply.text("All done."))
    answer = await run_agent(episode, caller, task)
    assert answer == [
        [{"name": "math.factorial", "arguments": {"number": 3}},
         {"name": "math.factorial", "arguments": {"number": 4}}],
        [{"name": "log", "arguments": {"text": "hi"}}],
        [],
    ]
    requests = scripted.requests
    assert [len(r["tools"]) for r in requests] == [1, 1, 2, 2, 2]
    assert [m["role"] for m in requests[1]["messages"]] == ["system", "user", "assistant",
                                                            "tool", "tool"]
    # No environment in this episode: the agent is told so, and goes on.
    assert "no environment" in requests[1]["messages"][-1]["content"]
    assert requests[4]["messages"][-1] == {"role": "user", "content": "third"}


@pytest.mark.parametrize("task_id", ["simple_python_1", "multi_turn_base_0"])
async def test_caller_answer_scores_on_bfcl(task_id: str, scripted: ScriptedServer,
                                            episode: Episode) -> None:
    bench = BFCL(("simple_python", "multi_turn_base"))
    task = bench.task(task_id)
    gold = bench.reference_answer(task_id)
    multi = task_id.startswith("multi")
    for turn in gold if multi else [gold]:
        calls = [(c["name"].replace(".", "_"), c["arguments"]) for c in turn]
        scripted.push(Reply.tool_calls_of(calls) if calls else Reply.text("nothing to do"))
        if calls and multi:
            scripted.push(Reply.text("done with this turn"))
    answer = await run_agent(episode, caller, task)
    assert answer == gold
    assert (await bench.score(task, answer)).passed


# --- solver --------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "reply"), [
    ("arithmetic", "2 / 2 is one.\nAnswer: 1"),
    ("knights-knaves", "Both lie.\nAnswer: Elizabeth is a villain, and Evelyn is a villain."),
    ("countdown", "Try: <answer>34 + 45 + 51 - 6 - 14</answer>"),
])
async def test_solver_answer_scores_on_reasoning_gym(name: str, reply: str,
                                                     scripted: ScriptedServer,
                                                     episode: Episode) -> None:
    bench = ReasoningGym(name)
    task = bench.task(bench.index()[0].task_id)
    scripted.push(Reply.text(reply))
    answer = await run_agent(episode, solver, task)
    assert answer == bench.reference_answer(task.task_id)
    assert (await bench.score(task, answer)).passed
    assert task.prompt in user_text(scripted.requests[0])


async def test_solver_numeric_reasoning_only_and_garbage(scripted: ScriptedServer,
                                                         episode: Episode) -> None:
    numeric = TaskView(task_id="n", prompt="2+2?", metadata={"numeric_answer": True})
    scripted.push(Reply.text("It is 2 + 2 = 4 apples."),
                  Reply.text("", reasoning="2 and 2 make 4.\nAnswer: 4"),
                  Reply.text(""),
                  Reply.text("Answer:"))
    answers = [await run_agent(episode, solver, numeric) for _ in range(4)]
    assert answers == ["4", "4", "", "Answer:"]
