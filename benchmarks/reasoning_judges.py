"""reasoning-gym's pass rules (0.1.25), applied by our own code to the extracted final answer.

No reasoning-gym code ever sees answer text: its countdown scorer runs the answer as Python
(`sympy.parse_expr`), and the others, while harmless today, are third-party code that a
version bump could change. Each rule below is the library's full-score condition, copied;
tests/benchmarks/test_reasoning_judges.py checks them against the library on fixed inputs.
Every function here is linear in the length of the answer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from benchmarks.arith_expr import judge_countdown

# reasoning_gym.arithmetic.gsm_symbolic: the first number in the answer equals the gold one.
_GSM_NUMBER = re.compile(r"\b-?\d+(?:\.\d+)?\b")


def _gsm_symbolic(answer: str, entry: dict[str, Any]) -> tuple[bool, str]:
    found = _GSM_NUMBER.search(answer)
    if found is None:
        return False, "no number"
    try:
        ok = float(found.group(0)) == float(entry["answer"])
    except (ValueError, OverflowError):
        return False, "not a number"
    return ok, "" if ok else f"{found.group(0)[:50]} != {entry['answer']}"


def _exact(answer: str, entry: dict[str, Any]) -> tuple[bool, str]:
    """ProceduralDataset.score_answer (basic_arithmetic): 1.0 only for the gold string."""
    return answer == entry["answer"], ""


@functools.cache
def _roles() -> frozenset[str]:
    """knight, knave, angel, devil, ...: the library's own list (a constant, not answer code)."""
    from reasoning_gym.logic.knights_knaves import VALID_ROLES

    return frozenset(VALID_ROLES)


def _assignments(text: str) -> set[tuple[str, str]]:
    """KnightsKnavesDataset._normalize_answer."""
    roles = _roles()
    text = text.lower().strip()
    for mark in ".,)(":
        text = text.replace(mark, " ")
    found, name = set(), None
    for part in (p.strip() for p in text.replace(" and ", " ").split()):
        if part in ("is", "a", "an"):
            continue
        if part in roles:
            if name:
                found.add((name, part))
                name = None
        else:
            name = part
    return found


def _knights_knaves(answer: str, entry: dict[str, Any]) -> tuple[bool, str]:
    gold = _assignments(entry["answer"])
    return bool(gold) and _assignments(answer) == gold, ""


def _countdown(answer: str, entry: dict[str, Any]) -> tuple[bool, str]:
    meta = entry["metadata"]
    return judge_countdown(answer, list(meta["numbers"]), int(meta["target"]))


JUDGES: dict[str, Callable[[str, dict[str, Any]], tuple[bool, str]]] = {
    "gsm_symbolic": _gsm_symbolic,
    "basic_arithmetic": _exact,
    "knights_knaves": _knights_knaves,
    "countdown": _countdown,
}
