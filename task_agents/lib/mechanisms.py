"""Markers that say a mechanism fired: a vote was taken, a verify step ran, the calculator
was called, demonstrations were used.

    mark(ctx, "vote", "3 of 5 for '42'")   # an `agent.log` event "mechanism:vote 3 of 5 ..."

Each is an `agent.log` event on the current agent span, so it lands in the episode's trace.
After a train run the loop counts them (`meta_agent.moves.fired.fired_mechanisms`) and marks
a change whose mechanism never fired as inert. Markers are advisory: candidate code can
write them too, so they may only ever label an experiment, never score it.
"""

from __future__ import annotations

from typing import Final

from task_agents.lib.context import AgentContext

PREFIX: Final = "mechanism:"
# The mechanisms the building blocks and starter agents report, by marker name.
KNOWN: Final = ("vote", "verify", "calculator", "demos", "fanout")


def marker(name: str, detail: str = "") -> str:
    """The log line for mechanism `name` (one word), with an optional short detail."""
    return f"{PREFIX}{name}" + (f" {detail}" if detail else "")


def mark(ctx: AgentContext, name: str, detail: str = "") -> None:
    """Record on the trace that mechanism `name` fired in this episode."""
    ctx.log(marker(name, detail))


def parse_marker(message: str) -> str | None:
    """The mechanism name of a marker line, or None for any other log line."""
    if not message.startswith(PREFIX):
        return None
    name = message[len(PREFIX):].split(" ", 1)[0].strip()
    return name or None
