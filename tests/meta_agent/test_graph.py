"""The meta-agent's tool loop ends honestly: submitted, quiet, looping, truncated, steps;
and walks a quiet small model through a forced move and submission."""

from __future__ import annotations

from typing import Any

from harness.models.openai_client import OpenAIClient
from harness.models.types import Message
from harness.runner.local import local_context
from harness.testing import Reply, ScriptedServer
from meta_agent.graph import build_loop
from meta_agent.toolbox import ToolSet, _spec
from task_agents.lib.context import TaskView

SPECS = [_spec("look", "Look.", {"what": {"type": "string"}}),
         _spec("set_param", "Set.", {"name": {"type": "string"}, "value": {}}),
         _spec("submit", "Submit.", {"description": {"type": "string"}})]


async def _run(server: ScriptedServer, *, force: tuple[str, ...] = (),
               max_steps: int = 10) -> tuple[dict[str, Any], list[str]]:
    done: list[str] = []

    def tool(name: str):  # type: ignore[no-untyped-def]
        def call(**arguments: Any) -> str:
            done.append(name)
            return "submitted" if name == "submit" else f"{name} ok"
        return call

    client = OpenAIClient(base_url=server.base_url, model="scripted", max_retries=0)
    tools = ToolSet({spec["name"]: tool(spec["name"]) for spec in SPECS})
    async with local_context(TaskView(task_id="meta", prompt="p"), client, tools=tools) as ctx:
        graph = build_loop(ctx, SPECS, max_steps=max_steps, force=force)
        state = await graph.ainvoke({"messages": [Message(role="user", content="go")]})
    await client.aclose()
    return state, done


async def test_submit_ends_the_session() -> None:
    with ScriptedServer([Reply.tool_call("look", {"what": "x"}),
                         Reply.tool_call("submit", {"description": "d"})]) as server:
        state, done = await _run(server)
    assert state["end"] == "submitted" and done == ["look", "submit"]
    assert state["calls"] == {"look": 1, "submit": 1}


async def test_a_quiet_model_ends_after_a_nudge() -> None:
    with ScriptedServer([Reply.text("I think"), Reply.text("still thinking")]) as server:
        state, done = await _run(server)
        assert "Call one of the tools" in str(server.requests[1]["messages"][-1])
    assert state["end"] == "quiet" and done == [] and state["steps"] == 2


async def test_a_quiet_model_is_walked_through_the_force_plan() -> None:
    def respond(body: dict[str, Any]) -> Reply:
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            name = choice["function"]["name"]
            args = {"name": "temperature", "value": 0} if name == "set_param" else {
                "description": "greedy"}
            return Reply.tool_call(name, args)
        return Reply.text("I am a small model")

    with ScriptedServer(responder=respond) as server:
        state, done = await _run(server, force=("set_param", "submit"))
        forced = [r for r in server.requests if isinstance(r.get("tool_choice"), dict)]
    assert state["end"] == "submitted" and done == ["set_param", "submit"]
    assert [r["tool_choice"]["function"]["name"] for r in forced] == ["set_param", "submit"]
    assert all(len(r["tools"]) == 1 for r in forced)  # only the named tool is offered


async def test_the_same_call_three_times_is_looping() -> None:
    with ScriptedServer(responder=lambda body: Reply.tool_call("look", {"what": "x"})) as server:
        state, done = await _run(server)
    assert state["end"] == "looping" and done == ["look", "look"]


async def test_truncated_replies_end_the_session() -> None:
    cut = Reply(content="a very long", finish_reason="length")
    with ScriptedServer([cut, Reply(content="another", finish_reason="length")]) as server:
        state, _ = await _run(server)
    assert state["end"] == "truncated"


async def test_the_step_limit_holds() -> None:
    calls = iter(range(100))
    with ScriptedServer(responder=lambda body: Reply.tool_call(
            "look", {"what": str(next(calls))})) as server:
        state, done = await _run(server, max_steps=4)
    assert state["end"] == "steps" and len(done) == 4
