"""The fixed building blocks task agents may import (the harness does not change them per
candidate). Everything here works only through the `AgentContext` (`ctx.model`, `ctx.tool`,
`ctx.subagent`, `ctx.log`), so all of it shows up in the episode's trace.

- `context`: the agent contract (`TaskView`, `AgentContext`, `ToolResult`, `BudgetExceeded`).
- `tools`: `run_python`, `run_tests`.
- `fanout`: `fan_out(ctx, items, worker, name=...)`, parallel subagents via LangGraph `Send`.
- `verify`: `verify_and_retry(ctx, generate, verify, attempts=3)`, `Verdict`, `Attempt`.
- `consistency`: `self_consistency(ctx, sample, n=5, normalize=...)`, `majority_vote`.
- `text_tools`: the `<tool_call>` text protocol and `call_with_tools(..., native=...)`.
- `answers`: `final_answer`, `last_number`, `labelled_answer`, `extract_code`, ...
- `prompts`: `load_prompts(__file__)`, `fill(template, **values)`.
- `strategy`: `load_strategy(__file__)`, `load_demos(...)`: an agent's wiring points as data
  (`strategy.json`, `demos.json`), the surface structured moves edit.
- `mechanisms`: `mark(ctx, "vote")`: say on the trace that a mechanism fired.
"""

from task_agents.lib.answers import extract_code, final_answer, labelled_answer, last_number
from task_agents.lib.consistency import majority_vote, self_consistency
from task_agents.lib.context import AgentContext, BudgetExceeded, TaskView, ToolResult
from task_agents.lib.fanout import fan_out
from task_agents.lib.mechanisms import mark
from task_agents.lib.prompts import fill, load_prompts
from task_agents.lib.strategy import Strategy, demo_turns, load_demos, load_strategy
from task_agents.lib.text_tools import (
    call_with_tools,
    followup_messages,
    parse_tool_calls,
    render_tools_prompt,
)
from task_agents.lib.tools import run_python, run_tests
from task_agents.lib.verify import Attempt, Verdict, verify_and_retry

__all__ = [
    "AgentContext", "Attempt", "BudgetExceeded", "Strategy", "TaskView", "ToolResult",
    "Verdict", "call_with_tools", "demo_turns", "extract_code", "fan_out", "fill",
    "final_answer", "followup_messages", "labelled_answer", "last_number", "load_demos",
    "load_prompts", "load_strategy", "majority_vote", "mark", "parse_tool_calls",
    "render_tools_prompt", "run_python", "run_tests", "self_consistency", "verify_and_retry",
]
