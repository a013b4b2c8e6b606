"""What a candidate puts in the trace is bounded per episode, and every cut is marked.

The audit's case: sixteen 50 MB log messages took the harness to 3.3 GB and the trace store
to 840 MB. Here the same flood in messages just under the channel's limit must leave the
store small, and a message over the limit must end that episode as a protocol error without
the harness buffering it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.runner.channel import MAX_LINE, Channel, MessageTooLarge
from harness.testing import Reply, ScriptedServer
from tests.harness.runner.conftest import evaluate, scripted_config, write_agent, write_benchmark
from traces.store import TraceStore

FLOOD = """
import os, sys

def raw(data: bytes) -> None:
    fd = int(sys.argv[sys.argv.index("--write-fd") + 1])
    os.set_blocking(fd, True)  # the channel made it non-blocking; nothing else is pending
    view = memoryview(data + b"\\n")
    while view:
        view = view[os.write(fd, view):]

async def run(task, ctx):
    if task.task_id == "flood":  # straight onto the pipe: the worker's own cut is bypassed
        for i in range(16):
            raw(b'{"op": "log", "message": "' + b"A" * (3 * 1024 * 1024) + b'"}')
        for i in range(64):  # 16 KiB kept of each: over the episode's 1 MiB of log text
            raw(b'{"op": "log", "message": "' + b"B" * (20 * 1024) + b'"}')
        for i in range(1100):  # over the episode's 1,000 log events
            ctx.log("short")
    elif task.task_id == "over-limit":
        raw(b'{"op": "log", "message": "' + b"B" * (50 * 1024 * 1024) + b'"}')
        import time
        time.sleep(30)
    elif task.task_id == "names":
        async with ctx.subagent("\\x1b[2J\\n== agent fake\\u202e" + "x" * 5000):
            ctx.log("\\x1b]0;pwned\\x07 line\\n== agent fake")
    elif task.task_id == "big-request":
        try:
            await ctx.model.chat([{"role": "user", "content": "C" * (MAX_LINE + 10)}])
        except Exception as error:
            return type(error).__name__
    return "x"
""".replace("MAX_LINE", str(MAX_LINE))


async def run_flood(tmp_path: Path, task_ids: list[str], answer: str = "x") -> tuple[
        dict, Path]:
    bench = write_benchmark(tmp_path, [{"task_id": t, "prompt": "p", "answer": answer}
                                       for t in task_ids])
    agent = write_agent(tmp_path, FLOOD)
    with ScriptedServer(responder=lambda body: Reply.text("x")) as server:
        result, by_task = await evaluate(scripted_config(server, episode_time_s=20.0), agent,
                                         bench, tmp_path / "runs")
        assert server.requests == []
    return by_task, tmp_path / "runs" / result.run_id / "traces.sqlite"


def events_of(db: Path, episode_id: str) -> list[dict]:
    with TraceStore(db) as store:
        return [event for span in store.spans(episode_id) for event in span.events]


async def test_a_log_flood_leaves_the_store_small_and_says_what_was_dropped(
        tmp_path: Path) -> None:
    by_task, db = await run_flood(tmp_path, ["flood"])
    assert by_task["flood"].status == "scored" and by_task["flood"].passed
    store_bytes = sum(p.stat().st_size for p in db.parent.glob("traces.sqlite*"))
    assert store_bytes < 4 * 1024 * 1024  # 16 x 3 MB sent; before: all 48 MB stored
    events = events_of(db, by_task["flood"].episode_id)
    messages = [str(e["attributes"].get("message", "")) for e in events]
    assert any("bytes dropped (log message limit)" in m for m in messages)
    kept = [e for e in events if e["name"] == "agent.log"]
    assert len(kept) <= 1000
    assert sum(len(e["attributes"]["message"]) for e in kept) <= 1024 * 1024 + 64 * 1024
    [summary] = [e for e in events if e["name"] == "agent.log.dropped"]
    dropped = int(summary["attributes"]["message"].split()[0])
    assert dropped >= 1100 + 80 - 1000  # the count, and the bytes, are both said
    assert "bytes dropped" in summary["attributes"]["message"]


async def test_a_message_over_the_channel_limit_is_the_agents_protocol_error(
        tmp_path: Path) -> None:
    by_task, _ = await run_flood(tmp_path, ["over-limit"])
    episode = by_task["over-limit"]
    assert (episode.status, episode.error_kind) == ("failed", "protocol")
    assert str(MAX_LINE) in (episode.error or "")


async def test_a_request_too_big_for_the_channel_is_refused_in_the_worker(
        tmp_path: Path) -> None:
    by_task, _ = await run_flood(tmp_path, ["big-request"], answer="ModelRequestError")
    assert by_task["big-request"].passed  # refused before it was sent; the episode goes on


async def test_candidate_chosen_names_are_one_bounded_printable_line(tmp_path: Path) -> None:
    by_task, db = await run_flood(tmp_path, ["names"])
    with TraceStore(db) as store:
        spans = store.spans(by_task["names"].episode_id)
    [sub] = [s for s in spans if "agent fake" in s.name]
    assert len(sub.name) < 250 and sub.name.isprintable()
    assert "characters dropped" in sub.name
    assert sub.attributes["gen_ai.agent.name"] == sub.name.removeprefix("invoke_agent ")
    log = next(e for s in spans for e in s.events if e["name"] == "agent.log")
    assert log["attributes"]["message"].startswith("\x1b]0;pwned")  # stored as sent
    assert json.dumps(log)  # and rendered escaped (tests/traces/test_trace_escapes.py)


async def test_an_oversize_reply_becomes_an_error_reply_so_no_request_waits() -> None:
    read_fd, write_fd = os.pipe()
    back_r, back_w = os.pipe()
    sender = await Channel.open(back_r, write_fd)
    receiver = await Channel.open(read_fd, back_w)
    try:
        await sender.send({"id": 7, "ok": True, "value": "v" * (MAX_LINE + 1)})
        reply = await receiver.receive()
        assert (reply["id"], reply["ok"], reply["error"]["type"]) == (7, False,
                                                                      "ModelRequestError")
        with pytest.raises(MessageTooLarge):
            await sender.send({"id": 8, "op": "chat", "messages": "m" * MAX_LINE})
    finally:
        sender.close()
        receiver.close()
