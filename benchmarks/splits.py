"""The split rule: every task goes to exactly one of train / held_out / sealed.

Rule (stable on every machine and Python version: no `hash()`, no floats):
1. A task whose benchmark gives it an official split keeps that split.
2. The other tasks are grouped by category. Within a category they are ordered by
   `sha256(f"{seed}\\x00{task_id}")`, and the first `q_train` go to train, the next `q_held`
   to held_out, the rest to sealed.
3. The quotas `q` per category are the floors of `n_c * ratio / sum(ratios)` (exact fractions);
   the one or two leftover tasks of each category go to the splits whose benchmark-wide total
   is furthest below its target (ties: larger remainder in this category, then split order).
   So every category is split within ±1 of its share and the totals land within ±1 of target.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from fractions import Fraction
from typing import Literal, NamedTuple

Split = Literal["train", "held_out", "sealed"]
SPLIT_ORDER: tuple[Split, ...] = ("train", "held_out", "sealed")
DEFAULT_SEED = "harness-optimizer/v1"
DEFAULT_RATIOS: tuple[int, ...] = (50, 30, 20)


class TaskRef(NamedTuple):
    """What the split rule needs to know about a task: no text, no answer."""

    task_id: str
    category: str
    official_split: Split | None = None


def task_hash(task_id: str, seed: str = DEFAULT_SEED) -> str:
    return hashlib.sha256(f"{seed}\x00{task_id}".encode()).hexdigest()


def parse_ratios(text: str) -> tuple[int, int, int]:
    """`"50,30,20"` -> (50, 30, 20). Raises ValueError with a one-line reason."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"expected three non-negative integers like 50,30,20, got {text!r}")
    a, b, c = (int(p) for p in parts)
    if a + b + c == 0:
        raise ValueError("ratios must not all be zero")
    return a, b, c


def _quotas(
    sizes: dict[str, int], ratios: tuple[int, ...]
) -> dict[str, list[int]]:
    total_ratio = sum(ratios)
    n_total = sum(sizes.values())
    exact_total = [Fraction(n_total * r, total_ratio) for r in ratios]
    quotas: dict[str, list[int]] = {}
    remainders: dict[str, list[Fraction]] = {}
    for cat, n in sizes.items():
        exact = [Fraction(n * r, total_ratio) for r in ratios]
        quotas[cat] = [int(e) for e in exact]  # floor: all exact values are >= 0
        remainders[cat] = [e - int(e) for e in exact]
    assigned = [sum(q[i] for q in quotas.values()) for i in range(len(ratios))]
    for cat in sorted(sizes):
        leftover = sizes[cat] - sum(quotas[cat])
        candidates = [i for i in range(len(ratios)) if remainders[cat][i] > 0]
        for _ in range(leftover):
            best = max(
                candidates,
                key=lambda i: (exact_total[i] - assigned[i], remainders[cat][i], -i),
            )
            candidates.remove(best)
            quotas[cat][best] += 1
            assigned[best] += 1
    return quotas


def assign_splits(
    refs: list[TaskRef],
    *,
    seed: str = DEFAULT_SEED,
    ratios: tuple[int, ...] = DEFAULT_RATIOS,
) -> dict[str, Split]:
    """Map every task id to its split (see the module docstring for the rule)."""
    if len(ratios) != len(SPLIT_ORDER) or any(r < 0 for r in ratios) or sum(ratios) == 0:
        raise ValueError(f"ratios must be three non-negative integers, got {ratios!r}")
    seen: set[str] = set()
    result: dict[str, Split] = {}
    by_cat: dict[str, list[str]] = defaultdict(list)
    for ref in refs:
        if ref.task_id in seen:
            raise ValueError(f"duplicate task_id {ref.task_id!r}")
        seen.add(ref.task_id)
        if ref.official_split is not None:
            result[ref.task_id] = ref.official_split
        else:
            by_cat[ref.category].append(ref.task_id)
    quotas = _quotas({c: len(ids) for c, ids in by_cat.items()}, ratios)
    for cat, ids in by_cat.items():
        ordered = sorted(ids, key=lambda t: (task_hash(t, seed), t))
        start = 0
        for split, count in zip(SPLIT_ORDER, quotas[cat], strict=True):
            for task_id in ordered[start : start + count]:
                result[task_id] = split
            start += count
    return result
