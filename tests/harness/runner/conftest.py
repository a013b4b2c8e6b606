"""Helpers for runner tests: a jsonl benchmark, a candidate folder, and a config."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from harness.config import HarnessConfig, load_config
from harness.runner.results import EpisodeResult, RunResult
from harness.runner.run import EvalRequest, run_eval
from harness.testing import ScriptedServer


def write_benchmark(folder: Path, tasks: list[dict[str, Any]]) -> str:
    path = folder / "tasks.jsonl"
    path.write_text("".join(json.dumps({"split": "train", **t}) + "\n" for t in tasks))
    return f"jsonl:{path}"


def write_agent(folder: Path, code: str) -> Path:
    agent = folder / "agent"
    agent.mkdir()
    (agent / "agent.py").write_text(textwrap.dedent(code))
    return agent


def scripted_config(server: ScriptedServer, **overrides: Any) -> HarnessConfig:
    settings: dict[str, Any] = {
        "model": f"openai:{server.base_url}#scripted", "max_retries": 0,
        "request_timeout_s": 5.0, "episode_time_s": 30.0, "concurrency": 2,
        "error_retries": 2, "error_wait_s": 20.0} | overrides
    return load_config(None, **settings)


async def evaluate(config: HarnessConfig, agent: Path, bench: str,
                   out: Path) -> tuple[RunResult, dict[str, EpisodeResult]]:
    result = await run_eval(config, EvalRequest(agent_dir=agent, benchmark=bench, out_dir=out))
    return result, {e.task_id: e for e in result.episodes}
