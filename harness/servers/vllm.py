"""`vllm serve` on a GPU machine: the command line, chosen by model family, and a preflight.

vLLM only returns structured tool calls with `--enable-auto-tool-choice --tool-call-parser X`
and only splits reasoning into `message.reasoning` with `--reasoning-parser Y`; both names
depend on the model family, so they live in one table here (checked against vLLM's parser
registry; see shared/notes/ecosystem.md §2).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError


@dataclass(frozen=True)
class Family:
    name: str
    pattern: str  # regex matched against the lower-cased model id
    tool_parser: str | None
    reasoning_parser: str | None = None


# First match wins, so the more specific patterns come first.
FAMILIES: tuple[Family, ...] = (
    Family("qwen3-coder", r"qwen3[\w.-]*coder", tool_parser="qwen3_coder"),
    Family("qwen3", r"qwen3", tool_parser="hermes", reasoning_parser="qwen3"),
    Family("qwq", r"qwq", tool_parser="hermes", reasoning_parser="deepseek_r1"),
    Family("qwen2.5", r"qwen2\.5", tool_parser="hermes"),
    Family("deepseek-r1-distill", r"deepseek-r1-distill", tool_parser=None,
           reasoning_parser="deepseek_r1"),
    Family("deepseek-r1", r"deepseek-r1", tool_parser="deepseek_v3",
           reasoning_parser="deepseek_r1"),
    Family("deepseek-v3", r"deepseek-v3", tool_parser="deepseek_v3"),
    Family("gpt-oss", r"gpt-oss", tool_parser="openai", reasoning_parser="openai_gptoss"),
    Family("llama4", r"llama-4", tool_parser="llama4_pythonic"),
    Family("llama3", r"llama-3\.[123]", tool_parser="llama3_json"),
    Family("mistral", r"mistral|mixtral|ministral|devstral|magistral", tool_parser="mistral"),
)
UNKNOWN = Family("unknown", "", tool_parser=None)


def family_of(model: str) -> Family:
    lowered = model.lower()
    return next((f for f in FAMILIES if re.search(f.pattern, lowered)), UNKNOWN)


def vllm_serve_argv(
    model: str,
    *,
    host: str,
    port: int,
    max_num_seqs: int,
    gpu_memory_utilization: float,
    max_model_len: int | None = None,
    extra_args: list[str] | None = None,
    executable: str = "vllm",
) -> list[str]:
    """The full `vllm serve` command for `model`, with the family's parser flags."""
    family = family_of(model)
    argv = [
        executable, "serve", model,
        "--host", host,
        "--port", str(port),
        "--served-model-name", model,
        "--max-num-seqs", str(max_num_seqs),
        "--gpu-memory-utilization", str(gpu_memory_utilization),
    ]
    if max_model_len is not None:
        argv += ["--max-model-len", str(max_model_len)]
    if family.tool_parser:
        argv += ["--enable-auto-tool-choice", "--tool-call-parser", family.tool_parser]
    if family.reasoning_parser:
        argv += ["--reasoning-parser", family.reasoning_parser]
    return argv + list(extra_args or [])


def find_vllm() -> str:
    """The `vllm` executable beside this interpreter or on PATH, else a clear error."""
    beside = Path(sys.executable).with_name("vllm")
    found = str(beside) if beside.is_file() else shutil.which("vllm")
    if not found:
        raise HarnessError("vllm is not installed: pip install 'harness-optimizer[gpu]' "
                           "on a machine with an NVIDIA GPU")
    return found


def nvidia_gpus() -> list[str]:
    """Names and memory of the visible NVIDIA GPUs, from nvidia-smi; [] if none."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def preflight() -> tuple[str, list[str]]:
    """Check vLLM and a GPU are present before a long start; return (executable, gpus)."""
    gpus = nvidia_gpus()
    if not gpus:
        raise HarnessError("vllm: no NVIDIA GPU visible (nvidia-smi found none); "
                           "use the embedded model on CPU or an openai: endpoint")
    return find_vllm(), gpus
