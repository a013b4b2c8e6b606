"""`add_demos(k)`: few-shot demonstrations bootstrapped from the agent's own solved TRAIN
episodes, as DSPy's BootstrapFewShot does: the user turn it was given and the reply that
scored, read from the workspace view (`experiments/NNNN/train/results.json` for what passed,
`traces.sqlite` beside it for what was said). Only `train/` folders of the view are read;
the view itself never holds held-out or sealed material.

Demonstrations are appended to the candidate's `demos.json` (no task ids, only the two
texts) and `strategy.json`'s `demos` is set to their number, so the agent sends them as
earlier chat turns. The parent's own train run is used first, then the other experiments,
newest first; which k is a seeded choice (the same seed gives the same demonstrations).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from meta_agent.moves._candidate import (
    PROMPTS_DIR,
    MoveError,
    read_demos,
    read_strategy_data,
    validate_strategy,
    write_json,
)
from meta_agent.moves.arms import Arm, MoveResult
from task_agents.lib.strategy import DEMOS_FILE, MAX_DEMO_CHARS, MAX_DEMOS, STRATEGY_FILE
from traces import conventions as c
from traces.store import TraceStore

Demo = dict[str, str]


def train_runs(view: Path, parent: str | None) -> list[Path]:
    """The view's train run folders: the parent's first, then the others newest first."""
    root = view.resolve()
    folder = root / "experiments"
    if not folder.is_dir():
        return []
    numbered = sorted((d for d in folder.iterdir() if re.fullmatch(r"\d{1,6}", d.name)),
                      key=lambda d: int(d.name), reverse=True)
    own = re.fullmatch(r"exp-(\d{1,6})", parent or "")
    if own:
        numbered.sort(key=lambda d: int(d.name) != int(own.group(1)))  # stable: parent first
    runs = [d / "train" for d in numbered]
    return [run for run in runs if run.resolve().is_relative_to(root)
            and (run / "results.json").is_file() and (run / "traces.sqlite").is_file()]


def passed_episodes(run: Path) -> list[str]:
    try:
        data = json.loads((run / "results.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    episodes = data.get("episodes") if isinstance(data, dict) else None
    return [str(e["episode_id"]) for e in episodes or [] if isinstance(e, dict)
            and e.get("passed") is True and e.get("status") == "scored" and e.get("episode_id")]


def _decoded(value: Any) -> list[Any]:
    try:
        decoded = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:  # a clipped or dropped record: not usable
        return []
    return decoded if isinstance(decoded, list) else []


def _text(parts: Any) -> str:
    return "".join(str(p.get("content", "")) for p in parts or []
                   if isinstance(p, dict) and p.get("type") == "text")


def _reply(parts: Any) -> str:
    """The reply's text, with any tool calls written in the `<tool_call>` text protocol."""
    calls = [p for p in parts or [] if isinstance(p, dict) and p.get("type") == "tool_call"]
    bodies = [json.dumps({"name": p.get("name"), "arguments": p.get("arguments")},
                         ensure_ascii=False) for p in calls]
    blocks = [f"<tool_call>{body}</tool_call>" for body in bodies]
    return "\n".join(part for part in (_text(parts).strip(), *blocks) if part)


def chat_turns(store: TraceStore, episode_id: str) -> list[Demo]:
    """(last user turn, reply) of every model call of an episode, in order."""
    turns: list[Demo] = []
    for span in store.spans(episode_id):
        if span.operation != c.OP_CHAT:
            continue
        sent = _decoded(span.attributes.get(c.GEN_AI_INPUT_MESSAGES))
        got = _decoded(span.attributes.get(c.GEN_AI_OUTPUT_MESSAGES))
        if not sent or not got or not isinstance(sent[-1], dict) or sent[-1].get("role") != "user":
            continue
        user, reply = _text(sent[-1].get("parts")).strip(), _reply(got[0].get("parts")).strip()
        if user and reply:
            turns.append({"user": user, "assistant": reply})
    return turns


def template_pattern(candidate: Path) -> re.Pattern[str] | None:
    """The agent's user prompt as a pattern, to find the call that answered the question (not
    a calculator step or a verification); None when the agent has no user template."""
    path = candidate / PROMPTS_DIR / "user.md"
    if not path.is_file():
        return None
    template = path.read_text(encoding="utf-8").strip()
    if "{prompt}" not in template:
        return None
    head, _, tail = template.partition("{prompt}")
    return re.compile(re.escape(head) + r".+?" + re.escape(tail[:200]), re.DOTALL)


def episode_demo(turns: list[Demo], pattern: re.Pattern[str] | None) -> Demo | None:
    """The answering call's turn: the last one whose user turn fits the template (without a
    template: the last one asking the first call's question)."""
    if not turns:
        return None
    if pattern is None:
        same = [t for t in turns if t["user"] == turns[0]["user"]]
    else:
        same = [t for t in turns if pattern.match(t["user"])]
    return same[-1] if same else None


def bootstrap(view: Path, candidate: Path, parent: str | None, seed: int) -> list[Demo]:
    """Every usable demonstration in the view, the parent's first, seeded order within a run."""
    pattern = template_pattern(candidate)
    rng = random.Random(seed)
    found: list[Demo] = []
    for run in train_runs(view, parent):
        with TraceStore(run / "traces.sqlite") as store:
            demos = [episode_demo(chat_turns(store, e), pattern) for e in passed_episodes(run)]
        usable = [d for d in demos if d is not None and max(map(len, d.values())) <= MAX_DEMO_CHARS]
        rng.shuffle(usable)
        found += usable
    return found


def add_demos(candidate: Path, view: Path, k: int, *, parent: str | None = None,
              seed: int = 0) -> MoveResult:
    """Add up to k new demonstrations (see the module docstring)."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_DEMOS:
        raise MoveError(f"add_demos: k must be an integer from 1 to {MAX_DEMOS}, got {k!r}")
    data = read_strategy_data(candidate)
    if "demos" not in data:
        raise MoveError(f"add_demos: this agent's {STRATEGY_FILE} declares no 'demos' wiring "
                        "point, so it would never send them")
    stored = read_demos(candidate)
    room = MAX_DEMOS - len(stored)
    if room <= 0:
        raise MoveError(f"add_demos: {DEMOS_FILE} already holds {MAX_DEMOS}, the most allowed")
    seen = {d["user"] for d in stored}
    fresh: list[Demo] = []
    for demo in bootstrap(view, candidate, parent, seed):
        if demo["user"] not in seen and len(fresh) < min(k, room):
            fresh.append(demo)
            seen.add(demo["user"])
    if not fresh:
        raise MoveError("add_demos: no solved train episode in the view that is not already a "
                        "demonstration (a run needs passed episodes with their traces)")
    demos = [*stored, *fresh]
    edited = {**data, "demos": len(demos)}
    validate_strategy(edited)
    write_json(candidate, DEMOS_FILE, demos)
    write_json(candidate, STRATEGY_FILE, edited)
    short = f" (only {len(fresh)} unused solved episodes)" if len(fresh) < k else ""
    return MoveResult(Arm("add_demos", str(k)),
                      f"add {len(fresh)} demonstrations from solved train episodes{short} "
                      f"(demos {data['demos']} -> {len(demos)})", "prompt")
