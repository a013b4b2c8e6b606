"""The one configuration model. Every setting is declared here, once.

Sources, highest priority first: CLI flags (passed as overrides), `HARNESS_<FIELD>`
environment variables, a TOML file (`--config PATH`, else `./harness.toml` when present),
then the defaults below. CLI help texts are the field descriptions, so they cannot drift.

A bad value fails with one line naming where it came from and the field:
`harness.toml:3: port: Input should be a valid integer…`, exit code 2.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from harness.errors import ConfigError
from harness.models.spec import ModelSpec, parse_model_spec

ENV_PREFIX = "HARNESS_"
DEFAULT_CONFIG_FILE = Path("harness.toml")


class HarnessConfig(BaseSettings):
    """Settings for models, servers and (later) runs."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    model: str = Field(
        "embedded",
        description="Model spec: embedded, embedded:PATH.gguf, openai:URL#MODEL, "
        "vllm:HF_ID or anthropic:MODEL.",
    )
    host: str = Field("127.0.0.1", description="Address a managed model server listens on.")
    port: int = Field(8090, ge=1, le=65535, description="Port of the managed model server.")
    api_key: SecretStr | None = Field(
        None, description="API key for an openai: endpoint (anthropic: reads ANTHROPIC_API_KEY)."
    )
    request_timeout_s: float = Field(300.0, gt=0, description="Timeout of one model request.")
    max_retries: int = Field(
        4, ge=0, description="Retries (with backoff and jitter) on 429, 5xx and timeouts."
    )
    startup_timeout_s: float = Field(
        600.0, gt=0, description="How long to wait for a managed server to become healthy."
    )
    n_ctx: int = Field(4096, ge=256, description="Context window of the embedded llama.cpp model.")
    n_threads: int | None = Field(
        None, ge=1, description="CPU threads for llama.cpp (default: all cores)."
    )
    max_num_seqs: int = Field(
        64, ge=1, description="vLLM: sequences decoded in parallel (also eval concurrency)."
    )
    gpu_memory_utilization: float = Field(
        0.9, gt=0, le=1, description="vLLM: fraction of GPU memory it may take."
    )
    max_model_len: int | None = Field(
        None, ge=256, description="vLLM: maximum context length (default: the model's)."
    )
    server_args: list[str] = Field(
        default_factory=list, description="Extra arguments appended to the server command."
    )
    thinking: str = Field(
        "auto", description="Anthropic thinking: auto, adaptive, off, or a token budget."
    )
    # Evaluation runs.
    concurrency: int | None = Field(
        None, ge=1, description="Episodes run at once (default: sized to the model server)."
    )
    episode_time_s: float = Field(
        300.0, gt=0, description="Wall-clock limit of one episode; the worker is killed after."
    )
    token_budget: int | None = Field(
        None, ge=1, description="Most tokens (in + out) one episode may use."
    )
    episode_memory_mb: int = Field(
        4096, ge=64, description="Memory of one episode: per process, and all its processes "
        "together (their proportional resident size).")
    episode_folder_mb: int = Field(
        256, ge=1, description="Size of an episode's writable folder (a tmpfs).")
    candidate_max_mb: float = Field(
        50.0, gt=0, description="Largest total size of a candidate folder, in MB."
    )
    candidate_max_files: int = Field(
        5_000, ge=1, description="Most files and folders a candidate folder may hold."
    )
    error_retries: int = Field(
        3, ge=0, description="Retries of an episode the infrastructure failed (server down)."
    )
    error_wait_s: float = Field(
        120.0, ge=0, description="How long to wait for a failed model server to come back."
    )
    max_error_share: float = Field(
        0.1, ge=0, le=1, description="Largest share of a run's episodes that may end as "
        "infrastructure errors; above it the run publishes no mean and `eval` exits 1."
    )
    require_sandbox: bool = Field(
        False, description="Fail instead of running candidates without namespace isolation."
    )
    fork_server: bool = Field(
        True, description="Fork episode workers from a preloaded sandboxed server (needs "
        "bubblewrap and root; elsewhere, or when false, each worker is a fresh sandbox)."
    )
    price_input_per_mtok: float = Field(
        0.0, ge=0, description="USD per million input tokens, for cost reports."
    )
    price_output_per_mtok: float = Field(
        0.0, ge=0, description="USD per million output tokens, for cost reports."
    )
    # Optimisation runs (`harness optimize`, `harness finalize`).
    iterations: int = Field(5, ge=0, description="Experiments to run after the baseline.")
    train_limit: int | None = Field(
        None, ge=1, description="Train tasks per evaluation (default: the whole split).")
    held_out_limit: int | None = Field(
        None, ge=1, description="Held-out tasks the gate compares on (default: the whole split).")
    trials: int = Field(1, ge=1, description="Trials per train task.")
    held_out_trials: int = Field(
        2, ge=1, description="Trials per held-out task (the baseline uses at least 2, which "
        "also measures the noise floor).")
    strategy: str = Field(
        "greedy", description="Which candidate to branch from: greedy (the best so far) or "
        "pareto (per-task frontier).")
    proposer: str = Field(
        "meta", description="Who proposes changes: meta (the built-in meta-agent), moves "
        "(structured moves, no model) or command:CMD (any program, sandboxed).")
    meta_model: str | None = Field(
        None, description="Model spec of the meta-agent (default: the task agent's model).")
    meta_max_steps: int = Field(
        24, ge=1, description="Most model calls of one meta-agent session.")
    meta_token_budget: int | None = Field(
        200_000, ge=1, description="Most tokens (in + out) of one meta-agent session.")
    proposer_network: bool = Field(
        False, description="Let a command proposer reach the network (API-backed coding "
        "agents need it).")
    budget_seconds: float | None = Field(
        None, gt=0, description="Wall-clock budget of the whole optimisation run.")
    budget_tokens: int | None = Field(
        None, ge=1, description="Token budget of the whole run (task agent and proposer).")
    experiment_time_s: float = Field(
        3600.0, gt=0, description="Wall-clock limit of one experiment (proposal and "
        "evaluations); past it the experiment is `timeout`.")
    proposer_time_s: float = Field(
        900.0, gt=0, description="Wall-clock limit of one proposal.")
    alpha: float = Field(
        0.10, gt=0, lt=1, description="One-sided significance level of the keep gate.")
    gate: str = Field(
        "paired", description="Keep rule: paired (a one-sided paired test on held-out) or "
        "mean (the naive rule: any positive difference).")
    plateau_patience: int = Field(
        5, ge=1, description="Experiments without a keep before the brief demands a "
        "structurally different idea.")
    plateau_stop: int = Field(
        15, ge=1, description="Experiments without a keep after which the run stops.")
    allow_model_free: bool = Field(
        False, description="Allow keeping a candidate whose episodes make no model call.")

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str) -> str:
        try:
            parse_model_spec(value)
        except ConfigError as error:
            raise ValueError(error.problem) from None
        return value

    @property
    def spec(self) -> ModelSpec:
        return parse_model_spec(self.model)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _ACTIVE_TOML.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


