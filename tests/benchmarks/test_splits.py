"""The split rule: disjoint, covering, stable, stratified, proportions, official splits."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable
from fractions import Fraction

import pytest

from benchmarks import SPLITS, TaskRef, assign_splits, get_benchmark, list_benchmarks
from benchmarks.splits import SPLIT_ORDER


def _digest(assignment: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(assignment.items())).encode()).hexdigest()


def _refs(sizes: dict[str, int]) -> list[TaskRef]:
    return [TaskRef(f"{cat}/{i}", cat) for cat, n in sizes.items() for i in range(n)]


@pytest.mark.parametrize("spec", list_benchmarks())
def test_splits_disjoint_and_covering(spec: str) -> None:
    bench = get_benchmark(spec)
    ids = [ref.task_id for ref in bench.index()]
    per_split = {s: {r.task_id for r in bench.index() if bench.split_of(r.task_id) == s}
                 for s in SPLITS}
    assert sum(len(v) for v in per_split.values()) == len(ids) == len(set(ids))
    assert set().union(*per_split.values()) == set(ids)
    assert bench.split_counts() == {s: len(v) for s, v in per_split.items()}


@pytest.mark.parametrize("spec", list_benchmarks())
def test_totals_within_two_of_target(spec: str) -> None:
    bench = get_benchmark(spec)
    n = len(bench.index())
    counts = bench.split_counts()
    for split, ratio in zip(SPLIT_ORDER, (50, 30, 20), strict=True):
        assert abs(counts[split] - Fraction(n * ratio, 100)) <= 2


@pytest.mark.parametrize("seed", range(20))
def test_random_category_mixes_are_stratified_and_on_target(seed: int) -> None:
    rng = random.Random(seed)
    sizes = {f"c{i}": rng.randint(1, 40) for i in range(rng.randint(1, 12))}
    ratios = rng.choice([(50, 30, 20), (60, 20, 20), (1, 1, 1), (70, 30, 0)])
    assignment = assign_splits(_refs(sizes), ratios=ratios, seed=str(seed))
    total = sum(sizes.values())
    overall = Counter(assignment.values())
    for i, split in enumerate(SPLIT_ORDER):
        assert abs(overall[split] - Fraction(total * ratios[i], sum(ratios))) <= 2
        for cat, n in sizes.items():
            got = sum(1 for t, s in assignment.items() if s == split and t.startswith(cat + "/"))
            assert abs(got - Fraction(n * ratios[i], sum(ratios))) < 1  # stratified: within ±1


def test_bfcl_split_is_stratified_by_category() -> None:
    bench = get_benchmark("bfcl")
    by_cat = Counter((r.category, bench.split_of(r.task_id)) for r in bench.index())
    sizes = Counter(r.category for r in bench.index())
    for cat, n in sizes.items():
        for split, ratio in zip(SPLIT_ORDER, (50, 30, 20), strict=True):
            assert abs(by_cat[cat, split] - Fraction(n * ratio, 100)) < 1


def test_seed_changes_assignment_but_not_counts() -> None:
    refs = _refs({"a": 50, "b": 31})
    one, two = assign_splits(refs, seed="x"), assign_splits(refs, seed="y")
    assert one != two
    assert Counter(one.values()) == Counter(two.values())


def test_stable_across_processes_and_hash_seeds(run_python_subprocess: Callable[..., str]) -> None:
    code = (
        "import hashlib, json\n"
        "from benchmarks import get_benchmark\n"
        "out = {}\n"
        "for spec in ('humaneval', 'bfcl', 'countdown'):\n"
        "    b = get_benchmark(spec)\n"
        "    a = sorted((r.task_id, b.split_of(r.task_id)) for r in b.index())\n"
        "    out[spec] = hashlib.sha256(json.dumps(a).encode()).hexdigest()\n"
        "print(json.dumps(out))\n"
    )
    here = {}
    for spec in ("humaneval", "bfcl", "countdown"):
        b = get_benchmark(spec)
        here[spec] = _digest({r.task_id: b.split_of(r.task_id) for r in b.index()})
    for hash_seed in ("0", "1", "12345"):
        there = json.loads(run_python_subprocess(code, {"PYTHONHASHSEED": hash_seed}))
        assert there == here


def test_assignment_is_pinned() -> None:
    """The rule must not drift between releases: a few assignments are fixed here."""
    bench = get_benchmark("humaneval")
    got = {t: bench.split_of(t) for t in ("HumanEval/0", "HumanEval/1", "HumanEval/2",
                                          "HumanEval/3", "HumanEval/163")}
    assert got == PINNED


PINNED: dict[str, str] = {
    "HumanEval/0": "sealed", "HumanEval/1": "held_out", "HumanEval/2": "sealed",
    "HumanEval/3": "sealed", "HumanEval/163": "train",
}


def test_official_split_is_used() -> None:
    refs = [TaskRef(f"t{i}", "c", "sealed" if i < 10 else None) for i in range(40)]
    assignment = assign_splits(refs)
    assert all(assignment[f"t{i}"] == "sealed" for i in range(10))
    rest = Counter(assignment[f"t{i}"] for i in range(10, 40))
    assert rest == {"train": 15, "held_out": 9, "sealed": 6}


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        assign_splits([TaskRef("a", "c"), TaskRef("a", "d")])
