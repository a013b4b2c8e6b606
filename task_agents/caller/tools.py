"""The task's functions as model tools, and the model's calls back in the task's names.

OpenAI-style APIs accept tool names matching `[a-zA-Z0-9_-]{1,64}`, while BFCL names may
contain dots (`math.factorial`), so names are sanitized for the request and mapped back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from harness.models.types import ToolCall, ToolSpec

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def safe_name(name: str) -> str:
    return _UNSAFE.sub("_", name)[:64] or "tool"


class Toolbox:
    """The tools offered so far and the way back from a called name to the task's name."""

    def __init__(self, functions: Iterable[dict[str, Any]] = ()) -> None:
        self.specs: list[ToolSpec] = []
        self._original: dict[str, str] = {}
        self.add(functions)

    def add(self, functions: Iterable[dict[str, Any]]) -> None:
        for function in functions:
            name = str(function.get("name", ""))
            if not name or name in self._original.values():
                continue
            safe = safe_name(name)
            self._original[safe] = name
            parameters = function.get("parameters") or {"type": "object", "properties": {}}
            self.specs.append(ToolSpec(name=safe, description=str(function.get("description", "")),
                                       parameters=parameters))

    def original(self, called: str) -> str:
        """The task's own name for a called name (unknown names are kept as called)."""
        if called in self._original.values():
            return called
        return self._original.get(called, self._original.get(safe_name(called), called))

    def as_answer(self, calls: Iterable[ToolCall]) -> list[dict[str, Any]]:
        """Calls in the BFCL answer form: [{"name": ..., "arguments": {...}}, ...]."""
        return [{"name": self.original(call.name), "arguments": dict(call.arguments)}
                for call in calls if call.name]
