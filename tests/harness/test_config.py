"""HarnessConfig: precedence of sources and one-line errors that name where and which field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import load_config
from harness.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "harness.toml"
    path.write_text(text)
    return path


def test_defaults_without_any_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert (config.model, config.port, config.host) == ("embedded", 8090, "127.0.0.1")
    assert config.spec.provider == "embedded"


def test_flags_beat_env_beat_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write(tmp_path, 'port = 7001\nn_ctx = 1024\nmodel = "anthropic:claude-x"\n')
    monkeypatch.setenv("HARNESS_PORT", "7002")
    monkeypatch.setenv("HARNESS_N_CTX", "2048")
    config = load_config(path, port=7003)
    assert config.port == 7003
    assert config.n_ctx == 2048
    assert config.model == "anthropic:claude-x"


def test_file_error_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, 'model = "embedded"\n\nport = "abc"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}:3: port: ")
    assert caught.value.exit_code == 2


def test_unknown_setting_in_file_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "prot = 80\n")
    with pytest.raises(ConfigError, match=r":1: prot: unknown setting"):
        load_config(path)


def test_env_error_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARNESS_MODEL", "openai:not a url")
    with pytest.raises(ConfigError, match=r"^HARNESS_MODEL: model: malformed URL"):
        load_config()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model", "gemini:pro"], "--model: model: unknown provider 'gemini'"),
        (["--model", "openai:ftp//x#m"], "--model: model: malformed URL"),
        (["--model", "openai:http://h:port/v1#m"], "port is not a number"),
        (["--model", "embedded:/no/such/model.gguf"], "GGUF file not found: /no/such/model.gguf"),
        (["--model", "vllm:"], "--model: model: 'vllm:' names no model"),
        (["--port", "abc"], "Invalid value for '--port'"),
        (["--port", "0"], "--port: port: Input should be greater than or equal to 1"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(args: list[str], expected: str,
                                              tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "chat", "hi", *args],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
