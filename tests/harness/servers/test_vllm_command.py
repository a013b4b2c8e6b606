"""The `vllm serve` command line: parser flags per model family, and the GPU preflight."""

from __future__ import annotations

import pytest

from harness.servers.vllm import family_of, nvidia_gpus, vllm_serve_argv


def argv_for(model: str, **kwargs: object) -> list[str]:
    options: dict = {"host": "127.0.0.1", "port": 8000, "max_num_seqs": 32,
                     "gpu_memory_utilization": 0.85} | kwargs
    return vllm_serve_argv(model, **options)


def flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


@pytest.mark.parametrize(
    ("model", "tool_parser", "reasoning_parser"),
    [
        ("Qwen/Qwen3-8B", "hermes", "qwen3"),
        ("Qwen/Qwen3-Coder-30B-A3B-Instruct", "qwen3_coder", None),
        ("Qwen/Qwen2.5-7B-Instruct", "hermes", None),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama3_json", None),
        ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "llama4_pythonic", None),
        ("mistralai/Mistral-Small-3.2-24B-Instruct-2506", "mistral", None),
        ("openai/gpt-oss-20b", "openai", "openai_gptoss"),
        ("deepseek-ai/DeepSeek-R1-0528", "deepseek_v3", "deepseek_r1"),
        ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", None, "deepseek_r1"),
        ("Qwen/QwQ-32B", "hermes", "deepseek_r1"),
    ],
)
def test_parser_flags_by_family(model: str, tool_parser: str | None,
                                reasoning_parser: str | None) -> None:
    argv = argv_for(model)
    assert argv[:3] == ["vllm", "serve", model]
    assert flag(argv, "--tool-call-parser") == tool_parser
    assert ("--enable-auto-tool-choice" in argv) == (tool_parser is not None)
    assert flag(argv, "--reasoning-parser") == reasoning_parser


def test_served_name_host_port_and_batch_size() -> None:
    argv = argv_for("Qwen/Qwen3-8B", max_model_len=16384, extra_args=["--dtype", "bfloat16"])
    assert flag(argv, "--served-model-name") == "Qwen/Qwen3-8B"
    assert (flag(argv, "--host"), flag(argv, "--port")) == ("127.0.0.1", "8000")
    assert flag(argv, "--max-num-seqs") == "32"
    assert flag(argv, "--gpu-memory-utilization") == "0.85"
    assert flag(argv, "--max-model-len") == "16384"
    assert argv[-2:] == ["--dtype", "bfloat16"]


def test_unknown_family_gets_no_parser_flags() -> None:
    argv = argv_for("someorg/tiny-model")
    assert family_of("someorg/tiny-model").name == "unknown"
    assert "--tool-call-parser" not in argv and "--reasoning-parser" not in argv


def test_gpu_detection_matches_nvidia_smi_presence() -> None:
    import shutil

    gpus = nvidia_gpus()
    if shutil.which("nvidia-smi") is None:
        assert gpus == []
    else:
        assert gpus and all("," in line for line in gpus)  # "name, memory"
