"""Structured moves: small, validated edits of a candidate that a small model (or the
`moves` proposer, with no model at all) can make with one short call. Each move is done
by the harness, leaves a valid candidate or nothing, and returns a `MoveResult` with a short
human description, its component and its arm (`[arm kind:option]` in the mechanism text).

- `set_prompt(candidate, name, text)`: rewrite prompts/<name>.md (placeholders kept).
- `set_param(candidate, name, value)`: a sampling parameter or a declared strategy key.
- `add_demos(candidate, view, k, parent=..., seed=...)`: demonstrations bootstrapped from
  the agent's own solved TRAIN episodes in the view.
- `add_block(candidate, kind, options)`: wire votes / verify / calculator.
- `fired_mechanisms(traces.sqlite)` and `mechanism_of(mechanism)`: whether the change fired.
- `Moves(candidate, view=...)`: the four bound to one candidate, as the meta-agent's tools.

A bad input raises `MoveError` (a ValueError) with a message for the model; a move that would
change nothing raises `NoChange` (a MoveError) saying so.
"""

from meta_agent.moves._candidate import MoveError, NoChange
from meta_agent.moves.arms import MOVE_KINDS, Arm, MoveResult, marker_for, mechanism_of, parse_arm
from meta_agent.moves.block import BLOCK_KINDS, add_block
from meta_agent.moves.bound import Moves
from meta_agent.moves.demos import add_demos
from meta_agent.moves.fired import fired_mechanisms
from meta_agent.moves.param import set_param
from meta_agent.moves.prompt import set_prompt

__all__ = [
    "BLOCK_KINDS", "MOVE_KINDS", "Arm", "MoveError", "MoveResult", "Moves", "NoChange", "add_block",
    "add_demos", "fired_mechanisms", "marker_for", "mechanism_of", "parse_arm", "set_param",
    "set_prompt",
]
