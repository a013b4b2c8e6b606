"""Judging a candidate's train run before it may reach the gate.

- Every counted train episode crashed: `crash` (the held-out split is not spent on it).
- No episode called the model: `model_free` — the candidate solves tasks by code alone,
  which is not a harness improvement; it is not kept unless `allow_model_free`.
- The proposal's predictions are checked against the tasks that really flipped.
- A mechanism the change adds (a vote, a verify step, demonstrations, the calculator) that
  never fired in any train episode marks the experiment `inert`: the agent did not even use
  it. (Markers are logged by agent code, so this only labels; it never changes a score.)
"""

from __future__ import annotations

from pathlib import Path

from harness.optimize.evaluate import PerTask, mean_of, per_task, tokens_of
from harness.optimize.ledger import Experiment, Status
from harness.optimize.predictions import check_predictions
from harness.optimize.proposal import Proposal
from harness.runner.results import RunResult


class Rejected(Exception):
    """Ends an experiment early with a status and a one-line reason."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def judge_train(record: Experiment, result: RunResult, proposal: Proposal,
                parent_train: PerTask, *, allow_model_free: bool,
                traces: Path | None = None) -> None:
    counted = [e for e in result.episodes if e.status != "error"]
    table = per_task(result.episodes)
    record.train = mean_of(table)
    record.task_tokens += tokens_of(result)
    record.agent_sha256 = result.agent_sha256
    record.predictions = check_predictions(proposal.predicted_fixes, proposal.risk_tasks,
                                           parent_train, table)
    record.inert = _inert(proposal.mechanism, traces)
    if counted and all(e.status == "failed" and (e.error_kind or "").startswith("crash")
                       for e in counted):
        last = (counted[0].error or "").strip().splitlines() or [""]
        raise Rejected("crash", f"every train episode crashed: {last[-1][:300]}")
    record.model_free = bool(counted) and all(e.model_calls == 0 for e in counted)
    if record.model_free and not allow_model_free:
        raise Rejected("discard", "model_free: no episode called the model (not kept; see "
                                  "program.md)")


def _inert(mechanism: str, traces: Path | None) -> bool:
    from meta_agent.moves.arms import mechanism_of
    from meta_agent.moves.fired import fired_mechanisms

    marker = mechanism_of(mechanism)
    if marker is None or traces is None or not traces.is_file():
        return False
    return fired_mechanisms(traces).get(marker, 0) == 0
