"""`Moves`: the four moves bound to one candidate and view, as the meta-agent's tools.

Each method returns one line for the model: what changed, and the `[arm ...]` tag to put in
its mechanism (so the loop can tell whether the change fired). A bad input raises
`MoveError` (a ValueError) whose message says what to do instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meta_agent.moves.arms import MoveResult
from meta_agent.moves.block import add_block
from meta_agent.moves.demos import add_demos
from meta_agent.moves.param import set_param
from meta_agent.moves.prompt import set_prompt


class Moves:
    """Structured moves on `candidate`, demonstrations read from `view` (train runs only)."""

    def __init__(self, candidate: Path, *, view: Path, parent: str | None = None,
                 seed: int = 0) -> None:
        self.candidate = Path(candidate)
        self.view = Path(view)
        self.parent = parent
        self.seed = seed
        self.done: list[MoveResult] = []  # every move made, in order

    def _said(self, result: MoveResult) -> str:
        self.done.append(result)
        return f"done: {result.description}. Put {result.arm.tag} in your mechanism."

    def set_prompt(self, name: str, text: str) -> str:
        return self._said(set_prompt(self.candidate, name, text))

    def set_param(self, name: str, value: Any) -> str:
        return self._said(set_param(self.candidate, name, value))

    def add_demos(self, k: int) -> str:
        return self._said(add_demos(self.candidate, self.view, k, parent=self.parent,
                                    seed=self.seed))

    def add_block(self, kind: str, options: dict[str, Any] | None = None) -> str:
        return self._said(add_block(self.candidate, kind, options))
