"""Which mechanisms fired in a run: counted from the `mechanism:NAME` markers that building
blocks and the starter agents log (task_agents/lib/mechanisms.py), plus one `tool:NAME` count
per harness tool call (`execute_tool` spans, which the harness itself writes).

    fired = fired_mechanisms(run_dir / "traces.sqlite")   # {"vote": 40, "tool:run_python": 8}
    marker = mechanism_of(proposal.mechanism)             # "vote", or None
    inert = marker is not None and fired.get(marker, 0) == 0

Markers are `agent.log` events, which candidate code could also write: a count can only
label an experiment (inert or not), never decide its score.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from meta_agent.moves.arms import mechanism_of
from task_agents.lib.mechanisms import parse_marker
from traces import conventions as c
from traces.store import TraceStore

__all__ = ["fired_mechanisms", "mechanism_of"]
LOG_EVENT = "agent.log"


def fired_mechanisms(trace_store_path: Path | str) -> dict[str, int]:
    """Marker events per mechanism over every episode of the store (plus `tool:NAME`)."""
    counts: Counter[str] = Counter()
    with TraceStore(Path(trace_store_path)) as store:
        for episode in store.episodes():
            for span in store.spans(episode.episode_id):
                if span.operation == c.OP_EXECUTE_TOOL:
                    counts[f"tool:{span.attributes.get(c.GEN_AI_TOOL_NAME, '?')}"] += 1
                for event in span.events:
                    if event.get("name") != LOG_EVENT:
                        continue
                    name = parse_marker(str((event.get("attributes") or {}).get("message", "")))
                    if name:
                        counts[name] += 1
    return dict(counts)
