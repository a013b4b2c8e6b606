"""`set_param(name, value)`: a model parameter or a module constant, as strategy data.

Names: the sampling parameters sent with every model call (`temperature`, `top_p`, `top_k`,
`max_tokens`, `seed`, `presence_penalty`, `frequency_penalty`, `stop`; also written
`MODEL_PARAMS.temperature`; value None removes one, so the server's default applies), and the
wiring points the agent's strategy.json declares, by key or by their constant's name
(`RECURSION_LIMIT` -> recursion_limit, `STEPS_PER_TURN`, `NATIVE_TOOLS`, `votes`,
`verify_rounds`, `calculator`, `demos`). Types and ranges are checked strictly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meta_agent.moves._candidate import (
    MoveError,
    NoChange,
    read_demos,
    read_strategy_data,
    validate_strategy,
    write_json,
)
from meta_agent.moves.arms import Arm, MoveResult, value_text
from task_agents.lib.strategy import STRATEGY_FILE, ModelParams, Strategy

MODEL_PARAM_NAMES = tuple(ModelParams.model_fields)
STRATEGY_KEYS = tuple(name for name in Strategy.model_fields if name != "model_params")


def canonical_name(name: str) -> str:
    """`MODEL_PARAMS.temperature` -> temperature, `RECURSION_LIMIT` -> recursion_limit."""
    if not isinstance(name, str):
        raise MoveError(f"set_param: name must be a string, got {type(name).__name__}")
    plain = name.strip()
    for prefix in ("MODEL_PARAMS.", "model_params."):
        plain = plain.removeprefix(prefix)
    plain = plain.lower()
    if plain in MODEL_PARAM_NAMES or plain in STRATEGY_KEYS:
        return plain
    raise MoveError(f"set_param: unknown name {name!r}; model parameters: "
                    f"{', '.join(MODEL_PARAM_NAMES)}; strategy keys: {', '.join(STRATEGY_KEYS)}")


def _edited(data: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    edited = {**data, "model_params": dict(data.get("model_params") or {})}
    if name in MODEL_PARAM_NAMES:
        if value is None:
            edited["model_params"].pop(name, None)
        else:
            edited["model_params"][name] = value
        return edited
    if name not in data:
        declared = ", ".join(k for k in data if k != "model_params") or "none"
        raise MoveError(f"set_param: this agent's {STRATEGY_FILE} declares no {name!r} "
                        f"wiring point (it declares: {declared})")
    if value is None:
        raise MoveError(f"set_param {name}: needs a value, not null")
    edited[name] = value
    return edited


def current_value(data: dict[str, Any], name: str) -> Any:
    if name in MODEL_PARAM_NAMES:
        return (data.get("model_params") or {}).get(name)
    return data.get(name)


def set_param(candidate: Path, name: str, value: Any) -> MoveResult:
    """Set one parameter (see the module docstring); MoveError on a bad name or value."""
    key = canonical_name(name)
    data = read_strategy_data(candidate)
    old = current_value(data, key)
    if old == value and isinstance(old, bool) == isinstance(value, bool):
        raise NoChange(f"set_param {key}: already {value_text(value)}")
    edited = _edited(data, key, value)
    strategy = validate_strategy(edited)
    if key == "demos" and strategy.demos > len(read_demos(candidate)):
        raise MoveError(f"set_param demos: only {len(read_demos(candidate))} demonstrations "
                        "are stored; add_demos adds more")
    write_json(candidate, STRATEGY_FILE, edited)
    was = "unset" if old is None else value_text(old)
    now = "unset (the server's default)" if value is None else value_text(value)
    return MoveResult(Arm("set_param", f"{key}={value_text(value)}"), f"{key}: {was} -> {now}",
                      "param")
