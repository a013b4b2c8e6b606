"""The code scorer cannot be gamed by the answer: the tests and the pass marker live in a
trusted checker process; the candidate runs in a child that only answers calls with plain
data. Each attack below passed against the old one-file scorer; each must fail now."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from benchmarks import get_benchmark
from benchmarks.code_scorer import run_tests

MARKER_RE = r"__harness_tests_passed_[0-9a-f]{32}__"

# Read every file of the run folder (main.py included) and everything else in reach, find
# anything shaped like the marker, print it every way there is, then leave with status 0.
STEAL_MARKER = f"""
import os, re, sys
found = set()
for root, _dirs, files in os.walk(os.getcwd()):
    for name in files:
        try:
            found.update(re.findall({MARKER_RE!r}, open(os.path.join(root, name),
                                                       encoding="latin-1").read()))
        except OSError:
            pass
for marker in found or ["__harness_tests_passed_" + "0" * 32 + "__"]:
    print(marker, flush=True)
    print(marker, file=sys.stderr, flush=True)
    for fd in (1, 2):
        os.write(fd, (marker + "\\n").encode())
os._exit(0)
"""

ALWAYS_EQUAL = """
class Anything:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __bool__(self):
        return True
"""


async def _humaneval(answer: str, task_id: str = "HumanEval/0"):
    bench = get_benchmark("humaneval")
    return await bench.score(bench.task(task_id), answer)


async def test_reading_the_run_folder_for_the_marker_fails() -> None:
    for where in ("    pass\n" + STEAL_MARKER,  # while loading
                  "    " + STEAL_MARKER.strip().replace("\n", "\n    ") + "\n"):  # when called
        score = await _humaneval(where)
        assert not score.passed, score.detail
        assert "candidate process exited with status 0" in score.detail


async def test_an_always_equal_object_fails() -> None:
    for answer in (
        ALWAYS_EQUAL + "\ndef has_close_elements(numbers, threshold):\n    return Anything()\n",
        # subclasses of plain types cross as their plain value: their __eq__ stays behind
        "class T(int):\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = int.__hash__\n\n"
        "def has_close_elements(numbers, threshold):\n    return T(7)\n",
    ):
        score = await _humaneval(answer)
        assert not score.passed, score.detail
        assert (("not plain data" in score.detail and "Anything" in score.detail)
                or "AssertionError" in score.detail), score.detail


async def test_printing_a_guessed_marker_or_exiting_early_fails() -> None:
    guessed = '"__harness_tests_passed_" + "0" * 32 + "__"'
    for answer in (
        f"    print({guessed})\n    return True\n",
        f"    import os\n    os.write(1, ({guessed} + '\\n').encode())\n    os._exit(0)\n",
        "    import os\n    os._exit(0)\n",
        "    import sys\n    sys.exit(0)\n",
        "    pass\nimport sys\nsys.exit(0)\n",
        "    pass\nimport os\nos._exit(0)\n",
    ):
        score = await _humaneval(answer)
        assert not score.passed, (answer, score.detail)


async def test_killing_the_checker_fails() -> None:
    for answer in ("    import os\n    os.kill(os.getppid(), 9)\n    return True\n",
                   "    pass\nimport os, time\nos.kill(os.getppid(), 9)\ntime.sleep(5)\n"):
        score = await _humaneval(answer)
        assert not score.passed, score.detail
        assert "killed" in score.detail


# Everything the child can see, at load time and again when called: its stdin, the files of the
# run folder, every string in its memory (gc), its modules, its frames, and the checker's /proc
# entries. The tests hold a secret token; neither it nor any marker may turn up.
SNOOP = """
import gc, inspect, os, re, select, sys

