"""What a sandboxed program must not reach: the network, files outside, hidden paths."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from harness.sandbox import SandboxPolicy, run, run_python, spawn

POLICY = SandboxPolicy(wall_time_s=15, cpu_time_s=10, memory_mb=512)

CONNECT = """
import socket, sys
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    print("connected")
except OSError as exc:
    print("blocked", type(exc).__name__)
"""


class Listener:
    def __init__(self) -> None:
        self.accepted = 0
        self.port = 0


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    """A TCP server on the host's 127.0.0.1 that counts the connections it accepts."""
    state = Listener()

    async def on_connect(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.accepted += 1
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    async with server:
        yield state


@pytest.mark.sandbox
@pytest.mark.parametrize("kind", ["bwrap", "unshare"], indirect=True)
async def test_network_is_unreachable(kind: str, listener: Listener) -> None:
    result = await run_python(CONNECT.format(port=listener.port), policy=POLICY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("blocked"), result.stdout
    assert listener.accepted == 0


@pytest.mark.sandbox
async def test_network_true_really_shares_the_network(bwrap: str, listener: Listener) -> None:
    policy = POLICY.model_copy(update={"network": True})
    result = await run_python(CONNECT.format(port=listener.port), policy=policy)
    assert result.stdout == "connected\n", result.stderr
    assert listener.accepted == 1


TAMPER = """
import os, sys
for path in sys.argv[1:]:
    for action in ("write", "delete"):
        try:
            if action == "write":
                with open(path, "w") as f:
                    f.write("tampered")
            else:
                os.remove(path)
            print(action, "ok", path)
        except OSError as exc:
            print(action, "failed", type(exc).__name__)
open("inside.txt", "w").write("mine")
print("own dir ok")
"""


@pytest.mark.sandbox
async def test_files_outside_the_workdir_survive(bwrap: str, tmp_path: Path) -> None:
    # World-writable, so only the sandbox (not file permissions) can protect them.
    shown, unbound = tmp_path / "shown", tmp_path / "unbound"
    for folder in (shown, unbound):
        folder.mkdir()
        folder.chmod(0o777)
        (folder / "victim.txt").write_text("original")
        (folder / "victim.txt").chmod(0o666)
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "tamper.py").write_text(TAMPER)
    policy = POLICY.model_copy(update={"readonly_paths": [shown]})
    argv = [sys.executable, "-I", "tamper.py", str(shown / "victim.txt"),
            str(unbound / "victim.txt")]
    result = await run(argv, policy=policy, workdir=workdir)
    assert result.returncode == 0, result.stderr
    assert " ok " not in result.stdout, result.stdout
    assert result.stdout.count("failed") == 4
    assert "own dir ok" in result.stdout
    for folder in (shown, unbound):
        assert (folder / "victim.txt").read_text() == "original"
    assert (workdir / "inside.txt").read_text() == "mine"


READ = """
import sys
for path in sys.argv[1:]:
    try:
        print(path, "READ", open(path).read())
    except OSError as exc:
        print(path, "denied", type(exc).__name__)
"""


@pytest.mark.sandbox
async def test_hidden_paths_are_unreadable_inside_a_readonly_tree(
        bwrap: str, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "secrets").mkdir(parents=True)
    for path, text in [(tree / "public.txt", "visible"), (tree / "secrets" / "key.txt", "KEY1"),
                       (tree / "answers.txt", "KEY2")]:
        path.write_text(text)
        path.chmod(0o644)  # readable by anyone, so only the sandbox can hide it
    (tree / "secrets").chmod(0o755)
    policy = POLICY.model_copy(update={
        "readonly_paths": [tree], "hidden_paths": [tree / "secrets", tree / "answers.txt"]})
    argv = [sys.executable, "-I", "-c", READ, str(tree / "public.txt"),
            str(tree / "secrets" / "key.txt"), str(tree / "answers.txt")]
    result = await run(argv, policy=policy)
    assert result.returncode == 0, result.stderr
    assert "READ visible" in result.stdout
    assert "KEY1" not in result.stdout and "KEY2" not in result.stdout
    assert result.stdout.count("denied") + result.stdout.count("READ \n") == 2, result.stdout


WORKER = """
import socket, sys
chan = socket.socket(fileno=int(sys.argv[1]))
request = chan.recv(1024)
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=2).close()
    net = b"connected"
except OSError:
    net = b"blocked"
chan.sendall(request.upper() + b"|" + net)
chan.close()
"""


async def test_spawned_worker_talks_over_inherited_socketpair(
        kind: str, tmp_path: Path, listener: Listener) -> None:
    (tmp_path / "worker.py").write_text(WORKER)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        argv = [sys.executable, "-I", "worker.py", str(theirs.fileno()), str(listener.port)]
        proc = await spawn(argv, policy=POLICY, workdir=tmp_path, pass_fds=[theirs.fileno()])
        theirs.close()
        ours.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(ours, b"ping")
        reply = await asyncio.wait_for(loop.sock_recv(ours, 1024), timeout=10)
    result = await proc.wait()
    network = "connected" if kind == "none" else "blocked"  # `none` cannot take it away
    assert reply == f"PING|{network}".encode()
    assert result.returncode == 0, result.stderr
    assert proc.isolation.kind == kind and result.isolated is (kind == "bwrap")
    assert listener.accepted == (1 if kind == "none" else 0)


TREE = """
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.fork() == 0:
    os.setsid()  # try to leave the process group
    while True:
        open("heartbeat", "w").write(str(time.time()))
        time.sleep(0.05)
print("parent up", flush=True)
while True:
    time.sleep(1)
"""


async def test_kill_ends_the_whole_tree(kind: str, tmp_path: Path) -> None:
    (tmp_path / "tree.py").write_text(TREE)
    proc = await spawn([sys.executable, "-I", "tree.py"], policy=POLICY, workdir=tmp_path)
    beat = tmp_path / "heartbeat"
    for _ in range(200):
        if beat.exists():
            break
        await asyncio.sleep(0.05)
    assert beat.exists()
    await proc.kill("cancelled")
    result = await proc.wait()
    assert result.killed_reason == "cancelled" and result.returncode is None
    await asyncio.sleep(0.3)
    last = beat.stat().st_mtime_ns
    await asyncio.sleep(0.5)
    assert beat.stat().st_mtime_ns == last, "a grandchild survived the kill"


@pytest.mark.sandbox
async def test_private_readonly_paths_are_still_readable_inside(
        bwrap: str, tmp_path: Path) -> None:
    candidate = tmp_path / "candidate"
    (candidate / "pkg").mkdir(parents=True)
    (candidate / "pkg" / "agent.py").write_text("ANSWER = 7\n")
    for path, mode in [(candidate / "pkg" / "agent.py", 0o600), (candidate / "pkg", 0o700),
                       (candidate, 0o700)]:
        path.chmod(mode)  # as mkdtemp / mkstemp-and-rename leave them
    policy = POLICY.model_copy(update={"readonly_paths": [candidate]})
    code = "import sys; sys.path.insert(0, sys.argv[1]); import pkg.agent; print(pkg.agent.ANSWER)"
    result = await run([sys.executable, "-I", "-c", code, str(candidate)], policy=policy)
    assert result.stdout == "7\n", result.stderr


async def test_concurrent_runs_do_not_interfere(kind: str) -> None:
    codes = [f"import os; print({i}, len(os.listdir('.')))" for i in range(6)]
    results = await asyncio.gather(*(run_python(c, policy=POLICY) for c in codes))
    assert [r.stdout for r in results] == [f"{i} 1\n" for i in range(6)]
