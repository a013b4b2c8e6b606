"""What an agent may ask of the model: checked request parameters and a token budget that holds.

Rules, because the agent is untrusted:
- Every sampling parameter is type- and range-checked; a bad value is a `ModelRequestError`
  to the agent (its mistake), never a harness crash. Booleans are not numbers.
- The budget counts input and output tokens as the server reports them. Calls in flight hold
  a reservation: their prompt (estimated from its length) plus the output they may produce,
  so concurrent calls together cannot spend more than is left.
- A request whose prompt alone does not fit in what is left is refused before it is sent.
- When a reply takes the episode over its budget (the server ignored `max_tokens`, or the
  prompt was longer than estimated), the episode is over budget for good: `exceeded` says
  why, and the runner fails the episode whatever the agent answers afterwards.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import ModelRequestError
from task_agents.lib.context import BudgetExceeded

MAX_OUTPUT_TOKENS = 262_144  # the largest output any model we serve can produce in one reply
CHARS_PER_TOKEN = 4  # prompt estimate; tokenizers average 3-4 characters per token of text
MAX_STOP_SEQUENCES = 16
MAX_STOP_CHARS = 256
REASONING_EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh"})
THINKING_TYPES = frozenset({"enabled", "disabled", "adaptive"})


def _number(low: float, high: float, *, integer: bool = False) -> Callable[[str, Any], None]:
    def check(name: str, value: Any) -> None:
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or (integer and not isinstance(value, int))):
            kind = "an integer" if integer else "a number"
            raise ModelRequestError(f"{name} must be {kind}, got {type(value).__name__}")
        if not math.isfinite(value) or not low <= value <= high:
            raise ModelRequestError(f"{name} must be between {low:g} and {high:g}, got {value!r}")

    return check


def _stop(name: str, value: Any) -> None:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ModelRequestError(f"{name} must be a string or a list of strings")
    if len(values) > MAX_STOP_SEQUENCES or any(len(v) > MAX_STOP_CHARS for v in values):
        raise ModelRequestError(f"{name}: at most {MAX_STOP_SEQUENCES} sequences of "
                                f"{MAX_STOP_CHARS} characters")


def _kind(*types: type) -> Callable[[str, Any], None]:
    def check(name: str, value: Any) -> None:
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            names = " or ".join(t.__name__ for t in types)
            raise ModelRequestError(f"{name} must be {names}, got {type(value).__name__}")

    return check


def _reasoning_effort(name: str, value: Any) -> None:
    if value not in REASONING_EFFORTS:
        raise ModelRequestError(f"{name} must be one of {', '.join(sorted(REASONING_EFFORTS))}")


def _thinking(name: str, value: Any) -> None:
    if not isinstance(value, dict) or value.get("type") not in THINKING_TYPES:
        raise ModelRequestError(f"{name} must be an object with type "
                                f"{', '.join(sorted(THINKING_TYPES))}")
    if "budget_tokens" in value:
        _number(1, MAX_OUTPUT_TOKENS, integer=True)(f"{name}.budget_tokens",
                                                     value["budget_tokens"])


CHECKS: dict[str, Callable[[str, Any], None]] = {
    "max_tokens": _number(1, MAX_OUTPUT_TOKENS, integer=True),
    "max_completion_tokens": _number(1, MAX_OUTPUT_TOKENS, integer=True),
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "top_k": _number(-1, 1_000_000, integer=True),  # -1: vLLM's "no limit"
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "seed": _number(-(2**63), 2**63 - 1, integer=True),
    "stop": _stop,
    "tool_choice": _kind(str, dict),
    "parallel_tool_calls": _kind(bool),
    "response_format": _kind(dict),
    "thinking": _thinking,
    "reasoning_effort": _reasoning_effort,
    "chat_template_kwargs": _kind(dict),
}


def check_params(params: dict[str, Any]) -> None:
    """Refuse parameters an agent may not set, and values out of type or range."""
    refused = sorted(set(params) - set(CHECKS))
    if refused:
        raise ModelRequestError(f"parameters not allowed for agents: {', '.join(refused)}")
    if "max_tokens" in params and "max_completion_tokens" in params:
        raise ModelRequestError("give one of max_tokens and max_completion_tokens, not both")
    for name, value in params.items():
        if value is not None:
            CHECKS[name](name, value)


def prompt_estimate(messages: Sequence[Any], tools: Sequence[Any] | None) -> int:
    """Tokens the prompt will cost at least, from the length of its text.

    Only string content counts (not the JSON around it), divided by a generous number of
    characters per token, so a prompt that would fit is not refused; what it really cost is
    charged from the server's usage afterwards.
    """
    return _text_length([_plain(m) for m in messages], [_plain(t) for t in tools or []]) \
        // CHARS_PER_TOKEN


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump() if callable(dump) else value


def _text_length(*values: Any) -> int:
    total, stack = 0, list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            total += len(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
        elif value is not None and not isinstance(value, bool | int | float):
            total += len(json.dumps(value, default=str))
    return total


@dataclass
class TokenBudget:
    """One episode's token allowance, shared by its concurrent calls."""

    limit: int
    used: int = 0
    reserved: int = 0  # prompt estimates and output allowances of calls in flight
    exceeded: str | None = None

    def reserve(self, prompt: int, params: dict[str, Any]) -> int:
        """Clamp the call's output to what is left after its prompt; hold both. Returns the
        amount held, to give back with `release` when the call ends."""
        left = self.limit - self.used - self.reserved
        if self.exceeded is not None or left <= 0:
            raise BudgetExceeded(f"token budget of {self.limit} spent ({self.used} used, "
                                 f"{self.reserved} held by calls in flight)")
        if prompt >= left:
            raise BudgetExceeded(f"the prompt (about {prompt} tokens) does not fit in the "
                                 f"{left} tokens left of the budget of {self.limit}")
        asked = params.pop("max_completion_tokens", None) or params.get("max_tokens")
        room = left - prompt
        params["max_tokens"] = output = min(int(asked), room) if asked else room
        self.reserved += prompt + output
        return prompt + output

    def release(self, held: int) -> None:
        self.reserved -= held

    def charge(self, tokens: int) -> None:
        """Count a reply's tokens; going over the limit is remembered for the episode."""
        self.used += tokens
        if self.used > self.limit and self.exceeded is None:
            self.exceeded = (f"token budget of {self.limit} exceeded: {self.used} tokens used "
                             "(as reported by the model server)")
