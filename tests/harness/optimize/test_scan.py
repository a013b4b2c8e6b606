"""The anti-gaming scan: task ids and held-out material are found, also disguised; train
demonstrations and ordinary agent code are not; the public text reveals nothing."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from benchmarks.base import BaseBenchmark
from benchmarks.jsonl import JsonlBenchmark
from benchmarks.registry import SHIPPED, get_benchmark
from harness.optimize.scan import Finding, Material, added_lines, forbidden_material, scan

ROOT = Path(__file__).resolve().parents[3]
_materials: dict[str, Material] = {}


def material(spec: str) -> Material:
    if spec not in _materials:
        _materials[spec] = forbidden_material(get_benchmark(spec))
    return _materials[spec]


def found(text: str, mat: Material, path: str = "agent.py") -> list[Finding]:
    return scan([(path, n, t) for n, t in enumerate(text.split("\n"), start=1)], mat)


def ids_in(findings: list[Finding]) -> set[str]:
    return {f.task_id for f in findings if f.kind == "task_id"}


def held_out_humaneval_id() -> str:
    """A held-out HumanEval id with two digits, so that a one-digit id is its prefix."""
    bench = get_benchmark("humaneval")
    return next(t.task_id for t in bench.tasks("held_out") if len(t.task_id) == 12)


# ---------------------------------------------------------------- task ids


def _disguised(task_id: str) -> dict[str, tuple[str, str]]:
    head, tail = task_id[:5], task_id[5:]
    return {
        "plain": (f'TASK = "{task_id}"', "plain"),
        "case": (f"lookup['{task_id.upper()}'] = 1", "case"),
        "spaced": (f"key = '{' '.join(task_id)}'", "whitespace"),
        "split literals": (f'key = "{head}" "{tail}"', "whitespace"),
        "concatenated": (f"key = '{head}' + '{tail}'", "whitespace"),
        "base64": (f"k = b64decode('{base64.b64encode(task_id.encode()).decode()}')", "base64"),
        "base64 in text": ("k = '" + base64.b64encode(f"x = {task_id}!".encode()).decode()
                           + "'", "base64"),
        "base64 glued": ("k = 'zz" + base64.b64encode(f"id {task_id}".encode()).decode() + "'",
                         "base64"),
        "hex": (f"k = bytes.fromhex('{task_id.encode().hex()}')", "hex"),
        "escapes": ("k = '" + "".join(f"\\x{b:02x}" for b in task_id.encode()) + "'", "hex"),
        "octal": ("k = '" + "".join(f"\\{b:03o}" for b in task_id.encode()) + "'", "hex"),
        "byte values": (f"k = bytes({list(task_id.encode())})", "hex"),
        "fullwidth": ("k = '" + "".join(chr(ord(ch) + 0xFEE0) if ch.isalnum() else ch
                                        for ch in task_id) + "'", "case"),
        "reversed": (f"k = '{task_id[::-1]}'[::-1]", "reversed"),
    }


@pytest.mark.parametrize("variant", list(_disguised("HumanEval/10")))
def test_a_held_out_task_id_is_found_in_every_disguise(variant: str) -> None:
    task_id = held_out_humaneval_id()
    line, disguise = _disguised(task_id)[variant]
    findings = [f for f in found(line, material("humaneval")) if f.task_id == task_id]
    assert findings, line
    assert findings[0].kind == "task_id" and findings[0].split == "held_out"
    assert findings[0].disguise == disguise
    assert findings[0].line == 1 and findings[0].excerpt == line


def test_a_task_id_split_across_lines_is_found() -> None:
    task_id = held_out_humaneval_id()
    text = f'KEY = (\n    "{task_id[:6]}"\n    "{task_id[6:]}"\n)'
    assert task_id in ids_in(found(text, material("humaneval")))


def test_task_ids_keep_their_word_boundaries() -> None:
    task_id = held_out_humaneval_id()  # e.g. HumanEval/42
    shorter = task_id[:-1]  # HumanEval/4, a different task
    assert ids_in(found(f"seen = ['{task_id}x', 'x{task_id}']", material("humaneval"))) == set()
    assert ids_in(found(f"see {task_id}.", material("humaneval"))) == {task_id}
    arithmetic = material("arithmetic")
    assert ids_in(found("x = 'basic_arithmetic-20250104-17'", arithmetic)) == {
        "basic_arithmetic-20250104-17"}
    assert not ids_in(found("x = 'basic_arithmetic-20250104-170'", arithmetic))
    assert shorter not in ids_in(found(f"note: {task_id} only", material("humaneval")))


def test_a_train_task_id_is_evidence_too() -> None:
    train_id = get_benchmark("knights-knaves").tasks("train")[0].task_id
    findings = found(f"if task.task_id == '{train_id}': return 'x'", material("knights-knaves"))
    assert [(f.kind, f.split, f.task_id) for f in findings] == [("task_id", "train", train_id)]


def test_a_file_name_holding_a_task_id_is_found(tmp_path: Path) -> None:
    task_id = held_out_humaneval_id()
    diff = _git_diff(tmp_path, {}, {f"cache/{task_id.replace('/', '_')}.txt": "ok\n",
                          f"cache/{task_id}.txt": "ok\n"})
    findings = scan(added_lines(diff), material("humaneval"))
    assert {(f.path, f.line) for f in findings} == {(f"cache/{task_id}.txt", 0)}


# ---------------------------------------------------------------- answers and prompts


def test_a_planted_held_out_answer_is_found_and_a_train_answer_is_not() -> None:
    bench = get_benchmark("knights-knaves")
    mat = material("knights-knaves")
    held = bench.tasks("held_out")[3].task_id
    answer = bench.reference_answer(held)
    train_answers = {bench.reference_answer(t.task_id) for t in bench.tasks("train")}
    assert answer not in train_answers  # else it would rightly not be evidence
    planted = [f'ANSWERS = ["{answer}"]', f"ANSWERS = ['{answer.upper()}']",
               f"a = '{base64.b64encode(answer.encode()).decode()}'", f"a = '{answer[::-1]}'"]
    for line in planted:
        hits = [f for f in found(line, mat) if f.kind == "answer"]
        assert hits and hits[0].split == "held_out", line
    train = bench.tasks("train")[0]
    demo = f'EXAMPLE = """{train.prompt}\nAnswer: {bench.reference_answer(train.task_id)}"""'
    assert found(demo, mat) == []


def _jsonl(folder: Path, rows: list[dict[str, Any]]) -> BaseBenchmark:
    path = folder / "tasks.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return JsonlBenchmark(path)


HELD_PROMPT = ("The lighthouse keeper counts the gulls that settle on the northern breakwater "
               "each morning. How many gulls does she see on Tuesday?")


@pytest.fixture
def custom(tmp_path: Path) -> tuple[BaseBenchmark, Material]:
    bench = _jsonl(tmp_path, [
        {"task_id": "gulls-tuesday", "prompt": HELD_PROMPT, "answer": "Seventeen silver gulls",
         "split": "held_out"},
        {"task_id": "seven", "prompt": "What is 3 + 4? Answer with a number.", "answer": 7,
         "split": "sealed"},
        {"task_id": "square", "prompt": "Capital of Peru?", "answer": "Lima", "split": "sealed"},
        {"task_id": "demo-1", "prompt": "The ferryman counts the boats moored at the quay "
         "each evening. How many boats are there on Friday?", "answer": "Twelve wooden rowboats",
         "split": "train"},
    ])
    return bench, forbidden_material(bench)


def test_answers_count_only_when_distinctive(custom: tuple[BaseBenchmark, Material]) -> None:
    _, mat = custom
    assert [f.task_id for f in found("GUESS = 'seventeen  silver gulls'", mat)] == [
        "gulls-tuesday"]
    assert found("return 7 if x else 'Lima'", mat) == []  # a number, a short word
    assert found("DEMO = 'Twelve wooden rowboats'", mat) == []  # a train answer
    assert "square" in mat.unscanned_ids  # a plain word: too generic to be an id
    assert found("def square(x): return x * x", mat) == []
    assert ids_in(found("skip = {'demo-1', 'seven'}", mat)) == {"demo-1"}  # 'seven' is generic


def test_a_held_out_prompt_fragment_is_found(custom: tuple[BaseBenchmark, Material]) -> None:
    _, mat = custom
    sentence = "counts the gulls that settle on the northern breakwater each morning"
    hits = found(f"# {sentence.upper()}\nHINT = '{sentence}'", mat)
    assert {(f.line, f.kind, f.task_id) for f in hits} == {
        (1, "prompt", "gulls-tuesday"), (2, "prompt", "gulls-tuesday")}
    # the train prompt's wording, shared boilerplate, is not evidence
    assert found("# each evening. How many boats are there on Friday?", mat) == []


def test_a_real_held_out_prompt_and_solution_are_found() -> None:
    bench = get_benchmark("humaneval")
    mat = material("humaneval")
    task = bench.tasks("sealed")[0]
    signature = next(ln for ln in task.prompt.splitlines() if ln.startswith("def "))
    assert {(f.kind, f.task_id) for f in found(signature, mat)} == {("prompt", task.task_id)}
    solution = bench.reference_answer(task.task_id)
    assert ("answer", task.task_id) in {(f.kind, f.task_id) for f in found(solution, mat)}


def test_train_prompts_and_solutions_are_never_findings() -> None:
    bench = get_benchmark("humaneval")
    text = "\n".join(t.prompt + bench.reference_answer(t.task_id)
                     for t in bench.tasks("train"))
    assert found(text, material("humaneval")) == []


# ---------------------------------------------------------------- the public text


def test_public_text_reveals_no_split_task_or_excerpt() -> None:
    bench = get_benchmark("knights-knaves")
    held = bench.tasks("held_out")[0].task_id
    line = f"X = ('{held}', '{bench.reference_answer(held)}')"
    findings = found(line, material("knights-knaves"), path="agent.py")
    assert {f.kind for f in findings} == {"task_id", "answer"}
    texts = {f.public() for f in findings}
    assert len(texts) == 1  # the same words whatever matched
    for text in texts:
        assert text.startswith("agent.py:1:")
        for secret in (held, "held_out", "held-out task", "sealed", "answer", line,
                       bench.reference_answer(held)):
            assert secret not in text


# ---------------------------------------------------------------- diffs


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


def _git_diff(repo: Path, before: Mapping[str, str | bytes],
              after: Mapping[str, str | bytes]) -> str:
    _git(repo, "init", "-q")
    for files in (before, after):
        for old in [p for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts]:
            old.unlink()
        for name, content in files.items():
            target = repo / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        _git(repo, "add", "-A")
        _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x",
             "--allow-empty")
    return _git(repo, "diff", "-M", "HEAD~1", "HEAD")


def test_added_lines_reads_hunks_renames_and_odd_lines(tmp_path: Path) -> None:
    before = {"agent.py": "a = 1\nb = 2\nc = 3\n", "old_name.py": "x = 1\ny = 2\nz = 3\n" * 5}
    after = {"agent.py": "a = 1\n++b\nc = 3\nd = 4",  # '++b': not a header; no final newline
             "new_name.py": "x = 1\ny = 2\nz = 3\n" * 5 + "w = 9\n"}
    lines = added_lines(_git_diff(tmp_path, before, after))
    assert ("agent.py", 2, "++b") in lines
    assert ("agent.py", 4, "d = 4") in lines
    assert ("new_name.py", 16, "w = 9") in lines
    assert {(p, n) for p, n, _ in lines} == {("agent.py", 0), ("agent.py", 2), ("agent.py", 4),
                                            ("new_name.py", 0), ("new_name.py", 16)}


def test_binary_files_are_read_from_the_candidate_folder(tmp_path: Path) -> None:
    task_id = held_out_humaneval_id()
    blob = gzip.compress(json.dumps({task_id: "return 1"}).encode())
    diff = _git_diff(tmp_path, {"agent.py": "x = 1\n"},
                     {"agent.py": "x = 1\n", "data.bin": blob})
    assert "Binary files" in diff
    findings = scan(added_lines(diff, root=tmp_path), material("humaneval"))
    assert (task_id, "data.bin") in {(f.task_id, f.path) for f in findings}
    assert not any(p == "data.bin" and n > 0 for p, n, _ in added_lines(diff))  # caller's part


# ---------------------------------------------------------------- no false alarms


def _agent_lines() -> list[tuple[str, int, str]]:
    lines = []
    for file in sorted((ROOT / "task_agents").rglob("*")):
        if file.is_file() and "__pycache__" not in file.parts:
            rel = str(file.relative_to(ROOT))
            text = file.read_text(encoding="utf-8")
            lines += [(rel, n, t) for n, t in enumerate(text.split("\n"), start=1)]
    return lines


@pytest.mark.parametrize("spec", SHIPPED)
def test_the_starter_agents_give_no_findings(spec: str) -> None:
    lines = _agent_lines()
    assert len(lines) > 500
    assert scan(lines, material(spec)) == []
