"""Runner overhead: model calls through runner + sandbox + tracing, against scripted servers.

    .venv/bin/python bench/runner_overhead.py [--quick] [--out FILE]

1. Throughput: an instant scripted server; E episodes run at once, each making C chat calls
   in a row. Reported: calls/s through the whole path (worker → pipe → host → traced client
   → HTTP → server), next to the same calls made directly with the client (the ceiling set
   by the HTTP server and client on this machine), and worker start-up time.
2. Latency: every reply takes 1 s; 64 episodes at once, each making L calls in a row. The
   ideal wall time is L seconds; reported is the measured wall time over that ideal, and the
   same for the part after the workers started (the steady-state overhead).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from harness.config import load_config
from harness.models.openai_client import OpenAIClient
from harness.runner.run import EvalRequest, run_eval
from harness.testing import Reply, ScriptedServer

AGENT = """
import time

async def run(task, ctx):
    started = time.monotonic()
    for _ in range({calls}):
        await ctx.model.chat([{{"role": "user", "content": "ping"}}], max_tokens=1)
    return {{"calls_s": time.monotonic() - started}}
"""


def _setup(folder: Path, episodes: int, calls: int) -> tuple[Path, str]:
    folder.mkdir(parents=True, exist_ok=True)
    bench = folder / "tasks.jsonl"
    bench.write_text("".join(json.dumps({"task_id": f"e{i}", "prompt": "p", "answer": "x",
                                         "split": "train"}) + "\n" for i in range(episodes)))
    agent = folder / "agent"
    agent.mkdir(exist_ok=True)
    (agent / "agent.py").write_text(AGENT.format(calls=calls))
    return agent, f"jsonl:{bench}"


async def _eval(server: ScriptedServer, folder: Path, episodes: int, calls: int) -> dict:
    agent, bench = _setup(folder, episodes, calls)
    config = load_config(None, model=f"openai:{server.base_url}#scripted", max_retries=0,
                         concurrency=episodes, episode_time_s=600.0)
    started = time.perf_counter()
    result = await run_eval(config, EvalRequest(agent_dir=agent, benchmark=bench,
                                                out_dir=folder / "runs"))
    wall = time.perf_counter() - started
    made = sum(e.model_calls for e in result.episodes)
    latencies = [e.latency_s for e in result.episodes]
    return {"wall_s": wall, "calls": made, "episodes": len(result.episodes),
            "failed": sum(e.status != "scored" for e in result.episodes),
            "episode_latency_median_s": statistics.median(latencies)}


async def _direct(server: ScriptedServer, concurrency: int, calls: int) -> float:
    client = OpenAIClient(server.base_url, "scripted", max_retries=0)

    async def one() -> None:
        for _ in range(calls):
            await client.chat([{"role": "user", "content": "ping"}], max_tokens=1)

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await client.aclose()
    return concurrency * calls / elapsed


async def _startup(folder: Path) -> float:
    with ScriptedServer(responder=lambda body: Reply.text("ok")) as server:
        stats = await _eval(server, folder / "startup", 1, 0)
    return float(stats["wall_s"])


async def throughput(folder: Path, episodes: int, calls: int) -> dict:
    with ScriptedServer(responder=lambda body: Reply.text("ok")) as server:
        direct = await _direct(server, episodes, calls)
        stats = await _eval(server, folder / "throughput", episodes, calls)
    startup = await _startup(folder)
    steady = stats["wall_s"] - startup
    return {"episodes": episodes, "calls_per_episode": calls,
            "calls_per_s_end_to_end": round(stats["calls"] / stats["wall_s"], 1),
            "calls_per_s_after_startup": round(stats["calls"] / max(steady, 1e-6), 1),
            "calls_per_s_direct_client": round(direct, 1),
            "single_episode_startup_s": round(startup, 2), **stats}


async def latency(folder: Path, episodes: int, calls: int) -> dict:
    with ScriptedServer(responder=lambda body: Reply.text("ok", delay_s=1.0)) as server:
        stats = await _eval(server, folder / "latency", episodes, calls)
    ideal = float(calls)
    return {"episodes": episodes, "calls_per_episode": calls, "ideal_s": ideal,
            "wall_over_ideal": round(stats["wall_s"] / ideal, 3),
            "median_episode_over_ideal": round(stats["episode_latency_median_s"] / ideal, 3),
            **stats}


async def main_async(quick: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-runner-") as tmp:
        folder = Path(tmp)
        return {
            "throughput": await throughput(folder, 4 if quick else 8, 50 if quick else 250),
            "latency": await latency(folder, 16 if quick else 64, 3 if quick else 10),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    report = asyncio.run(main_async(args.quick))
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
