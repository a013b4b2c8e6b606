"""What a move did, and the arm it belongs to (how the bandit and the inert check find it).

An arm is `kind:option`, e.g. `set_param:temperature=0`, `add_block:votes=5`,
`add_demos:4`, `set_prompt:system+careful`. Every move's mechanism text ends with
`[arm kind:option]`, so the arm can be recovered from a ledger row without any other state,
and `marker_for` says which `mechanism:NAME` marker (task_agents/lib/mechanisms.py) the change
must make fire on the train run for it not to be inert.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, cast

MoveKind = Literal["set_prompt", "set_param", "add_demos", "add_block"]
MOVE_KINDS: tuple[MoveKind, ...] = ("set_prompt", "set_param", "add_demos", "add_block")
_ARM_TAG = re.compile(r"\[arm ((?:set_prompt|set_param|add_demos|add_block):[^\]\s]{1,120})\]")
_MARKER = re.compile(r"\bmechanism:([a-z_]{1,40})\b")
# A block kind -> its marker; a strategy key -> (its marker, the values that switch it on).
_BLOCK_MARKERS = {"votes": "vote", "verify": "verify", "calculator": "calculator",
                  "fanout": "fanout"}
_KEY_MARKERS = {"votes": "vote", "verify_rounds": "verify", "calculator": "calculator",
                "demos": "demos"}


def value_text(value: Any) -> str:
    """A parameter value as it appears in an arm: compact JSON (0, 0.7, true, null)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)[:60]


@dataclass(frozen=True)
class Arm:
    kind: MoveKind
    option: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.option}"

    @property
    def tag(self) -> str:
        return f"[arm {self}]"


@dataclass(frozen=True)
class MoveResult:
    """What a move changed: a short human description, and how to file it."""

    arm: Arm
    description: str
    component: Literal["prompt", "param", "graph", "memory"]

    @property
    def marker(self) -> str | None:
        return marker_for(self.arm)

    @property
    def mechanism(self) -> str:
        """The proposal's mechanism: the description plus the arm tag."""
        return f"{self.description} {self.arm.tag}"


def parse_arm(text: str) -> Arm | None:
    """The arm tagged in a mechanism text (the last one), or None."""
    found = _ARM_TAG.findall(text or "")
    if not found:
        return None
    kind, option = str(found[-1]).split(":", 1)
    return Arm(cast(MoveKind, kind), option)  # the regex admits only move kinds


def marker_for(arm: Arm) -> str | None:
    """The mechanism marker the arm's change must fire, or None (nothing new to fire)."""
    name, _, raw = arm.option.partition("=")
    if arm.kind == "add_demos":
        return "demos"
    if arm.kind == "add_block":
        return _BLOCK_MARKERS.get(name)
    if arm.kind == "set_param" and name in _KEY_MARKERS:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            return None
        on = value is True or (isinstance(value, int) and not isinstance(value, bool) and (
            value > 1 if name == "votes" else value > 0))
        return _KEY_MARKERS[name] if on else None
    return None


def mechanism_of(mechanism: str) -> str | None:
    """The marker a proposal's mechanism should make fire: from its `[arm ...]` tag, else
    from an explicit `mechanism:NAME` in the text (a free-form proposer may name one);
    None when the change adds nothing that fires (a prompt, a sampling parameter)."""
    arm = parse_arm(mechanism)
    if arm is not None:
        return marker_for(arm)
    found = _MARKER.findall(mechanism or "")
    return found[-1] if found else None
