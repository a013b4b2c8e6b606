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


async def test_a_runaway_call_is_killed_without_stalling_the_harness() -> None:
    import asyncio
    import time

    bench = BFCL(("multi_turn_base",))
    env = bench.environment(bench.task("multi_turn_base_15"))  # involves MathAPI
    assert env is not None
    env.timeout_s = 2.0
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.1)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    started = time.monotonic()
    ok, why = await env.call("power", {"base": 10, "exponent": 30_000_000})
    elapsed = time.monotonic() - started
    beat.cancel()
    assert not ok and "ran over 2 s" in why
    assert elapsed < 10 and ticks >= 10  # the event loop kept running meanwhile
    ok, why = await env.call("add", {"a": 1, "b": 2})
    assert not ok and "not available" in why
    env.close()


async def test_absurdly_nested_answers_score_zero() -> None:
    bench = BFCL(("simple_python", "multi_turn_base"))
    for task_id in ("simple_python_0", TASK):
        score = await bench.score(bench.task(task_id), "[" * 5000)
        assert (score.value, score.detail) == (0.0, "answer format: answer is nested too deeply")
