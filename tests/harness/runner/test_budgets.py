"""Token budgets hold, and request parameters are checked, whatever the candidate asks.

The audit's cases: with a budget of 300 an episode used 50,005 input tokens and was still
scored; a negative `max_tokens` on one call raised a concurrent call's allowance to 10^9.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ModelRequestError
from harness.runner.budget import MAX_OUTPUT_TOKENS, TokenBudget, check_params, prompt_estimate
from harness.testing import Reply, ScriptedServer
from task_agents.lib.context import BudgetExceeded
from tests.harness.runner.conftest import evaluate, scripted_config, write_agent, write_benchmark

# The agent keeps going whatever the budget says, and answers correctly at the end.
STUBBORN = """
import asyncio

async def run(task, ctx):
    notes = []
    async def call(content, **params):
        try:
            await ctx.model.chat([{"role": "user", "content": content}], **params)
            notes.append("sent")
        except Exception as error:
            notes.append(type(error).__name__ + ": " + str(error))
    if task.task_id == "huge-usage":
        await call("hi")
        await call("again")
    elif task.task_id == "huge-prompt":
        await call("word " * 50_000)
    elif task.task_id == "negative":
        await asyncio.gather(call("a", max_tokens=-10**9), call("b", max_tokens=100_000))
    elif task.task_id == "bad-types":
        for params in ({"max_tokens": True}, {"max_tokens": 0}, {"temperature": float("nan")},
                       {"top_p": "1"}, {"seed": 1.5},
                       {"max_tokens": 10, "max_completion_tokens": 10}):
            await call("c", **params)
    print("\\n".join(notes))
    ctx.log("\\n".join(notes))
    return "x"
"""


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


async def run_stubborn(tmp_path: Path, task_id: str, responder: Any,
                       budget: int = 300) -> tuple[Any, list[dict[str, Any]]]:
    bench = write_benchmark(tmp_path, [{"task_id": task_id, "prompt": "p", "answer": "x"}])
    agent = write_agent(tmp_path, STUBBORN)
    with ScriptedServer(responder=responder) as server:
        _, by_task = await evaluate(scripted_config(server, token_budget=budget), agent, bench,
                                    tmp_path / "runs")
        return by_task[task_id], list(server.requests)


async def test_an_episode_over_budget_is_failed_even_if_it_answers(tmp_path: Path) -> None:
    episode, sent = await run_stubborn(
        tmp_path, "huge-usage", lambda body: Reply(content="ok", usage=usage(50_000, 5)))
    assert (episode.status, episode.error_kind, episode.passed) == ("failed", "budget", False)
    assert "token budget of 300 exceeded: 50005 tokens used" in (episode.error or "")
    assert len(sent) == 1  # the second call was refused: the budget was already spent


async def test_a_prompt_larger_than_what_is_left_is_never_sent(tmp_path: Path) -> None:
    episode, sent = await run_stubborn(tmp_path, "huge-prompt",
                                       lambda body: Reply(content="ok"))
    assert sent == []
    assert episode.status == "scored"  # nothing was spent; answering without help is allowed


async def test_a_negative_max_tokens_cannot_raise_a_concurrent_allowance(
        tmp_path: Path) -> None:
    episode, sent = await run_stubborn(tmp_path, "negative", lambda body: Reply(content="ok"))
    assert [body["max_tokens"] for body in sent] == [300 - 1]  # the "b" call, clamped
    assert episode.status == "scored"


async def test_bad_parameter_values_are_the_agents_error(tmp_path: Path) -> None:
    episode, sent = await run_stubborn(tmp_path, "bad-types", lambda body: Reply(content="ok"))
    assert sent == [] and episode.status == "scored"


@pytest.mark.parametrize("params", [
    {"max_tokens": -1}, {"max_tokens": 0}, {"max_tokens": True}, {"max_tokens": 1.0},
    {"max_tokens": MAX_OUTPUT_TOKENS + 1}, {"max_completion_tokens": "5"},
    {"max_tokens": 5, "max_completion_tokens": 5}, {"temperature": -0.1},
    {"temperature": math.inf}, {"temperature": math.nan}, {"temperature": False},
    {"top_p": 1.5}, {"top_k": -2}, {"top_k": 2.5}, {"presence_penalty": 3},
    {"frequency_penalty": "0"}, {"seed": True}, {"seed": 2**64}, {"stop": ["x"] * 17},
    {"stop": 5}, {"parallel_tool_calls": 1}, {"response_format": "json"},
    {"reasoning_effort": "max"}, {"thinking": {"type": "enabled", "budget_tokens": -5}},
    {"chat_template_kwargs": []}, {"n": 5}, {"model": "other"},
])
def test_out_of_range_or_mistyped_parameters_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(ModelRequestError):
        check_params(params)


def test_sane_parameters_pass() -> None:
    check_params({"max_tokens": 100, "temperature": 0.7, "top_p": 0.9, "top_k": -1,
                  "presence_penalty": 0, "frequency_penalty": -1.5, "seed": 42,
                  "stop": ["\n\n"], "tool_choice": "auto", "parallel_tool_calls": False,
                  "response_format": {"type": "json_object"}, "reasoning_effort": "low",
                  "thinking": {"type": "enabled", "budget_tokens": 2048},
                  "chat_template_kwargs": {"enable_thinking": False}})
    check_params({"max_completion_tokens": 1, "temperature": None})


def test_concurrent_reservations_never_promise_more_than_is_left() -> None:
    budget = TokenBudget(1000)
    held, params = [], []
    for _ in range(30):  # thirty calls in flight at once, each asking for 100 tokens
        asked: dict[str, Any] = {"max_tokens": 100}
        try:
            held.append(budget.reserve(prompt=20, params=asked))
            params.append(asked)
        except BudgetExceeded:
            pass
    assert sum(held) <= 1000 and all(p["max_tokens"] >= 1 for p in params)
    for amount, asked in zip(held, params, strict=True):  # each reply spends what it held
        budget.release(amount)
        budget.charge(20 + asked["max_tokens"])
    assert budget.used <= 1000 and budget.exceeded is None
    budget.charge(1000)  # a server that ignored max_tokens: over, and remembered
    assert budget.exceeded is not None
    with pytest.raises(BudgetExceeded):
        budget.reserve(prompt=0, params={})


def test_the_prompt_estimate_counts_text_not_structure() -> None:
    short = prompt_estimate([{"role": "user", "content": "hi"}], None)
    long = prompt_estimate([{"role": "user", "content": "word " * 10_000}],
                           [{"name": "f", "description": "d" * 400}])
    assert short <= 2 and 12_000 <= long <= 13_000
