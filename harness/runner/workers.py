"""How episode workers start: forked from a preloaded sandboxed server, or a fresh sandbox each.

Forking (the default where it keeps episodes apart: bubblewrap, as root) saves the second of
CPU a fresh interpreter spends importing the worker and LangGraph; at 64 episodes at once on a
small machine that is most of the wall time. `fork_server = false` in the config, or a machine
without bubblewrap and root, starts a fresh sandbox per episode instead. Either way the
worker runs under the same policy and the episode sees the same result type.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from harness.errors import HarnessError
from harness.sandbox import (
    ForkServer,
    Isolation,
    SandboxPolicy,
    Supervised,
    fork_server_supported,
    spawn,
)

WORKER_MODULE = "harness.runner.worker"
log = logging.getLogger("harness.runner")


class WorkerPool:
    """Starts episode workers under `policy`; use as `async with`."""

    def __init__(self, policy: SandboxPolicy, isolation: Isolation, *, fork: bool) -> None:
        self.policy = policy
        self.isolation = isolation
        self.fork = fork and fork_server_supported(isolation)
        self._server: ForkServer | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> WorkerPool:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.aclose()

    async def start(self, agent_dir: Path, read_fd: int, write_fd: int) -> Supervised:
        """A worker for the candidate in `agent_dir`, reading requests' replies from `read_fd`
        and writing to `write_fd` (both stay open inside). Raises HarnessError when no worker
        can be started (the harness's failure, not the candidate's)."""
        if self.fork:
            try:
                server = await self._running_server()
            except HarnessError as error:
                self._fall_back(error)
                return await self.start(agent_dir, read_fd, write_fd)
            inside = ForkServer.CHANNEL_FDS  # where the child finds the two fds
            return await server.spawn(WORKER_MODULE, _args(agent_dir, *inside),
                                      policy=self.policy, pass_fds=(read_fd, write_fd))
        workdir = Path(tempfile.mkdtemp(prefix="harness-episode-"))
        return await spawn([sys.executable, "-I", "-m", WORKER_MODULE,
                            *_args(agent_dir, read_fd, write_fd)],
                           policy=self.policy, workdir=workdir, pass_fds=(read_fd, write_fd),
                           remove_workdir=True)

    async def _running_server(self) -> ForkServer:
        async with self._lock:
            if self._server is not None and not self._server.alive:
                log.warning("the fork server stopped; starting a new one")
                await self._server.aclose()
                self._server = None
            if self._server is None:
                self._server = await ForkServer.start(
                    self.policy, preload=[WORKER_MODULE], isolation=self.isolation)
            return self._server

    def _fall_back(self, error: HarnessError) -> None:
        log.warning("workers start as fresh sandboxes from now on (slower): %s", error)
        self.fork = False

    @property
    def fork_server(self) -> ForkServer | None:
        """The running fork server, if one was started."""
        return self._server

    async def aclose(self) -> None:
        if self._server is not None:
            await self._server.aclose()
            self._server = None


def _args(agent_dir: Path, read_fd: int, write_fd: int) -> list[str]:
    return ["--read-fd", str(read_fd), "--write-fd", str(write_fd), "--agent", str(agent_dir)]
