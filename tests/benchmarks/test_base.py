"""The Benchmark contract: protocol conformance, split-named access, datasets, Score bounds."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from benchmarks import SCHEMA_VERSION, Benchmark, Score, get_benchmark, list_benchmarks


@pytest.mark.parametrize("spec", list_benchmarks())
def test_every_shipped_benchmark_meets_the_protocol(spec: str) -> None:
    bench = get_benchmark(spec)
    assert isinstance(bench, Benchmark)
    assert bench.id and bench.description
    assert get_benchmark(spec) is bench  # cached per process


def test_tasks_require_a_named_split() -> None:
    bench = get_benchmark("humaneval")
    with pytest.raises(TypeError):
        bench.tasks()  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="unknown split"):
        bench.tasks("all")  # type: ignore[arg-type]
    assert {t.task_id for t in bench.tasks("held_out")}.isdisjoint(
        t.task_id for t in bench.tasks("train"))


def test_dataset_view_is_built_offline() -> None:
    bench = get_benchmark("bfcl")
    ds = bench.dataset("train")
    assert len(ds) == bench.split_counts()["train"]
    row = ds[0]
    assert row["schema_version"] == SCHEMA_VERSION
    assert isinstance(json.loads(row["tools"]), list)


def test_score_bounds() -> None:
    with pytest.raises(ValidationError):
        Score(value=1.5, passed=True)
    assert Score.fail("x").value == 0 and not Score.fail("x").passed
