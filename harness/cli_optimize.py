"""`harness optimize` and `harness finalize`: the keep/revert loop over a task agent."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from harness.config import HarnessConfig, field_help, load_config
from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.optimize.proposal import Brief, Proposer
    from harness.optimize.workspace import Workspace

out = Console()


def _opt(name: str, *flags: str) -> typer.models.OptionInfo:
    return typer.Option(*flags, help=field_help(name))


def optimize_command(
    agent: Annotated[Path | None, typer.Option(
        help="The task agent folder to improve (holds agent.py). Not needed with --resume.")]
    = None,
    benchmark: Annotated[str | None, typer.Option(
        help="Benchmark spec, e.g. arithmetic, humaneval, jsonl:PATH.")] = None,
    workspace: Annotated[Path | None, typer.Option(
        help="Workspace folder (default: workspaces/<agent>-<benchmark>-<time>).")] = None,
    resume: Annotated[bool, typer.Option(
        help="Continue the run in --workspace after a stop or a kill.")] = False,
    iterations: Annotated[int | None, _opt("iterations")] = None,
    train_limit: Annotated[int | None, _opt("train_limit")] = None,
    held_out_limit: Annotated[int | None, _opt("held_out_limit")] = None,
    trials: Annotated[int | None, _opt("trials")] = None,
    held_out_trials: Annotated[int | None, _opt("held_out_trials")] = None,
    strategy: Annotated[str | None, _opt("strategy")] = None,
    proposer: Annotated[str | None, _opt("proposer")] = None,
    proposer_network: Annotated[bool | None, _opt("proposer_network")] = None,
    proposer_time_s: Annotated[float | None, _opt("proposer_time_s")] = None,
    model: Annotated[str | None, _opt("model", "--model", "-m")] = None,
    meta_model: Annotated[str | None, _opt("meta_model")] = None,
    budget_seconds: Annotated[float | None, _opt("budget_seconds")] = None,
    budget_tokens: Annotated[int | None, _opt("budget_tokens")] = None,
    experiment_time_s: Annotated[float | None, _opt("experiment_time_s")] = None,
    alpha: Annotated[float | None, _opt("alpha")] = None,
    gate: Annotated[str | None, _opt("gate")] = None,
    episode_time_s: Annotated[float | None, _opt("episode_time_s")] = None,
    token_budget: Annotated[int | None, _opt("token_budget")] = None,
    port: Annotated[int | None, _opt("port")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML config file.")] = None,
) -> None:
    """Improve a task agent: propose a change, validate it, evaluate it on train, keep it
    only when a paired test on the held-out split says it is better; otherwise revert.

    Every experiment is a git commit in the workspace and a row in its ledger
    (ledger.sqlite, results.tsv). Ctrl-C stops cleanly; --resume continues, also after a
    kill. `harness finalize WORKSPACE` then scores the best on the sealed split, once.
    """
    cfg = load_config(
        config, iterations=iterations, train_limit=train_limit, held_out_limit=held_out_limit,
        trials=trials, held_out_trials=held_out_trials, strategy=strategy, proposer=proposer,
        proposer_network=proposer_network, proposer_time_s=proposer_time_s, model=model,
        meta_model=meta_model, budget_seconds=budget_seconds, budget_tokens=budget_tokens,
        experiment_time_s=experiment_time_s, alpha=alpha, gate=gate,
        episode_time_s=episode_time_s, token_budget=token_budget, port=port)
    ws = _workspace(cfg, agent, benchmark, workspace, resume)
    try:
        _run(cfg, ws)
    finally:
        ws.close()
    out.print(f"workspace: {ws.root} (ledger: {ws.ledger.tsv})")


def _workspace(cfg: HarnessConfig, agent: Path | None, benchmark: str | None,
               workspace: Path | None, resume: bool) -> Workspace:
    from benchmarks.registry import get_benchmark
    from harness.optimize.strategies import make_strategy
    from harness.optimize.workspace import Workspace, default_workspace

    if cfg.gate not in ("paired", "mean"):
        raise ConfigError("--gate", f"unknown gate {cfg.gate!r}; use paired or mean")
    make_strategy(cfg.strategy)  # a bad --strategy fails before anything is written
    if resume:
        if workspace is None:
            raise ConfigError("--resume", "needs --workspace: the folder of the run to continue")
        return Workspace.open(workspace, agent=agent, benchmark=benchmark, model=cfg.model)
    if agent is None or benchmark is None:
        raise ConfigError("--agent" if agent is None else "--benchmark",
                          "required (or --resume --workspace DIR to continue a run)")
    if not (agent / "agent.py").is_file():
        raise ConfigError("--agent", f"{agent} has no agent.py")
    root = workspace or default_workspace(agent, benchmark)
    if root.exists() and any(root.iterdir()):
        raise ConfigError("--workspace", f"{root} exists and is not empty; pass --resume to "
                          "continue it, or choose a new folder")
    get_benchmark(benchmark)  # a bad spec fails before the workspace is made
    _proposer(cfg, None)  # so does an unknown proposer
    return Workspace.create(root, agent=agent, benchmark=benchmark, model=cfg.model)


def _proposer(cfg: HarnessConfig, ws: Workspace | None) -> Proposer:
    from harness.optimize.proposers import ProposerSettings, make_proposer

    def log_dir(brief: Brief) -> Path:
        root = ws.root if ws is not None else Path(".")
        return root / "experiments" / f"{brief.experiment:04d}" / "proposer"

    settings = ProposerSettings(log_dir=log_dir, time_s=cfg.proposer_time_s,
                                network=cfg.proposer_network,
                                require_sandbox=cfg.require_sandbox, config=cfg,
                                workspace=ws.root.resolve() if ws is not None else Path("."),
                                benchmark=ws.info().benchmark if ws is not None else "")
    return make_proposer(cfg.proposer, settings)


def _run(cfg: HarnessConfig, ws: Workspace) -> None:
    from harness.optimize.loop import optimize
    from harness.optimize.progress import RichProgress

    info = ws.info()
    out.print(f"optimizing {info.agent_name} on {info.benchmark} with {cfg.model} · "
              f"proposer {cfg.proposer} · strategy {cfg.strategy} · workspace {ws.root}")
    try:
        asyncio.run(optimize(cfg, ws, _proposer(cfg, ws), RichProgress(out)))
    except KeyboardInterrupt:
        out.print(f"interrupted: the experiment in flight is recorded as interrupted; "
                  f"continue with --resume --workspace {ws.root}")
        raise typer.Exit(130) from None


def finalize_command(
    workspace: Annotated[str, typer.Argument(
        help="The workspace of an optimisation run, or latest (the newest in ./workspaces).")],
    trials: Annotated[int, typer.Option(help="Trials per sealed task.", min=1)] = 3,
    model: Annotated[str | None, _opt("model", "--model", "-m")] = None,
    port: Annotated[int | None, _opt("port")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML config file.")] = None,
) -> None:
    """Score the baseline and the best candidate on the SEALED split, once, write
    final.json, and lock the workspace (a later `optimize --resume` is refused)."""
    from harness.optimize.finalize import finalize
    from harness.optimize.workspace import Workspace, resolve_workspace

    root = resolve_workspace(workspace)
    cfg = load_config(config, model=model or Workspace(root).info().model, port=port)
    final = asyncio.run(finalize(cfg, root, trials))
    for side in (final.baseline, final.best):
        out.print(f"{side.tag} ({side.description}): train {side.train or 0:.3f} · held-out "
                  f"{side.held_out or 0:.3f} · sealed {side.sealed or 0:.3f} "
                  f"[{side.sealed_ci[0]:.3f}, {side.sealed_ci[1]:.3f}]", highlight=False)
    c = final.comparison
    if c:
        p = "" if c["p_value"] is None else f", {c['method']} one-sided p = {c['p_value']:.3g}"
        out.print(f"sealed: best − baseline = {c['delta'] * 100:+.1f} points (95 % CI "
                  f"{c['ci_low'] * 100:+.1f} to {c['ci_high'] * 100:+.1f}){p}", highlight=False)
    else:
        out.print("nothing was kept: the baseline is the best, scored once", highlight=False)
    out.print(f"wrote {root / 'final.json'}; the workspace is now locked")