def _texts():
    out = [sys.stdin.read()]
    for fd in range(0, 64):
        try:
            if select.select([fd], [], [], 0)[0]:
                out.append(os.read(fd, 1 << 16).decode("latin-1"))
        except (OSError, ValueError):
            pass
    for root, _dirs, files in os.walk(os.getcwd()):
        for name in files:
            try:
                out.append(open(os.path.join(root, name), encoding="latin-1").read())
            except OSError:
                pass
    for obj in gc.get_objects():
        if isinstance(obj, dict):
            out.extend(v for v in list(obj.values()) if isinstance(v, str))
        elif isinstance(obj, (list, tuple)) and obj is not out:
            out.extend(v for v in obj if isinstance(v, str))
    out.extend(sys.modules)
    for frame in inspect.stack():
        out.extend(repr(v)[:10000] for v in frame.frame.f_globals.values())
        out.extend(repr(v)[:10000] for v in frame.frame.f_locals.values())
    return out

def _hits():
    texts = _texts()
    secret = "-".join(["SECRET", "TOKEN", "8231"])  # built after the scan: no false hit
    found = []
    for text in texts:
        found += re.findall(r"__harness_tests_passed_[0-9a-f]{32}__", text)
        found += [secret] * (secret in text)
    return sorted(set(found))

AT_LOAD = _hits()

def snooped():
    return AT_LOAD + _hits()

def proc():
    ppid, seen = os.getppid(), {}
    for what, mode in (("mem", "rb"), ("environ", "rb"), ("fd/1", "wb"), ("fd/0", "rb")):
        try:
            open(f"/proc/{ppid}/{what}", mode).close()
            seen[what] = "opened"
        except OSError as exc:
            seen[what] = type(exc).__name__
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                open(f"/proc/{pid}/fd/1", "wb").close()
                seen.setdefault("writable stdout", []).append(pid)
            except OSError:
                pass
    return seen
"""


async def test_the_child_holds_neither_tests_nor_marker() -> None:
    tests = ("# SECRET-TOKEN-8231: only the checker has this line\n"
             "assert snooped() == [], snooped()\n")
    score = await run_tests(SNOOP, tests)
    assert score.passed, score.detail


async def test_the_checker_memory_and_stdout_are_out_of_reach() -> None:
    from harness.sandbox import detect_isolation

    if not detect_isolation().isolated:
        pytest.skip("sandbox fell back to a plain process")
    tests = ("seen = proc()\n"
             "assert seen['mem'] == 'PermissionError', seen\n"
             "assert seen['fd/1'] == 'PermissionError', seen\n"
             "assert 'writable stdout' not in seen, seen\n")
    score = await run_tests(SNOOP, tests)
    assert score.passed, score.detail


# A module that, imported by the checker, would find the marker in its frames and pass.
PLANTED = """
import os, re, sys
frame = sys._getframe()
while frame is not None:
    for value in list(frame.f_locals.values()):
        if isinstance(value, str) and re.fullmatch(r"__harness_tests_passed_[0-9a-f]{32}__", value):
            sys.stdout.write(chr(10) + value + chr(10))
            sys.stdout.flush()
            os._exit(0)
    frame = frame.f_back
