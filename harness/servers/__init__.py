"""Local model servers: the embedded llama.cpp server on CPU and vLLM on GPU.

`server_for(config)` builds the right `ManagedServer` for a config whose spec needs one;
`running_model(config)` is the context manager commands use: it reuses or starts the server,
yields a ready `ModelClient`, and stops what it started.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from harness.config import HarnessConfig
from harness.errors import ConfigError, HarnessError
from harness.models import ModelClient
from harness.models.spec import INSTALL_HINT, ModelSpec
from harness.servers.base import ManagedServer
from harness.servers.vllm import preflight, vllm_serve_argv

__all__ = ["ManagedServer", "llamacpp_argv", "running_model", "server_for"]


class VllmServer(ManagedServer):
    health_paths = ("/health", "/v1/models")


def llamacpp_argv(spec: ModelSpec, config: HarnessConfig) -> list[str]:
    """llama_cpp.server for the spec's GGUF, with a chat format that does tools.

    Started through our entry module, which makes the chat format render prompts verbatim
    (upstream HTML-escapes them) and avoids a CPU kernel that crashes on AMX machines.
    """
    argv = [
        sys.executable, "-m", "harness.servers._llama_entry",
        "--model", str(spec.gguf()),
        "--model_alias", spec.served_name,
        "--host", config.host,
        "--port", str(config.port),
        "--n_ctx", str(config.n_ctx),
        # Grammar-constrained tool calls for any chat model (well-formed, if not always apt).
        "--chat_format", "chatml-function-calling",
    ]
    # llama_cpp.server would decode on one thread; use every core unless told otherwise.
    threads = str(config.n_threads or os.cpu_count() or 1)
    argv += ["--n_threads", threads, "--n_threads_batch", threads]
    return argv + config.server_args


def server_for(config: HarnessConfig) -> ManagedServer:
    spec = config.spec
    if spec.provider == "embedded":
        if importlib.util.find_spec("llama_cpp") is None:
            raise ConfigError("model", f"llama-cpp-python is not installed ({INSTALL_HINT})")
        return ManagedServer(llamacpp_argv(spec, config), host=config.host, port=config.port,
                             served_name=spec.served_name)
    if spec.provider == "vllm":
        executable, _gpus = preflight()
        argv = vllm_serve_argv(
            spec.model or "", host=config.host, port=config.port,
            max_num_seqs=config.max_num_seqs,
            gpu_memory_utilization=config.gpu_memory_utilization,
            max_model_len=config.max_model_len, extra_args=config.server_args,
            executable=executable)
        return VllmServer(argv, host=config.host, port=config.port,
                          served_name=spec.served_name, env=dict(os.environ))
    raise HarnessError(f"'{spec.text}' is a remote model; there is no local server to start")


@asynccontextmanager
async def running_model(config: HarnessConfig) -> AsyncIterator[ModelClient]:
    """A ready client for the configured model, starting a local server if the spec needs one."""
    from harness.models.factory import open_client  # the SDKs: only when a model is used

    server = server_for(config) if config.spec.needs_local_server else None
    try:
        if server is not None:
            await asyncio.to_thread(server.start, config.startup_timeout_s)
        client = await open_client(config, base_url=server.base_url if server else None)
        try:
            yield client
        finally:
            await client.aclose()
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
