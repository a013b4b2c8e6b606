"""Bounds on what an episode can put in the trace store, with explicit markers where cut.

Everything a candidate chooses — subagent and tool names, log text, message contents, tool
arguments and results, error strings — ends up in span names, attributes and events. An
untrusted agent could send unbounded amounts of it (sixteen 50 MB logs once took the harness
to 3.3 GB and the store to 840 MB), or names that draw on a terminal. So:
- Names (span names, agent and tool names) are one line of printable characters: anything
  else is escaped (`\\x1b`, `\\n`, `\\u202e`), and they are cut at `MAX_NAME_CHARS`.
- Each string inside a recorded value is cut at `max_value_bytes`; every recorded value of an
  episode draws on `max_total_bytes`. What is cut ends in "… N bytes dropped", so nothing is
  lost silently and the reader knows how much is missing.
"""

from __future__ import annotations

import json
from typing import Any

MAX_NAME_CHARS = 120
MAX_VALUE_BYTES = 1024 * 1024  # one string in a message, argument or result
MAX_EPISODE_BYTES = 32 * 1024 * 1024  # all recorded content of one episode
MAX_ERROR_BYTES = 8 * 1024  # a span's status description
MAX_TRACEBACK_BYTES = 64 * 1024
MAX_LOG_MESSAGE_BYTES = 16 * 1024  # one agent log message
MAX_KEY_BYTES = 1024  # a key inside a recorded object (tool arguments are agent-chosen)


def dropped(count: int, why: str = "") -> str:
    return f"… {count} bytes dropped" + (f" ({why})" if why else "")


def clip_text(text: str, max_bytes: int, why: str = "") -> str:
    """`text` cut to at most `max_bytes` of UTF-8, with the marker when it was cut."""
    if len(text) * 4 <= max_bytes:  # cannot be over: skip the encode
        return text
    data = text.encode("utf-8", errors="surrogatepass")
    if len(data) <= max_bytes:
        return text
    kept = data[:max_bytes].decode("utf-8", errors="ignore")
    return kept + dropped(len(data) - len(kept.encode("utf-8", errors="surrogatepass")), why)


def escape_char(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def one_line(text: str) -> str:
    """Non-printable characters (controls, newlines, bidi overrides, …) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else escape_char(c) for c in text)


def clean_name(name: Any, max_chars: int = MAX_NAME_CHARS) -> str:
    """A candidate-chosen name fit for a span name: one printable line, bounded."""
    raw = str(name)
    text = one_line(raw[:max_chars])
    if len(raw) > max_chars:
        text += f"… {len(raw) - max_chars} characters dropped"
    return text


class ContentBudget:
    """The content one episode may record; shared by its model client and tools."""

    def __init__(self, max_total_bytes: int = MAX_EPISODE_BYTES,
                 max_value_bytes: int = MAX_VALUE_BYTES) -> None:
        self.max_total_bytes = max_total_bytes
        self.max_value_bytes = max_value_bytes
        self.spent = 0
        self.dropped = 0

    def record(self, value: Any) -> str:
        """`value` as the JSON (or plain string) to record, its strings clipped and charged."""
        left = self.max_total_bytes - self.spent
        cap = min(self.max_value_bytes, max(left, 0))
        clipped = self._clip(value, cap)
        text = clipped if isinstance(clipped, str) else json.dumps(
            clipped, ensure_ascii=False, default=str)
        size = len(text.encode("utf-8", errors="surrogatepass"))
        if size > left:
            self.dropped += size
            return dropped(size, "the episode's trace content limit of "
                                 f"{self.max_total_bytes // 2**20} MB is spent")
        self.spent += size
        return text

    def _clip(self, value: Any, cap: int) -> Any:
        if isinstance(value, str):
            clipped = clip_text(value, cap)
            if clipped is not value:
                self.dropped += len(value.encode("utf-8", errors="surrogatepass")) - cap
            return clipped
        if isinstance(value, dict):
            return {clip_text(str(k), MAX_KEY_BYTES): self._clip(v, cap) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clip(v, cap) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self._clip(str(value), cap)
