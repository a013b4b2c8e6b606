"""Structured moves on the three starter agents: each produces a candidate that imports and
runs (in-process, traced, against the scripted model server), with the change visible in the
model requests; bad inputs are refused with the candidate untouched; add_demos reads only
the train runs of a view built here from real traced episodes; the markers of the mechanisms
that fired are counted from the real trace store."""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pytest

import task_agents
from harness.models import OpenAIClient
from harness.runner.local import local_context
from harness.runner.results import EpisodeResult, RunResult
from harness.testing import Reply, ScriptedServer
from meta_agent.moves import (
    Arm,
    MoveError,
    NoChange,
    add_block,
    add_demos,
    fired_mechanisms,
    marker_for,
    mechanism_of,
    set_param,
    set_prompt,
)
from task_agents.lib.context import AgentContext, TaskView
from task_agents.lib.strategy import StrategyError
from traces.setup import setup_tracing

AGENTS = Path(task_agents.__file__).resolve().parent
FACTORIAL = {"name": "math.factorial", "description": "n!",
             "parameters": {"type": "object", "properties": {"number": {"type": "integer"}}}}
ADD = 'def add(a, b):\n    """Return a + b.\n    >>> add(2, 3)\n    5\n    """\n'
TASKS = {
    "solver": TaskView(task_id="s", prompt="What is 3 + 4?", metadata={"numeric_answer": True}),
    "coder": TaskView(task_id="k", prompt=ADD, metadata={"entry_point": "add"}),
    "caller": TaskView(task_id="c", category="simple_python", prompt="5!?", tools=[FACTORIAL]),
}
GOOD = {"solver": Reply.text("3 + 4 = 7\nAnswer: 7"),
        "coder": Reply.text("```python\ndef add(a, b):\n    return a + b\n```"),
        "caller": Reply.tool_call("math_factorial", {"number": 5})}


