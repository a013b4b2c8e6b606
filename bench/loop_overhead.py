"""Loop overhead: time an optimisation experiment spends outside model calls.

    .venv/bin/python bench/loop_overhead.py [--experiments N] [--tasks T]

A scripted model answers instantly; a scripted proposer edits one line. What an experiment
costs is then the loop's own work: copying and committing the candidate, the diff and the
anti-gaming scan, the smoke episode, two sandboxed evaluations (worker start-up, tracing,
scoring), the gate, the ledger and the view. Reported per experiment: wall time, and the
share of it spent waiting on the model (sum of server-side reply times, ~0 here).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.optimize.loop import optimize
from harness.optimize.proposal import Brief, Proposal
from harness.optimize.proposers import CallableProposer
from harness.optimize.workspace import Workspace
from harness.testing import ScriptedServer
from tests.harness.optimize.conftest import (
    answer,
    loop_config,
    write_echo_agent,
    write_tasks,
)


def propose(brief: Brief) -> Proposal:
    agent = brief.candidate / "agent.py"
    agent.write_text(agent.read_text() + f"\nVARIATION = {brief.experiment}\n")
    return Proposal(description=f"variation {brief.experiment}", hypothesis="h",
                    mechanism="m", component="other")


async def measure(experiments: int, tasks: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, ScriptedServer(responder=answer) as server:
        root = Path(tmp)
        bench = write_tasks(root, train=tasks, held_out=2 * tasks, sealed=2)
        agent = write_echo_agent(root, mode="some")
        ws = Workspace.create(root / "ws", agent=agent, benchmark=bench,
                              model=f"openai:{server.base_url}#scripted")
        started = time.monotonic()
        await optimize(loop_config(server, iterations=experiments), ws, CallableProposer(propose))
        total = time.monotonic() - started
        rows = ws.ledger.experiments()
        seconds = [e.seconds for e in rows if e.experiment > 0]
        ws.close()
    return {"experiments": experiments, "train_tasks": tasks, "held_out_tasks": 2 * tasks,
            "total_s": round(total, 2), "baseline_s": round(rows[0].seconds, 2),
            "median_experiment_s": round(statistics.median(seconds), 2),
            "max_experiment_s": round(max(seconds), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.experiments, args.tasks)), indent=2))


if __name__ == "__main__":
    main()
