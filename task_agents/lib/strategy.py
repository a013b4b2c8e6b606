"""An agent's wiring points as data: `strategy.json` and `demos.json` beside its `agent.py`.

    STRATEGY = load_strategy(__file__)        # validated; missing keys take the defaults
    MODEL_PARAMS = STRATEGY.params()          # {"max_tokens": 2048, "temperature": 0, ...}
    DEMOS = load_demos(__file__, STRATEGY.demos)

`strategy.json` holds the knobs the agent's graph reads: `model_params` (sent with every model
call), `recursion_limit`, and the building blocks it can wire — `votes` (self-consistency with
k samples), `verify_rounds` (verify-and-retry rounds after the first answer), `calculator`
(a `run_python` step), `demos` (how many demonstrations of `demos.json` go in front of the
question as earlier chat turns), and agent-specific ones (`steps_per_turn`, `native_tools`).
The keys an agent's file lists are the wiring points it declares: structured moves
(`meta_agent.moves`) edit only those. Defaults wire nothing, so a file with only
`model_params` behaves like a plain one-call agent. A malformed file raises at import, with
the file and field named: the candidate is then invalid, never silently run with defaults.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

STRATEGY_FILE = "strategy.json"
DEMOS_FILE = "demos.json"
MAX_DEMOS = 32
MAX_DEMO_CHARS = 8_000  # per side of one demonstration


class ModelParams(BaseModel):
    """Sampling parameters with their ranges; other keys pass through to the client as is."""

    model_config = ConfigDict(extra="allow")

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0, le=1000)
    max_tokens: int | None = Field(default=None, ge=1, le=65_536)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    stop: list[str] | None = Field(default=None, max_length=4)


class Strategy(BaseModel):
    """The wiring points of an agent (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    model_params: ModelParams = Field(default_factory=lambda: ModelParams())
    recursion_limit: int = Field(default=10, ge=3, le=200)
    votes: int = Field(default=1, ge=1, le=16)
    verify_rounds: int = Field(default=0, ge=0, le=5)
    calculator: bool = False
    demos: int = Field(default=0, ge=0, le=MAX_DEMOS)
    steps_per_turn: int = Field(default=4, ge=1, le=16)
    native_tools: Literal["auto"] | bool = "auto"

    def params(self) -> dict[str, Any]:
        """The model parameters to send: only those set (None means the server's default)."""
        return self.model_params.model_dump(exclude_none=True)

    def declared(self) -> list[str]:
        """The wiring points the file lists, in the model's field order."""
        return [name for name in type(self).model_fields if name in self.model_fields_set]


class Demo(BaseModel):
    """One demonstration: a user turn and the assistant's reply to it."""

    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1, max_length=MAX_DEMO_CHARS)
    assistant: str = Field(min_length=1, max_length=MAX_DEMO_CHARS)


class StrategyError(ValueError):
    """A strategy or demos file that cannot be used, with the file and field named."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StrategyError(f"{path.name}: cannot read it as JSON: {error}") from None


def _first_error(path: Path, error: ValidationError) -> StrategyError:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(top level)"
    return StrategyError(f"{path.name}: {field}: {first['msg']}")


def parse_strategy(data: Any, source: str = STRATEGY_FILE) -> Strategy:
    """Validate strategy data (as read from JSON); StrategyError names the field."""
    try:
        return Strategy.model_validate(data)
    except ValidationError as error:
        raise _first_error(Path(source), error) from None


def load_strategy(agent_file: str | Path) -> Strategy:
    """The agent's `strategy.json` (all defaults when the agent has none)."""
    path = Path(agent_file).resolve().parent / STRATEGY_FILE
    if not path.is_file():
        return Strategy()
    return parse_strategy(_read_json(path), path.name)


def parse_demos(data: Any, source: str = DEMOS_FILE) -> list[Demo]:
    if not isinstance(data, list):
        raise StrategyError(f"{source}: expected a list of {{user, assistant}} objects")
    if len(data) > MAX_DEMOS:
        raise StrategyError(f"{source}: {len(data)} demonstrations; at most {MAX_DEMOS}")
    try:
        return [Demo.model_validate(item) for item in data]
    except ValidationError as error:
        raise _first_error(Path(source), error) from None


def load_demos(agent_file: str | Path, count: int) -> list[Demo]:
    """The first `count` demonstrations of the agent's `demos.json` ([] for count 0)."""
    if count <= 0:
        return []
    path = Path(agent_file).resolve().parent / DEMOS_FILE
    if not path.is_file():
        raise StrategyError(f"{STRATEGY_FILE}: demos is {count} but there is no {DEMOS_FILE}")
    demos = parse_demos(_read_json(path), path.name)
    if len(demos) < count:
        raise StrategyError(f"{STRATEGY_FILE}: demos is {count} but {DEMOS_FILE} holds "
                            f"{len(demos)}")
    return demos[:count]


def demo_turns(demos: list[Demo]) -> list[dict[str, str]]:
    """Demonstrations as earlier chat turns: user, assistant, user, assistant, ..."""
    turns: list[dict[str, str]] = []
    for demo in demos:
        turns += [{"role": "user", "content": demo.user},
                  {"role": "assistant", "content": demo.assistant}]
    return turns
