"""The sandbox's data contracts: the policy a caller asks for and the result it gets back."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

IsolationKind = Literal["bwrap", "unshare", "none"]


class SandboxPolicy(BaseModel):
    """Limits and visibility for one sandboxed program.

    `memory_mb` is an address-space limit (RLIMIT_AS) per process, so it also bounds
    reserved-but-unused virtual memory; `total_memory_mb` (default: `memory_mb`) limits the
    memory of all the program's processes together (their proportional resident sets);
    `max_processes` counts threads too, also all together. `folder_mb` bounds the program's
    own throwaway folder (a tmpfs under bubblewrap). `readonly_paths` are bound read-only
    at the same path inside (and, when the harness runs as root, made readable for the
    sandbox's unprivileged uid); `hidden_paths` are covered (an empty tmpfs over a folder,
    /dev/null over a file) after every other bind, so they win even inside a bound tree.
    `env` is the complete environment inside, on top of PATH, LANG, HOME and TMPDIR defaults.
    """

    wall_time_s: float = Field(default=30.0, gt=0)
    cpu_time_s: float = Field(default=30.0, gt=0)
    memory_mb: int = Field(default=2048, gt=0)
    total_memory_mb: int | None = Field(default=None, gt=0)
    max_processes: int = Field(default=64, gt=0)
    max_file_size_mb: int = Field(default=64, gt=0)
    folder_mb: int = Field(default=256, gt=0)
    max_output_bytes: int = Field(default=1_000_000, ge=0)
    network: bool = False
    readonly_paths: list[Path] = Field(default_factory=list)
    hidden_paths: list[Path] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)


class Isolation(BaseModel):
    """Which mechanism runs sandboxed programs, whether it really isolates them, and why."""

    kind: IsolationKind
    isolated: bool
    reason: str


class SandboxResult(BaseModel):
    """The outcome of one sandboxed program; never an exception for a misbehaving program.

    `returncode` is None when the harness killed the program (`killed_reason` says why:
    "wall_time", "output_limit", "memory_total" or "processes_total" for the program's
    processes together, or the reason given to `kill`); a negative value is the signal that
    ended it. `killed_reason` is also set for kernel-enforced limits ("cpu_time", "memory")
    and other deaths by signal ("signal:N").
    """

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    killed_reason: str | None
    output_truncated: bool
    isolated: bool
    isolation: str
    duration_s: float
