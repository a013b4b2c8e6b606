"""Reading and writing a candidate's data files (strategy.json, demos.json, prompts/*.md).

Every move validates the whole edited file with the same model the agent loads it with
(`task_agents.lib.strategy`), strictly (no "0.5" for a float, no true for an int), before it
writes anything; writes are atomic (temp file + rename), so a refused move leaves the
candidate exactly as it was.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from task_agents.lib.strategy import (
    DEMOS_FILE,
    STRATEGY_FILE,
    Strategy,
    StrategyError,
    parse_demos,
)

PROMPTS_DIR = "prompts"
_PROMPT_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")


class MoveError(ValueError):
    """A move that cannot be made; the message is written for the model that asked."""


class NoChange(MoveError):
    """A move that would leave the candidate as it is."""


def agent_file(candidate: Path) -> Path:
    path = candidate / "agent.py"
    if not path.is_file():
        raise MoveError(f"{candidate.name}: no agent.py here; moves edit an agent folder")
    return path


def _inside(candidate: Path, path: Path) -> Path:
    """`path` if it resolves inside the candidate (a planted symlink cannot redirect a write)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(candidate.resolve()):
        raise MoveError(f"{path.name} points outside the candidate folder; refusing to touch it")
    return path


def read_strategy_data(candidate: Path) -> dict[str, Any]:
    """The raw strategy.json object (MoveError when the agent has none, or a broken one)."""
    agent_file(candidate)
    path = _inside(candidate, candidate / STRATEGY_FILE)
    if not path.is_file():
        raise MoveError(f"this agent has no {STRATEGY_FILE}, so it declares no wiring points "
                        "that a structured move can edit; edit its code instead")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MoveError(f"{STRATEGY_FILE}: not valid JSON ({error}); fix it first") from None
    if not isinstance(data, dict):
        raise MoveError(f"{STRATEGY_FILE}: expected a JSON object")
    validate_strategy(data)
    return data


def validate_strategy(data: dict[str, Any]) -> Strategy:
    """Strict validation of an edited strategy; MoveError names the field and the rule."""
    try:
        return Strategy.model_validate(data, strict=True)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise MoveError(f"{STRATEGY_FILE}: {field}: {first['msg']} "
                        f"(got {first.get('input')!r})") from None


def read_demos(candidate: Path) -> list[dict[str, str]]:
    path = _inside(candidate, candidate / DEMOS_FILE)
    if not path.is_file():
        return []
    try:
        demos = parse_demos(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, StrategyError) as error:
        raise MoveError(f"{DEMOS_FILE}: unusable ({error}); fix or delete it first") from None
    return [demo.model_dump() for demo in demos]


def write_atomic(path: Path, text: str) -> None:
    """Write via a fresh temp file: O_EXCL | O_NOFOLLOW, so a link planted under the temp
    name cannot redirect the write; the rename replaces a link at `path`, never its target."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write_json(candidate: Path, name: str, data: Any) -> None:
    path = _inside(candidate, candidate / name)
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def prompt_names(candidate: Path) -> list[str]:
    folder = candidate / PROMPTS_DIR
    return sorted(p.stem for p in folder.glob("*.md")) if folder.is_dir() else []


def prompt_path(candidate: Path, name: str) -> Path:
    """The existing prompt file `name` (MoveError lists the agent's prompts otherwise)."""
    agent_file(candidate)
    if not isinstance(name, str) or not _PROMPT_NAME.fullmatch(name):
        raise MoveError(f"prompt name {name!r}: use a prompt file's stem, e.g. 'system'")
    path = candidate / PROMPTS_DIR / f"{name}.md"
    if not path.is_file():
        known = ", ".join(prompt_names(candidate)) or "none"
        raise MoveError(f"this agent has no prompt {name!r}; its prompts are: {known}")
    return _inside(candidate, path)
