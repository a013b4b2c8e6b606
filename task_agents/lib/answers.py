"""Pulling a final answer out of a model's free text.

Pure functions, no model calls. Each returns a best-effort string and never raises on
ordinary garbage: the worst case is "" (or the text itself, for code).

- `strip_think(text)`: drop `<think>…</think>` blocks (an unclosed one runs to the end).
- `labelled_answer(text)`: the last `<answer>…</answer>`, `\\boxed{…}` or `Answer: …` line.
- `last_number(text)`: the last number (commas removed), or None.
- `final_answer(text, numeric=False)`: labelled answer, else (numeric) the last number,
  else the last non-empty line.
- `code_blocks(text)` / `extract_code(text, entry_point=None)`: fenced code, preferring the
  block that defines `entry_point`, else the longest; unfenced text from its first
  `def`/`import`/`from`/`class` line on.
"""

from __future__ import annotations

import re

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_TAGGED = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
# Line-local and linear (no `\s*` across newlines, no lazy capture before trailing blanks).
_LABELLED = re.compile(
    r"^[ \t*]*(?:(?:final[ \t]+)?answer[ \t*]*[:=]|####)[ \t*]*([^\n]*)$", re.I | re.M)
_NUMBER = re.compile(r"-?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?")
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:```|$)", re.DOTALL)
_CODE_START = re.compile(r"^(?:def |async def |import |from |class |@)", re.M)


def strip_think(text: str) -> str:
    """The text without reasoning blocks."""
    return _THINK.sub("", text or "").strip()


def labelled_answer(text: str) -> str | None:
    """The last explicitly marked answer (<answer> tag, \\boxed{}, `Answer:` line), or None."""
    text = strip_think(text)
    for pattern in (_TAGGED, _BOXED, _LABELLED):
        found = [f.strip() for f in pattern.findall(text) if f.strip()]
        if found:
            return found[-1]
    return None


def last_number(text: str) -> str | None:
    """The last number in the text, without thousands separators."""
    numbers = _NUMBER.findall(text or "")
    return numbers[-1].replace(",", "") if numbers else None


def answer_number(answer: str) -> str | None:
    """The number a marked answer gives: after its last "=", else its first number."""
    tail = answer.rsplit("=", 1)[1] if "=" in answer else answer
    numbers = _NUMBER.findall(tail)
    return numbers[0].replace(",", "") if numbers else None


def last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def final_answer(text: str, *, numeric: bool = False) -> str:
    """The best guess at the final answer in a reply ("" when there is nothing)."""
    body = strip_think(text)
    answer = labelled_answer(body)
    if numeric:
        number = answer_number(answer) if answer is not None else last_number(body)
        if number is not None:
            return number
    if answer is not None:
        return answer.strip().strip("*`").strip()
    return last_line(body)


def code_blocks(text: str) -> list[tuple[str, str]]:
    """Fenced blocks as (language, code); an unclosed final fence runs to the end."""
    return [(lang.lower(), code) for lang, code in _FENCE.findall(text or "")]


def defines(code: str, entry_point: str) -> bool:
    """Whether `code` defines the function `entry_point`."""
    pattern = rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\("
    return re.search(pattern, code, re.M) is not None


def extract_code(text: str, entry_point: str | None = None) -> str:
    """The Python code in a reply (see the module docstring for the preference order)."""
    body = strip_think(text)
    blocks = [code for lang, code in code_blocks(body) if lang in ("", "python", "py", "python3")]
    if blocks:
        defining = [b for b in blocks if entry_point and defines(b, entry_point)]
        return max(defining or blocks, key=len).rstrip() + "\n"
    start = _CODE_START.search(body)
    code = body[start.start():] if start else body
    return code.rstrip() + "\n" if code.strip() else ""
