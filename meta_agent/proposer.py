"""`--proposer meta`: the built-in meta-agent as a proposer.

Per experiment it opens a traced session (its own trace store under
`experiments/NNNN/meta/`, readable with `harness traces show WORKSPACE/experiments/NNNN/meta`),
reaches its model through the harness's client (by default the task agent's model: the model
that failed reads its own reasoning), runs the tool loop of `graph.py` with the tools of
`toolbox.py`, and returns what it submitted. Budgets: a step limit, a token budget and the
loop's wall-clock limit. A session that ends without a submission is a `ProposalError` with
the reason (quiet, looping, truncated, steps, budget) — the experiment is then `invalid`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.registry import get_benchmark, protected_paths
from harness.config import HarnessConfig
from harness.models.types import Message
from harness.optimize.proposal import Brief, Proposal, ProposalError
from harness.runner.local import local_context
from harness.runner.staging import candidate_digest
from harness.servers import running_model
from meta_agent.graph import build_loop
from meta_agent.session import Session
from meta_agent.subagents import Investigators
from meta_agent.toolbox import ToolSet, specs_for
from meta_agent.tools import FileTools, Sandbox
from task_agents.lib.context import TaskView
from traces.setup import setup_tracing

PROMPTS = Path(__file__).parent / "prompts"
BRIEF_CHARS = {"compact": 2_500, "full": 24_000}


@dataclass(frozen=True)
class MetaSettings:
    config: HarnessConfig
    workspace: Path
    benchmark: str
    max_steps: int = 24
    token_budget: int | None = 200_000


class MetaProposer:
    def __init__(self, settings: MetaSettings) -> None:
        self.settings = settings

    def _model_config(self) -> HarnessConfig:
        config = self.settings.config
        if not config.meta_model or config.meta_model == config.model:
            return config  # the loop's server is already up: reused
        return config.model_copy(update={"model": config.meta_model, "port": config.port + 1})

    async def propose(self, brief: Brief) -> Proposal:
        out = self.settings.workspace / "experiments" / f"{brief.experiment:04d}" / "meta"
        await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
        tracing = setup_tracing(out / "traces.sqlite",
                                resource_attributes={"harness.meta.experiment": brief.experiment})
        try:
            return await self._session(brief, out, tracing)
        finally:
            tracing.shutdown()

    async def _session(self, brief: Brief, out: Path, tracing: Any) -> Proposal:
        model_config = self._model_config()
        compact = model_config.spec.provider == "embedded"
        session, functions = self._tools(brief, out)
        investigators = Investigators()
        functions["spawn_subagents"] = investigators.spawn
        specs = specs_for(set(functions), compact=compact)
        task = TaskView(task_id=f"meta-{brief.experiment:04d}", prompt=brief.brief_file.name)
        async with (running_model(model_config) as model,
                    local_context(task, model, tracing=tracing, agent_name="meta-agent",
                                  token_budget=self.settings.token_budget,
                                  tools=ToolSet(functions),
                                  episode_id=uuid.uuid4().hex) as ctx):
            investigators.ctx = ctx
            # a small model that never volunteers a tool call is walked through one
            # grammar-constrained move and a submission (see graph.py)
            graph = build_loop(ctx, specs, max_steps=self.settings.max_steps,
                               params={"max_tokens": 1024},
                               force=("set_param", "submit") if compact else ())
            state = await graph.ainvoke({"messages": self._messages(brief, compact)},
                                        {"recursion_limit": 4 * self.settings.max_steps + 20})
            usage = ctx._endpoint.usage  # type: ignore[attr-defined]
        return self._finish(brief, out, session, state, usage)

    def _tools(self, brief: Brief, out: Path) -> tuple[Session, dict[str, Any]]:
        from meta_agent.moves import Moves
        from meta_agent.tools.digest import DigestTools

        files = FileTools(Sandbox(view=brief.view, candidate=brief.candidate))
        digest = DigestTools(brief.view, candidate=brief.candidate)
        bench = get_benchmark(self.settings.benchmark)
        session = Session(
            config=self.settings.config, benchmark=self.settings.benchmark,
            workspace=self.settings.workspace, candidate=brief.candidate, out=out, files=files,
            train_ids={t.task_id for t in bench.tasks("train")},
            hidden=[*protected_paths([self.settings.benchmark]), self.settings.workspace],
            start_digest=candidate_digest(brief.candidate))
        moves = Moves(brief.candidate, view=brief.view, parent=brief.parent,
                      seed=brief.experiment)
        functions: dict[str, Any] = {
            "list_files": files.list_files, "read_file": files.read_file, "grep": files.grep,
            "write_file": files.write_file, "edit_file": files.edit_file,
            "delete_file": files.delete_file,
            "overview": digest.overview, "failures": digest.failures,
            "contrast": digest.contrast, "trace": digest.trace,
            "diff_code": digest.diff_code, "diff_traces": digest.diff_traces,
            "write_test": session.write_test, "run_tests": session.run_tests,
            "smoke_run": session.smoke_run, "smoke_trace": session.smoke_trace,
            "append_note": session.append_note, "submit": session.submit,
            "set_prompt": moves.set_prompt, "set_param": moves.set_param,
            "add_demos": moves.add_demos, "add_block": moves.add_block,
        }
        return session, functions

    def _messages(self, brief: Brief, compact: bool) -> list[Message]:
        from meta_agent.tools.digest import DigestTools

        system = (PROMPTS / "system.md").read_text()
        limit = BRIEF_CHARS["compact" if compact else "full"]
        parent_digest = _safe(lambda: DigestTools(brief.view).overview(brief.parent))
        parts = [f"Experiment {brief.experiment}. You edit a copy of {brief.parent}.",
                 f"Demanded now:\n{brief.directive}" if brief.directive else "",
                 f"Directive:\n{brief.program.strip()}" if not compact else "",
                 f"Learnings:\n{brief.learnings.strip()}" if not compact else "",
                 "Recent notes:\n" + "\n".join(brief.notes.strip().splitlines()[-15:]),
                 f"Train results of {brief.parent}:\n{parent_digest}"]
        text = "\n\n".join(p for p in parts if p)
        if len(text) > limit:
            text = text[:limit] + "\n… (cut: read more with the tools)"
        return [Message(role="system", content=system), Message(role="user", content=text)]

    def _finish(self, brief: Brief, out: Path, session: Session, state: dict[str, Any],
                usage: Any) -> Proposal:
        end = state.get("end", "steps")
        calls: dict[str, int] = state.get("calls", {})
        (out / "session.json").write_text(json.dumps(
            {"end": end, "steps": state.get("steps", 0), "calls": calls,
             "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
            indent=2))
        if session.proposal is None:
            raise ProposalError(f"the meta-agent ended ({end}) after "
                                f"{state.get('steps', 0)} steps without submitting")
        return session.proposal.model_copy(update={
            "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
            "trace": str(out), "activity": _activity(calls),
            "notes": session.notes_written[:10], "task_tokens": session.smoke_tokens})


def _activity(calls: dict[str, int]) -> dict[str, int]:
    edits = sum(calls.get(n, 0) for n in ("write_file", "edit_file", "delete_file"))
    return {**calls, "free_edits": edits,
            "moves": sum(calls.get(n, 0) for n in ("set_prompt", "set_param", "add_demos",
                                                   "add_block"))}


def _safe(fn: Any) -> str:
    try:
        return str(fn())
    except Exception as error:  # an empty or odd parent run: the agent can still look itself
        return f"(no digest: {error})"
