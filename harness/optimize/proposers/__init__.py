"""Proposers by spec: `command:CMD` (any program, sandboxed), and a Python callable.

`make_proposer(spec, settings)` parses the `--proposer` value. Each kind is a factory
`(argument, settings) -> Proposer` in `FACTORIES`; a new kind (`meta`, `moves`) adds its
factory there and whatever it needs to `ProposerSettings`.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.config import HarnessConfig
from harness.errors import ConfigError
from harness.optimize.proposal import Proposer
from harness.optimize.proposers.callable import CallableProposer, ProposeFn
from harness.optimize.proposers.command import CommandProposer, LogDir

__all__ = [
    "FACTORIES",
    "CallableProposer",
    "CommandProposer",
    "ProposeFn",
    "ProposerSettings",
    "make_proposer",
]


@dataclass(frozen=True)
class ProposerSettings:
    """What the loop gives every proposer kind; each kind reads what it needs."""

    log_dir: LogDir  # a folder, or brief -> the experiment's folder for the proposer's logs
    time_s: float = 900.0  # wall-clock limit of one proposal
    network: bool = False  # `--proposer-network`: a command proposer may reach the network
    require_sandbox: bool = False
    hidden_paths: tuple[Path, ...] = field(default=())  # more than the shipped benchmarks
    # The run's settings and workspace: `meta` runs smoke episodes and reaches a model.
    config: HarnessConfig | None = None
    workspace: Path | None = None
    benchmark: str = ""


Factory = Callable[[str, ProposerSettings], Proposer]


def _command(arg: str, settings: ProposerSettings) -> Proposer:
    if not arg.strip():
        raise ConfigError("proposer", "command: needs a command after the colon, e.g. "
                          "command:./propose.sh")
    command, program = _with_program_visible(arg)
    config = settings.config  # the loop's own size limits, checked while the command runs
    return CommandProposer(command, time_s=settings.time_s, log_dir=settings.log_dir,
                           network=settings.network, hidden_paths=settings.hidden_paths,
                           require_sandbox=settings.require_sandbox,
                           readonly_paths=[program] if program else [],
                           max_candidate_mb=int(config.candidate_max_mb) if config else 512,
                           max_candidate_files=config.candidate_max_files if config else 50_000)


def _with_program_visible(command: str) -> tuple[str, Path | None]:
    """`command:examples/propose.sh …` names a script of the user's: it runs with the
    candidate folder as working directory, inside a sandbox that shows only system paths, so
    the script's path is made absolute and the script itself shown read-only."""
    first, _, rest = command.strip().partition(" ")
    path = Path(first).expanduser()
    if "/" not in first or not path.is_file():
        return command, None
    program = path.resolve()
    return shlex.quote(str(program)) + (" " + rest if rest else ""), program


def _meta(arg: str, settings: ProposerSettings) -> Proposer:
    from meta_agent.proposer import MetaProposer, MetaSettings

    if settings.config is None or settings.workspace is None:
        raise ConfigError("proposer", "meta needs the run's config and workspace")
    return MetaProposer(MetaSettings(config=settings.config, workspace=settings.workspace,
                                     benchmark=settings.benchmark,
                                     max_steps=settings.config.meta_max_steps,
                                     token_budget=settings.config.meta_token_budget))


def _moves(arg: str, settings: ProposerSettings) -> Proposer:
    """`moves` or `moves:SEED`: a bandit over structured moves, no model involved."""
    from harness.optimize.proposers.moves import MovesProposer  # imports meta_agent.moves

    if arg.strip() and not arg.strip().isdigit():
        raise ConfigError("proposer", f"moves:{arg}: the seed must be a non-negative integer")
    return MovesProposer(seed=int(arg) if arg.strip() else 0)


# name -> (how it is written in help and errors, factory)
FACTORIES: dict[str, tuple[str, Factory]] = {
    "command": ("command:CMD", _command),
    "meta": ("meta", _meta),
    "moves": ("moves[:SEED]", _moves),
}


def make_proposer(spec: str, settings: ProposerSettings) -> Proposer:
    """The proposer for a `--proposer` value; an unknown or malformed one is a ConfigError."""
    name, colon, arg = spec.strip().partition(":")
    entry = FACTORIES.get(name)
    known = ", ".join(usage for usage, _ in FACTORIES.values())
    shown = repr(spec if len(spec) <= 60 else spec[:57] + "...")
    if entry is None:
        raise ConfigError("proposer", f"unknown proposer {shown}; known: {known}")
    usage, factory = entry
    if ":" in usage and "[" not in usage and not colon:
        raise ConfigError("proposer", f"{name} needs an argument: {usage}")
    if colon and ":" not in usage and "[" not in usage:
        raise ConfigError("proposer", f"{name} takes no argument ({shown}); known: {known}")
    return factory(arg, settings)
