"""`set_prompt(name, text)`: replace one of the agent's prompt files (`prompts/<name>.md`).

The new text must keep every `{placeholder}` the old one had (the agent fills them: drop
`{prompt}` and the model never sees the question), must not be empty, and is stored stripped
(the agent strips prompts when it loads them).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from meta_agent.moves._candidate import MoveError, NoChange, prompt_path, write_atomic
from meta_agent.moves.arms import Arm, MoveResult

MAX_PROMPT_CHARS = 20_000
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def set_prompt(candidate: Path, name: str, text: str, *, label: str | None = None) -> MoveResult:
    """Write `text` as prompt `name`; `label` names the variant in the arm (default: a hash)."""
    path = prompt_path(candidate, name)
    if not isinstance(text, str) or not text.strip():
        raise MoveError("set_prompt: text is empty; give the whole new prompt")
    if len(text) > MAX_PROMPT_CHARS:
        raise MoveError(f"set_prompt: text has {len(text)} characters; at most "
                        f"{MAX_PROMPT_CHARS}")
    old = path.read_text(encoding="utf-8").strip()
    new = text.strip()
    missing = sorted(set(_PLACEHOLDER.findall(old)) - set(_PLACEHOLDER.findall(new)))
    if missing:
        shown = ", ".join("{" + m + "}" for m in missing)
        raise MoveError(f"set_prompt {name}: the new text drops {shown}, which the agent "
                        "fills in (e.g. the task's question); keep it")
    if new == old:
        raise NoChange(f"set_prompt {name}: the prompt already has this text")
    write_atomic(path, new + "\n")
    variant = label or hashlib.sha256(new.encode()).hexdigest()[:8]
    lines = len(new.splitlines())
    return MoveResult(Arm("set_prompt", f"{name}+{variant}"),
                      f"prompt {name}: rewritten ({lines} lines, variant {variant})", "prompt")
