"""Self-consistency: sample several answers as parallel subagents, return the majority.

    answer = await self_consistency(ctx, one_answer, n=5, normalize=final_answer)

`sample(ctx, i)` produces the i-th answer (use a non-zero temperature, or vary the prompt by
`i`). Samples run through `fan_out` as subagents `{name}[i]`. Answers are compared after
`normalize`; empty ones do not vote unless every answer is empty. Ties go to the answer seen
first. The normalized winner is returned. Each vote taken is marked `mechanism:vote`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable

from task_agents.lib.context import AgentContext
from task_agents.lib.fanout import fan_out
from task_agents.lib.mechanisms import mark

Sample = Callable[[AgentContext, int], Awaitable[str]]


def majority_vote(answers: Iterable[str], normalize: Callable[[str], str] = str.strip) -> str:
    """The most common normalized answer (first seen wins a tie); "" when there are none."""
    normalized = [normalize(answer or "") for answer in answers]
    votes = Counter(answer for answer in normalized if answer)
    return votes.most_common(1)[0][0] if votes else ""


async def self_consistency(
    ctx: AgentContext, sample: Sample, *, n: int = 5,
    normalize: Callable[[str], str] = str.strip, name: str = "sample",
) -> str:
    """Majority answer of `n` samples (see the module docstring)."""
    answers = await fan_out(ctx, list(range(max(1, n))), sample, name=name)
    winner = majority_vote(answers, normalize)
    votes = sum(normalize(answer or "") == winner for answer in answers)
    ctx.log(f"self-consistency: {votes} of {len(answers)} votes for {winner[:80]!r}")
    mark(ctx, "vote", f"{votes} of {len(answers)}")
    return winner
