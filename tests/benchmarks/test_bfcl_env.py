"""BfclEnvironment: live simulated APIs per episode, isolated, refusing foreign calls."""

from __future__ import annotations

from benchmarks._bfcl_checker import multi_turn_utils
from benchmarks.bfcl import BFCL

TASK = "multi_turn_base_0"


async def test_calls_change_state_and_episodes_are_isolated() -> None:
    bench = BFCL(("multi_turn_base", "simple_python"))
    task = bench.task(TASK)
    first, second = bench.environment(task), bench.environment(task)
    assert first is not None and second is not None
    assert await first.call("cd", {"folder": "document"}) == (
        True, '{"current_working_directory": "document"}')
    ok, listing = await first.call("ls", {})
    ok2, fresh_listing = await second.call("ls", {})
    assert ok and ok2 and listing != fresh_listing  # the second starts from the task's root
    first.close()
    second.close()
    assert not [k for k in vars(multi_turn_utils) if "harness_env_" in k]
    assert bench.environment(bench.task("simple_python_0")) is None


async def test_foreign_or_malformed_calls_are_refused() -> None:
    bench = BFCL(("multi_turn_base",))
    env = bench.environment(bench.task(TASK))
    assert env is not None
    ok, why = await env.call("__import__", {"name": "os"})
    assert not ok and "unknown function" in why
    ok, why = await env.call("cd", {"folder); import os; (": "x"})
    assert not ok and "not an identifier" in why
    env.close()