# The TOML file for the load in progress. pydantic-settings builds sources from the class, so
# the path is handed over here; `load_config` sets and clears it around one construction.
_ACTIVE_TOML: dict[str, Path | None] = {}


def field_help(name: str) -> str:
    """The description of a config field, for CLI help."""
    return HarnessConfig.model_fields[name].description or name


def load_config(path: Path | None = None, **overrides: Any) -> HarnessConfig:
    """Build the config from overrides (CLI flags), env, TOML file and defaults."""
    toml_path = path if path is not None else _default_toml()
    if toml_path is not None:
        _check_toml(toml_path)
    flags = {key: value for key, value in overrides.items() if value is not None}
    _ACTIVE_TOML["path"] = toml_path
    try:
        return HarnessConfig(**flags)
    except ValidationError as error:
        raise _explain(error, flags, toml_path) from None
    finally:
        _ACTIVE_TOML.pop("path", None)


def _default_toml() -> Path | None:
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def _check_toml(path: Path) -> None:
    if not path.is_file():
        raise ConfigError("config", f"file not found: {path}")
    try:
        tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError("config", f"invalid TOML: {error}", source=str(path)) from None


def _explain(error: ValidationError, flags: dict[str, Any], toml: Path | None) -> ConfigError:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "config"
    name = str(first["loc"][0]) if first["loc"] else ""
    problem = first["msg"].removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        problem = "unknown setting"
    return ConfigError(field, problem, source=_source_of(name, flags, toml))


def _source_of(name: str, flags: dict[str, Any], toml: Path | None) -> str | None:
    if name in flags:
        return "--" + name.replace("_", "-")
    env_name = ENV_PREFIX + name.upper()
    if env_name in os.environ:
        return env_name
    if toml is not None:
        return f"{toml}:{_toml_line(toml, name)}"
    return None


def _toml_line(path: Path, key: str) -> int:
    """The line where `key` is set (TOML parsers give no positions for values)."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.split("=", 1)[0].strip().strip('"') == key and "=" in line:
            return number
    return 1
