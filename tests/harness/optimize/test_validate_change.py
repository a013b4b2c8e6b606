"""The change checks before any evaluation: no-ops, duplicates, opaque code."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.registry import get_benchmark
from harness.optimize.scan import Material, forbidden_material
from harness.optimize.validate import check_change
from harness.optimize.versions import Versions
from tests.harness.optimize.conftest import write_echo_agent, write_tasks


@pytest.fixture
def material(tmp_path: Path) -> Material:
    return forbidden_material(get_benchmark(write_tasks(tmp_path)))


def _commit(versions: Versions, number: int, folder: Path, text: str) -> None:
    (folder / "agent.py").write_text(text)
    versions.commit_candidate(number, folder, f"exp {number}")


def test_comment_only_changes_and_copies_are_refused(tmp_path: Path, material: Material) -> None:
    agent = write_echo_agent(tmp_path)
    base = (agent / "agent.py").read_text()
    versions = Versions(tmp_path / "repo")
    versions.init(agent)
    _commit(versions, 0, agent, base)
    _commit(versions, 1, agent, base + "\nA = 1\n")  # change A on the baseline
    _commit(versions, 2, agent, base + "\nB = 2\n")  # change B on the baseline (kept, say)
    _commit(versions, 3, agent, base + "\n# only a comment\n\n\n")
    verdict, _ = check_change(versions, 3, "exp-0000", [(1, "exp-0000"), (2, "exp-0000")],
                              material)
    assert not verdict.ok and verdict.reason == "no-op: only comments or layout changed"
    _commit(versions, 4, agent, base + "\nA  =  1   # same code as exp-0001, new layout\n")
    verdict, _ = check_change(versions, 4, "exp-0000", [(1, "exp-0000"), (2, "exp-0000")],
                              material)
    assert not verdict.ok and "duplicate" in verdict.reason and "exp-0001" in verdict.reason
    # the same change A applied to another parent (exp-0002) is a copy too
    _commit(versions, 5, agent, base + "\nB = 2\n" + "\nA = 1\n")
    earlier = [(1, "exp-0000"), (2, "exp-0000")]
    verdict, _ = check_change(versions, 5, "exp-0002", earlier, material)
    assert not verdict.ok and "exp-0001" in verdict.reason, verdict.reason
    # a real change is fine
    _commit(versions, 6, agent, base + "\nC = 3\n")
    verdict, diff = check_change(versions, 6, "exp-0000", earlier, material)
    assert verdict.ok and "+C = 3" in diff


def test_code_size_is_not_fooled_by_packing(tmp_path: Path) -> None:
    import base64
    import zlib

    agent = write_echo_agent(tmp_path)
    plain = (agent / "agent.py").read_text()
    versions = Versions(tmp_path / "repo")
    versions.init(agent)
    _commit(versions, 0, agent, plain)
    packed = base64.b64encode(zlib.compress(plain.encode(), 9)).decode()
    _commit(versions, 1, agent, f"import base64, zlib\nexec(zlib.decompress("
                                f"base64.b64decode('{packed}')))\n")
    assert versions.code_size("exp-0001") >= versions.code_size("exp-0000")
    _commit(versions, 2, agent, plain.replace('"""Echo agent: asks the model once and answers '
                                              'with its reply."""\n', ""))
    assert versions.code_size("exp-0002") < versions.code_size("exp-0000")


@pytest.mark.parametrize("line", [
    "exec(SOURCE)", "x = eval ('1+1')", "import zlib; zlib.decompress(b'...')",
    "codecs.decode(s, 'rot13')", "base64.b64decode(s)", "bytes.fromhex('ab')",
    "pickle.loads(blob)", "m = __import__('os')", "code = compile(s, 'x', 'exec')"])
def test_added_code_that_hides_its_content_is_refused(tmp_path: Path, material: Material,
                                                      line: str) -> None:
    agent = write_echo_agent(tmp_path)
    base = (agent / "agent.py").read_text()
    versions = Versions(tmp_path / "repo")
    versions.init(agent)
    _commit(versions, 0, agent, base)
    _commit(versions, 1, agent, base + f"\n{line}\n")
    verdict, _ = check_change(versions, 1, "exp-0000", [], material)
    assert not verdict.ok and verdict.reason.startswith("opaque code: agent.py:"), verdict


def test_ordinary_code_is_not_opaque(tmp_path: Path, material: Material) -> None:
    agent = write_echo_agent(tmp_path)
    base = (agent / "agent.py").read_text()
    versions = Versions(tmp_path / "repo")
    versions.init(agent)
    _commit(versions, 0, agent, base)
    _commit(versions, 1, agent, base + "\nevaluate = 1\nretrieval(x)\nmy_exec_count = 2\n")
    verdict, _ = check_change(versions, 1, "exp-0000", [], material)
    assert verdict.ok, verdict.reason
