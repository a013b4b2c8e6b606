"""Prompts live next to each agent as `prompts/<name>.md`, read once at import.

    PROMPTS = load_prompts(__file__)          # {"system": "...", "user": "..."}
    text = fill(PROMPTS["user"], prompt=task.prompt)

`fill` replaces `{name}` for the names given and leaves every other brace alone, so prompts
may contain code and JSON without escaping.
"""

from __future__ import annotations

import re
from pathlib import Path

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def load_prompts(agent_file: str | Path, folder: str = "prompts") -> dict[str, str]:
    """Every `*.md` in the agent's prompts folder, keyed by file stem."""
    directory = Path(agent_file).resolve().parent / folder
    return {path.stem: path.read_text(encoding="utf-8").strip()
            for path in sorted(directory.glob("*.md"))}


def fill(template: str, **values: object) -> str:
    """`template` with each `{name}` replaced by `str(values[name])`."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(values[name]) if name in values else match.group(0)

    return _PLACEHOLDER.sub(replace, template)
