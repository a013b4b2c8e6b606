"""The sandbox policy for candidate workers: what they may read, and what stays hidden."""

from __future__ import annotations

from pathlib import Path

import harness
import task_agents
from harness.sandbox import SandboxPolicy


def code_roots() -> list[Path]:
    """The harness and fixed agent-library package folders a worker must import from.

    Only the packages, not the repository around them (an editable install): the repository
    also holds .git, run folders and the benchmarks package, and binding less is faster.
    """
    return sorted({Path(module.__file__ or "").resolve().parent
                   for module in (harness, task_agents)})


def worker_policy(agent_dir: Path, *, hidden: list[Path], wall_time_s: float,
                  memory_mb: int = 4096, total_memory_mb: int | None = None,
                  folder_mb: int = 256) -> SandboxPolicy:
    """Read-only code and candidate, hidden benchmark data and run outputs, no network.

    `memory_mb` bounds each process, `total_memory_mb` (default: the same) all of an
    episode's processes together; `folder_mb` its folder (a tmpfs)."""
    roots = code_roots()
    return SandboxPolicy(
        wall_time_s=wall_time_s, cpu_time_s=wall_time_s, memory_mb=memory_mb,
        total_memory_mb=total_memory_mb, folder_mb=folder_mb,
        max_processes=64, max_output_bytes=1_000_000,
        readonly_paths=[*roots, agent_dir.resolve()], hidden_paths=hidden,
        env={"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"})
