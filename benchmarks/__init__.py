"""Benchmarks: the `Benchmark` protocol, shipped adapters, the user JSONL adapter, the split rule.

    from benchmarks import get_benchmark
    bench = get_benchmark("humaneval")
    for task in bench.tasks("train"):          # held_out / sealed must be named explicitly
        score = await bench.score(task, answer)

This package is itself protected data (it can produce every answer): `protected_paths()`
includes it, so sandboxed candidate code cannot read or import it.
"""

from benchmarks.base import SCHEMA_VERSION, SPLITS, BaseBenchmark, Benchmark, Score, Task
from benchmarks.registry import get_benchmark, list_benchmarks, protected_paths
from benchmarks.splits import DEFAULT_RATIOS, DEFAULT_SEED, Split, TaskRef, assign_splits

__all__ = [
    "DEFAULT_RATIOS",
    "DEFAULT_SEED",
    "SCHEMA_VERSION",
    "SPLITS",
    "BaseBenchmark",
    "Benchmark",
    "Score",
    "Split",
    "Task",
    "TaskRef",
    "assign_splits",
    "get_benchmark",
    "list_benchmarks",
    "protected_paths",
]
