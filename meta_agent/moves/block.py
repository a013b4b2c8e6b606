"""`add_block(kind, options)`: wire a building block of task_agents/lib into the graph by
editing the strategy data the graph reads.

Kinds and options (the agent must declare the wiring point in its strategy.json):
- `votes` (alias `self_consistency`), `{"k": 2..16}` (default 5): self-consistency, k parallel
  samples and the majority answer. Refused at temperature 0, where every sample is the same.
- `verify`, `{"rounds": 1..5}` (default 1): verify-and-retry after the first answer.
- `calculator`, `{}`: a `run_python` step before the answer.
- `fanout` is not a data move: the votes of `votes` already fan out as subagents, and any
  other fan-out (decomposing a task) needs code, written with `task_agents.lib.fanout`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meta_agent.moves._candidate import (
    MoveError,
    NoChange,
    read_strategy_data,
    validate_strategy,
    write_json,
)
from meta_agent.moves.arms import Arm, MoveResult, value_text
from task_agents.lib.strategy import STRATEGY_FILE

# kind -> (strategy key, option name, default, (low, high)); calculator has no option.
BLOCKS: dict[str, tuple[str, str | None, int, tuple[int, int]]] = {
    "votes": ("votes", "k", 5, (2, 16)),
    "verify": ("verify_rounds", "rounds", 1, (1, 5)),
    "calculator": ("calculator", None, 0, (0, 0)),
}
ALIASES = {"self_consistency": "votes", "self-consistency": "votes", "vote": "votes",
           "verify_and_retry": "verify", "fan_out": "fanout", "fan-out": "fanout"}
BLOCK_KINDS = tuple(BLOCKS)


def _option(kind: str, options: dict[str, Any]) -> int | None:
    _, name, default, (low, high) = BLOCKS[kind]
    allowed = {name} if name else set()
    unknown = sorted(set(options) - allowed)
    if unknown:
        takes = f"takes only {name!r}" if name else "takes no options"
        raise MoveError(f"add_block {kind}: unknown option {unknown[0]!r}; it {takes}")
    if name is None:
        return None
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MoveError(f"add_block {kind}: {name} must be an integer from {low} to {high}, "
                        f"got {value!r}")
    return value


def add_block(candidate: Path, kind: str, options: dict[str, Any] | None = None) -> MoveResult:
    """Wire block `kind` (see the module docstring); MoveError on anything that cannot be."""
    kind = ALIASES.get(str(kind).strip().lower(), str(kind).strip().lower())
    if kind == "fanout":
        raise MoveError("add_block fanout: no data wiring point; `votes` fans its samples out "
                        "as subagents, and any other fan-out needs code (task_agents.lib.fanout)")
    if kind not in BLOCKS:
        raise MoveError(f"add_block: unknown kind {kind!r}; kinds: {', '.join(BLOCK_KINDS)}")
    if options is not None and not isinstance(options, dict):
        raise MoveError("add_block: options must be an object, e.g. {\"k\": 5}")
    value = _option(kind, options or {})
    data = read_strategy_data(candidate)
    key = BLOCKS[kind][0]
    if key not in data:
        declared = ", ".join(k for k in data if k != "model_params") or "none"
        raise MoveError(f"add_block {kind}: this agent's {STRATEGY_FILE} declares no {key!r} "
                        f"wiring point (it declares: {declared})")
    new: bool | int = True if value is None else value
    if data[key] == new and isinstance(data[key], bool) == isinstance(new, bool):
        raise NoChange(f"add_block {kind}: {key} is already {data[key]!r}")
    if kind == "votes" and (data.get("model_params") or {}).get("temperature") == 0:
        raise MoveError("add_block votes: temperature is 0, so every sample would be the same; "
                        "set a temperature above 0 first")
    edited = {**data, key: new}
    validate_strategy(edited)
    write_json(candidate, STRATEGY_FILE, edited)
    option = kind if value is None else f"{kind}={value}"
    what = {"votes": f"self-consistency: majority of {value} samples",
            "verify": f"verify-and-retry: up to {value} retries after a failed check",
            "calculator": "calculator: a run_python step before the answer"}[kind]
    return MoveResult(Arm("add_block", option), f"add block {what} ({key}: "
                      f"{value_text(data[key])} -> {value_text(new)})", "graph")
