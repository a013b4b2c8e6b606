"""User benchmarks: the JSONL schema, its one-line errors, datasets on disk, official splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.cli import app
from benchmarks.jsonl import JsonlBenchmark
from benchmarks.registry import get_benchmark, protected_paths
from harness.errors import ConfigError

GOOD = [
    {"task_id": "cap-fr", "prompt": "Capital of France?", "answer": "Paris", "category": "geo"},
    {"task_id": "sum", "prompt": "2+2?", "answer": 4},
    {"task_id": "pi", "prompt": "pi to 2 places?", "answer": 3.14, "tolerance": 0.01},
    {"task_id": "year", "prompt": "A year in the 1990s?", "answer": "199\\d", "match": "regex"},
    {"task_id": "sq", "prompt": "Write square(x).", "tests": "assert square(3) == 9\n",
     "metadata": {"entry_point": "square"}, "split": "test"},
]


def _write(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


async def test_good_file_loads_and_scores(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl", GOOD)
    bench = get_benchmark(f"jsonl:{path}")
    assert len(bench.index()) == 5 and bench.split_of("sq") == "sealed"
    assert path.resolve() in protected_paths()
    for tid in ("cap-fr", "sum", "pi", "year"):
        task = bench.task(tid)
        gold = bench.reference_answer(tid)
        shown = gold if tid != "year" else 1994
        assert (await bench.score(task, f"Thinking...\nAnswer: {shown}")).passed
        assert not (await bench.score(task, "")).passed
    assert (await bench.score(bench.task("pi"), "about 3.149")).passed
    assert not (await bench.score(bench.task("pi"), "3.2")).passed
    sq = bench.task("sq")
    assert (await bench.score(sq, "```python\ndef square(x):\n    return x * x\n```")).passed
    bad = await bench.score(sq, "def square(x):\n    return x + x\n")
    assert not bad.passed and "AssertionError" in bad.detail


BAD_CASES = [
    (['{"task_id": "a", "prompt": "p", "answer": "x"}', '{"task_id": "b", "prompt": '],
     2, "(line)", "malformed JSON"),
    ([{"prompt": "p", "answer": "x"}], 1, "task_id", "missing"),
    ([{"task_id": "a", "prompt": "p", "answer": "x"}, {"task_id": "a", "prompt": "q", "answer": 1}],
     2, "task_id", "duplicate"),
    ([{"task_id": "a", "prompt": "p"}], 1, "answer", "missing"),
    ([{"task_id": "a", "prompt": "p", "answer": "x", "tests": "assert 1"}],
     1, "answer", "exactly one"),
    ([{"task_id": 7, "prompt": "p", "answer": "x"}], 1, "task_id", "non-empty string"),
    ([{"task_id": "a", "prompt": "p", "answer": ["x"]}], 1, "answer", "string or a number"),
    ([{"task_id": "a", "prompt": "p", "answer": "x", "metadata": "m"}], 1, "metadata", "object"),
    ([{"task_id": "a", "prompt": "p", "answer": "x", "split": "dev2"}], 1, "split", "one of"),
    ([{"task_id": "a", "prompt": "p", "answer": "x", "tolerance": -1}], 1, "tolerance", ">= 0"),
    ([{"task_id": "a", "prompt": "p", "answer": "ten", "match": "numeric"}],
     1, "answer", "not a number"),
    ([{"task_id": "a", "prompt": "p", "answer": "x", "promt": "typo"}],
     1, "promt", "unknown field"),
    (["[1, 2]"], 1, "(line)", "JSON object"),
]


@pytest.mark.parametrize(("rows", "line", "field", "problem"), BAD_CASES)
def test_bad_input_is_one_line_with_location(tmp_path: Path, rows, line, field, problem) -> None:
    path = _write(tmp_path / "bad.jsonl", rows)
    with pytest.raises(ConfigError) as info:
        JsonlBenchmark(path)
    message = str(info.value)
    assert "\n" not in message and info.value.exit_code == 2
    assert message.startswith(f"{path.resolve()}:{line}: {field}: ")
    assert problem in message
    result = CliRunner().invoke(app, ["show", f"jsonl:{path}"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and f":{line}: {field}: " in result.output


def test_nothing_partially_loaded(tmp_path: Path) -> None:
    path = _write(tmp_path / "half.jsonl", [GOOD[0], {"task_id": "x"}])
    spec = f"jsonl:{path}"
    with pytest.raises(ConfigError):
        get_benchmark(spec)
    with pytest.raises(ConfigError):  # not cached half-built: it fails again the same way
        get_benchmark(spec)


def test_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["show", f"jsonl:{tmp_path / 'nope.jsonl'}"])
    assert result.exit_code == 2 and "no such file" in result.output


async def test_saved_dataset_loads_through_the_same_schema(tmp_path: Path) -> None:
    import datasets

    rows = [{"task_id": f"q{i}", "prompt": f"{i}+1?", "answer": str(i + 1)} for i in range(6)]
    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_list(rows[:4]),
        "test": datasets.Dataset.from_list(rows[4:]),
    })
    dd.save_to_disk(str(tmp_path / "ds"))
    bench = get_benchmark(f"dataset:{tmp_path / 'ds'}")
    assert bench.split_counts() == {"train": 4, "held_out": 0, "sealed": 2}
    assert (await bench.score(bench.task("q2"), "Answer: 3")).passed
    bad = datasets.Dataset.from_list([{"task_id": "a", "prompt": "p"}])
    bad.save_to_disk(str(tmp_path / "bad"))
    with pytest.raises(ConfigError, match=r"bad:1: answer: missing"):
        get_benchmark(f"dataset:{tmp_path / 'bad'}")


def test_a_dataset_with_only_a_train_split_is_split_by_hash(tmp_path: Path) -> None:
    import datasets

    rows = [{"task_id": f"q{i}", "prompt": f"{i}+1?", "answer": str(i + 1)} for i in range(20)]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(
        str(tmp_path / "only-train"))
    counts = get_benchmark(f"dataset:{tmp_path / 'only-train'}").split_counts()
    assert counts == {"train": 10, "held_out": 6, "sealed": 4}