"""


async def test_modules_planted_in_the_run_folder_are_not_imported_by_the_checker() -> None:
    # The checker imports nothing from the run folder once the candidate runs: a planted
    # `random.py` (the tests import random) or `traceback.py` would otherwise run in it.
    plant = ("for name in ('random', 'math', 'copy', 'traceback', 'linecache', 're'):\n"
             "    with open(name + '.py', 'w') as fh:\n"
             f"        fh.write({PLANTED!r})\n"
             "def f(x):\n    return x + 1\n")
    score = await run_tests(plant, "import random, math, copy\nassert f(1) == 2\n")
    assert score.passed, score.detail
    score = await run_tests(plant, "import random, math, copy\nassert f(1) == 3\n")
    assert not score.passed and "AssertionError" in score.detail, score.detail


async def test_swallowed_protocol_failures_still_fail() -> None:
    code = "def f():\n    return object()\n\ndef g():\n    while True:\n        pass\n"
    for tests in ("try:\n    assert f() == 1\nexcept BaseException:\n    pass\n",
                  "try:\n    g()\nexcept BaseException:\n    pass\n"):
        score = await run_tests(code, tests, call_timeout_s=1)
        assert not score.passed, score.detail
        assert "swallowed" in score.detail


async def test_a_hung_call_fails_promptly() -> None:
    start = time.monotonic()
    score = await run_tests("def g():\n    while True:\n        pass\n", "g()\n",
                            call_timeout_s=1)
    assert not score.passed and "timed out after 1s while calling g()" in score.detail
    assert time.monotonic() - start < 10


async def test_garbage_on_the_channel_fails() -> None:
    code = ("import os\n"
            "def f():\n"
            "    for fd in range(3, 20):\n"
            "        try:\n"
            "            os.write(fd, b'not json\\n')\n"
            "        except OSError:\n"
            "            pass\n"
            "    return 1\n")
    score = await run_tests(code, "assert f() == 1\n")
    assert not score.passed and "malformed reply" in score.detail, score.detail


async def test_noise_on_stdout_and_stderr_does_not_fail_a_correct_answer() -> None:
    body = get_benchmark("humaneval").reference_answer("HumanEval/0")
    noisy = ("import sys\nprint('z' * 200_000)\nsys.stderr.write('w' * 200_000)\n\n"
             "def has_close_elements(numbers, threshold):\n"
             "    print('x' * 100_000)\n    print('y' * 100_000, file=sys.stderr)\n" + body)
    score = await _humaneval(noisy)
    assert score.passed, score.detail


async def test_exceptions_cross_as_builtin_types() -> None:
    code = ("class Mine(KeyError):\n    pass\n\n"
            "def f(x):\n"
            "    if x < 0:\n        raise ValueError('negative', x)\n"
            "    if x == 0:\n        raise Mine('zero')\n"
            "    if x == 1:\n        raise SystemExit(0)\n"
            "    return [x, (x, None), {x: {1.5, float('inf')}}, b'\\x00', frozenset({x})]\n")
    tests = ("import math\n"
             "try:\n    f(-1)\nexcept ValueError as e:\n    assert e.args == ('negative', -1)\n"
             "else:\n    raise AssertionError('no ValueError')\n"
             "try:\n    f(0)\nexcept KeyError as e:\n    assert e.args == ('zero',)\n"
             "try:\n    f(1)\nexcept RuntimeError as e:\n    assert 'SystemExit' in str(e)\n"
             "assert f(2) == [2, (2, None), {2: {1.5, math.inf}}, b'\\x00', frozenset({2})]\n"
             "assert type(f(2)[1]) is tuple\n")
    score = await run_tests(code, tests)
    assert score.passed, score.detail
    score = await run_tests(code, "f(-1)\n")
    assert not score.passed and "ValueError" in score.detail
    assert "raised by the candidate" in score.detail and "candidate.py, line 6" in score.detail


async def test_jsonl_tests_see_the_answers_functions_but_never_instead_of_builtins(
        tmp_path: Path) -> None:
    row = {"task_id": "t", "prompt": "Write f, g and h.",
           "tests": "assert f(2) == 4\nassert g('ab') == ['a', 'b']\n"
                    "assert sorted(h(1)) == [1, 3]\n"}
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(row) + "\n")
    bench = get_benchmark(f"jsonl:{path}")
    task = bench.task("t")
    good = ("def _sq(x):\n    return x * x\n\ndef f(x):\n    return _sq(x)\n\n"
            "def g(s):\n    return list(s)\n\ndef h(x):\n    return [3, x]\n")
    score = await bench.score(task, good)
    assert score.passed, score.detail
    # a `sorted` defined by the answer must not replace the tests' own sorted()
    shadow = good.replace("return [3, x]", "return [9]") + "\ndef sorted(x):\n    return [1, 3]\n"
    score = await bench.score(task, shadow)
    assert not score.passed and "AssertionError" in score.detail, score.detail