def copy_agent(name: str, tmp_path: Path) -> Path:
    target = tmp_path / f"{name}-{uuid.uuid4().hex[:6]}"
    shutil.copytree(AGENTS / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def load(candidate: Path) -> ModuleType:
    """Import the candidate's agent.py as a fresh package (relative imports work)."""
    package = ModuleType(f"cand_{uuid.uuid4().hex}")
    package.__path__ = [str(candidate)]
    sys.modules[package.__name__] = package
    return importlib.import_module(f"{package.__name__}.agent")


def run(candidate: Path, task: TaskView, server: ScriptedServer, store: Path,
        episode_id: str = "ep") -> Any:
    """One traced episode of the candidate; returns its answer."""
    import asyncio

    module = load(candidate)
    tracing = setup_tracing(store, synchronous=True)

    async def episode() -> Any:
        client = OpenAIClient(server.base_url, "scripted", timeout_s=10, max_retries=0)
        try:
            async with local_context(task, client, tracing=tracing,
                                     episode_id=episode_id) as ctx:
                return await module.run(task, cast(AgentContext, ctx))
        finally:
            await client.aclose()

    try:
        return asyncio.run(episode())
    finally:
        tracing.shutdown()


def digest(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def last_user(request: dict[str, Any]) -> str:
    return str([m for m in request["messages"] if m["role"] == "user"][-1]["content"])


# --- the starter agents' data, and what each move changes in the requests -----------------

@pytest.mark.parametrize("name", list(TASKS))
def test_defaults_send_what_the_plain_agent_sent(name: str, scripted: ScriptedServer,
                                                 tmp_path: Path) -> None:
    scripted.push(GOOD[name])
    run(copy_agent(name, tmp_path), TASKS[name], scripted, tmp_path / "t.sqlite")
    [request] = scripted.requests
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert request["max_tokens"] == (512 if name == "caller" else 2048)
    assert "temperature" not in request
    assert fired_mechanisms(tmp_path / "t.sqlite") == {}


@pytest.mark.parametrize("name", list(TASKS))
def test_set_param_reaches_every_model_call(name: str, scripted: ScriptedServer,
                                            tmp_path: Path) -> None:
    candidate = copy_agent(name, tmp_path)
    result = set_param(candidate, "MODEL_PARAMS.temperature", 0)
    assert result.description == "temperature: unset -> 0" and result.component == "param"
    assert result.arm == Arm("set_param", "temperature=0") and result.marker is None
    set_param(candidate, "max_tokens", 300)
    scripted.push(GOOD[name])
    run(candidate, TASKS[name], scripted, tmp_path / "t.sqlite")
    assert (scripted.requests[0]["temperature"], scripted.requests[0]["max_tokens"]) == (0, 300)
    with pytest.raises(NoChange, match="already 0"):
        set_param(candidate, "temperature", 0.0)


def test_recursion_limit_is_a_constant_of_the_module(tmp_path: Path) -> None:
    candidate = copy_agent("solver", tmp_path)
    set_param(candidate, "RECURSION_LIMIT", 25)
    assert load(candidate).RECURSION_LIMIT == 25


@pytest.mark.parametrize("name", ["solver", "caller"])
def test_votes_make_k_calls_and_take_the_majority(name: str, scripted: ScriptedServer,
                                                  tmp_path: Path) -> None:
    candidate = copy_agent(name, tmp_path)
    result = add_block(candidate, "self_consistency", {"k": 3})
    assert result.arm == Arm("add_block", "votes=3") and result.component == "graph"
    if name == "solver":
        scripted.push(Reply.text("Answer: 7"), Reply.text("Answer: 8"), Reply.text("so 7"))
        expected: Any = "7"
    else:
        scripted.push(Reply.tool_call("math_factorial", {"number": 5}),
                      Reply.tool_call("math_factorial", {"number": 6}),
                      Reply.tool_call("math_factorial", {"number": 5}))
        expected = [{"name": "math.factorial", "arguments": {"number": 5}}]
    assert run(candidate, TASKS[name], scripted, tmp_path / "t.sqlite") == expected
    assert len(scripted.requests) == 3
    fired = fired_mechanisms(tmp_path / "t.sqlite")
    assert fired["vote"] == 1 and fired["fanout"] == 1
    assert mechanism_of(result.mechanism) == "vote"


def test_solver_verify_sends_the_check_back(scripted: ScriptedServer, tmp_path: Path) -> None:
    candidate = copy_agent("solver", tmp_path)
    add_block(candidate, "verify", {"rounds": 1})
    scripted.push(Reply.text("Answer: 8"), Reply.text("3 + 4 is 7.\nVerdict: wrong"),
                  Reply.text("Answer: 7"), Reply.text("Verdict: correct"))
    assert run(candidate, TASKS["solver"], scripted, tmp_path / "t.sqlite") == "7"
    checks = [last_user(r) for r in scripted.requests]
    assert "Proposed answer: 8" in checks[1] and "3 + 4 is 7." in checks[2]
    assert fired_mechanisms(tmp_path / "t.sqlite")["verify"] == 2


def test_coder_verify_runs_the_docstring_examples(scripted: ScriptedServer,
                                                  tmp_path: Path) -> None:
    candidate = copy_agent("coder", tmp_path)
    add_block(candidate, "verify", {})
    scripted.push(Reply.text("```python\ndef add(a, b):\n    return a - b\n```"), GOOD["coder"])
    answer = run(candidate, TASKS["coder"], scripted, tmp_path / "t.sqlite")
    assert answer == "def add(a, b):\n    return a + b\n"
    assert "1 of 1 examples failed" in last_user(scripted.requests[1])
    fired = fired_mechanisms(tmp_path / "t.sqlite")
    assert fired["verify"] == 2 and fired["tool:run_tests"] == 2


def test_solver_calculator_gives_the_printout_to_the_model(scripted: ScriptedServer,
                                                           tmp_path: Path) -> None:
    candidate = copy_agent("solver", tmp_path)
    assert add_block(candidate, "calculator").marker == "calculator"
    scripted.push(Reply.text("```python\n3 + 4\n```"), Reply.text("Answer: 7"))
    assert run(candidate, TASKS["solver"], scripted, tmp_path / "t.sqlite") == "7"
    assert "evaluated `3 + 4` and printed: 7" in last_user(scripted.requests[1])
    fired = fired_mechanisms(tmp_path / "t.sqlite")
    assert fired["calculator"] == 1 and fired["tool:run_python"] == 1


def test_set_prompt_replaces_the_text_the_model_sees(scripted: ScriptedServer,
                                                     tmp_path: Path) -> None:
    candidate = copy_agent("solver", tmp_path)
    result = set_prompt(candidate, "user", "Q: {prompt}\nEnd with `Answer: <n>`.",
                        label="terse")
    assert result.arm == Arm("set_prompt", "user+terse") and result.component == "prompt"
    scripted.push(GOOD["solver"])
    run(candidate, TASKS["solver"], scripted, tmp_path / "t.sqlite")
    assert last_user(scripted.requests[0]) == "Q: What is 3 + 4?\nEnd with `Answer: <n>`."


# --- refusals: a clear message, and the candidate untouched --------------------------------

REFUSED: list[tuple[str, Callable[[Path], object], str]] = [
    ("unknown param", lambda c: set_param(c, "temprature", 0), "unknown name 'temprature'"),
    ("string for float", lambda c: set_param(c, "temperature", "0.5"), "valid number"),
    ("out of range", lambda c: set_param(c, "temperature", 5), "less than or equal to 2"),
    ("bool for int", lambda c: set_param(c, "votes", True), "valid integer"),
    ("undeclared key", lambda c: set_param(c, "steps_per_turn", 2), "declares no"),
    ("demos beyond file", lambda c: set_param(c, "demos", 2), "only 0 demonstrations"),
    ("unknown prompt", lambda c: set_prompt(c, "sistem", "x"), "its prompts are: calculator"),
    ("placeholder dropped", lambda c: set_prompt(c, "user", "Solve it."), "drops {prompt}"),
    ("empty prompt", lambda c: set_prompt(c, "system", "  "), "text is empty"),
    ("unknown block", lambda c: add_block(c, "critic"), "unknown kind 'critic'"),
    ("bad option", lambda c: add_block(c, "votes", {"k": 1}), "from 2 to 16"),
    ("unknown option", lambda c: add_block(c, "verify", {"n": 2}), "takes only 'rounds'"),
    ("fanout", lambda c: add_block(c, "fanout"), "needs code"),
    ("bad k", lambda c: add_demos(c, c, 0), "from 1 to 32"),
    ("no material", lambda c: add_demos(c, c, 2), "no solved train episode"),
]


@pytest.mark.parametrize(("case", "move", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_bad_moves_are_refused_and_change_nothing(case: str, move: Callable[[Path], object],
                                                  message: str, tmp_path: Path) -> None:
    candidate = copy_agent("solver", tmp_path)
    before = digest(candidate)
    with pytest.raises(MoveError, match=message.replace("{", r"\{").replace("}", r"\}")):
        move(candidate)
    assert digest(candidate) == before


def test_votes_at_temperature_zero_and_agents_without_data_are_refused(tmp_path: Path) -> None:
    candidate = copy_agent("solver", tmp_path)
    set_param(candidate, "temperature", 0)
    with pytest.raises(MoveError, match="every sample would be the same"):
        add_block(candidate, "votes", {"k": 3})
    with pytest.raises(MoveError, match="declares no 'verify_rounds'"):
        add_block(copy_agent("caller", tmp_path), "verify")
    (candidate / "strategy.json").unlink()
    with pytest.raises(MoveError, match=r"no strategy\.json"):
        set_param(candidate, "temperature", 0.5)


def test_links_planted_in_the_candidate_cannot_redirect_a_move(tmp_path: Path) -> None:
    candidate = copy_agent("solver", tmp_path)
    outside = tmp_path / "outside.json"
    outside.write_text((candidate / "strategy.json").read_text())
    (candidate / "strategy.json").unlink()
    (candidate / "strategy.json").symlink_to(outside)
    with pytest.raises(MoveError, match="points outside the candidate"):
        set_param(candidate, "temperature", 0)
    (candidate / "strategy.json").unlink()
    (candidate / "strategy.json").write_text(outside.read_text())
    (candidate / ".strategy.json.tmp").symlink_to(outside)  # the temp name, planted
    set_param(candidate, "temperature", 0)
    assert "temperature" not in outside.read_text()
    assert json.loads((candidate / "strategy.json").read_text())["model_params"][
        "temperature"] == 0


def test_a_broken_strategy_file_fails_the_import_with_its_field(tmp_path: Path) -> None:
    candidate = copy_agent("solver", tmp_path)
    (candidate / "strategy.json").write_text('{"votes": 0}')
    with pytest.raises(StrategyError, match=r"strategy\.json: votes: Input should be greater"):
        load(candidate)


def test_mechanism_of_maps_arms_to_markers() -> None:
    assert mechanism_of("vote of 5 [arm add_block:votes=5]") == "vote"
    assert mechanism_of("x [arm set_param:verify_rounds=2]") == "verify"
    assert mechanism_of("x [arm set_param:verify_rounds=0]") is None
    assert mechanism_of("x [arm set_param:calculator=true]") == "calculator"
    assert mechanism_of("x [arm add_demos:4]") == "demos"
    assert mechanism_of("greedy [arm set_param:temperature=0]") is None
    assert mechanism_of("free text naming mechanism:verify") == "verify"
    assert mechanism_of("free text") is None
    assert marker_for(Arm("set_param", "votes=1")) is None


# --- add_demos: bootstrapped from real traced TRAIN episodes of a view ---------------------

def build_view(name: str, tmp_path: Path, scripted: ScriptedServer) -> Path:
    """A view whose experiment 0 train run holds 3 solved episodes and 1 failed one, and a
    planted non-train run (held_out/) whose passed episode must never become a demo."""
    view = tmp_path / "view"
    baseline = copy_agent(name, tmp_path)
    runs = {"train": [("q1", True), ("q2", True), ("q3", False), ("q4", True)],
            "held_out": [("SECRET", True)]}
    for split, items in runs.items():
        folder = view / "experiments" / "0000" / split
        folder.mkdir(parents=True)
        episodes = []
        for question, passed in items:
            task = TASKS[name].model_copy(update={"prompt": f"{question}: {TASKS[name].prompt}",
                                                  "task_id": question})
            scripted.push(GOOD[name] if name != "solver" else Reply.text(f"Answer: {question}"))
            run(baseline, task, scripted, folder / "traces.sqlite", episode_id=question)
            episodes.append(EpisodeResult(task_id=question, episode_id=question, status="scored",
                                          passed=passed, score=float(passed)))
        RunResult(run_id=split, agent=name, agent_sha256="", benchmark="b", split=split,
                  model="scripted", trials=1, started_at=datetime.now(UTC),
                  episodes=episodes).save(folder / "results.json")
    scripted.requests.clear()
    return view


@pytest.mark.parametrize("name", list(TASKS))
def test_add_demos_bootstraps_solved_train_episodes(name: str, scripted: ScriptedServer,
                                                    tmp_path: Path) -> None:
    view = build_view(name, tmp_path, scripted)
    candidate = copy_agent(name, tmp_path)
    result = add_demos(candidate, view, 2, parent="exp-0000", seed=1)
    assert result.arm == Arm("add_demos", "2") and result.marker == "demos"
    demos = json.loads((candidate / "demos.json").read_text())
    assert json.loads((candidate / "strategy.json").read_text())["demos"] == 2
    stored = json.dumps(demos)
    assert len(demos) == 2 and "SECRET" not in stored and "q3" not in stored
    assert set(demos[0]) == {"user", "assistant"}
    assert add_demos(candidate, view, 2, parent="exp-0000", seed=1).description.startswith(
        "add 1 demonstrations")  # only q1, q2, q4 passed: one is left
    with pytest.raises(MoveError, match="no solved train episode"):
        add_demos(candidate, view, 1, parent="exp-0000")

    scripted.push(GOOD[name])
    run(candidate, TASKS[name], scripted, tmp_path / "t.sqlite")
    messages = scripted.requests[0]["messages"]
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * 3 + ["user"]
    first = json.loads((candidate / "demos.json").read_text())[0]
    assert messages[1]["content"] == first["user"] and messages[2]["content"] == first["assistant"]
    if name == "caller":
        assert first["assistant"].startswith('<tool_call>{"name": "math_factorial"')
    if name == "solver":
        assert first["user"].endswith("`Answer: <answer>`.") and first["assistant"] in {
            "Answer: q1", "Answer: q2", "Answer: q4"}
    assert fired_mechanisms(tmp_path / "t.sqlite")["demos"] == 1


def test_add_demos_is_seeded(scripted: ScriptedServer, tmp_path: Path) -> None:
    view = build_view("solver", tmp_path, scripted)
    chosen = []
    for _ in range(2):
        candidate = copy_agent("solver", tmp_path)
        add_demos(candidate, view, 2, parent="exp-0000", seed=7)
        chosen.append((candidate / "demos.json").read_text())
    assert chosen[0] == chosen[1]
