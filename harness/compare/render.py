"""Print a `Comparison` for a human: the per-task table, flips, statistics, costs, verdict.

Every string that came from a run (task ids, categories, the diff) is printed as plain text,
never as rich markup, so a task id like "[red]x" cannot restyle or hide output.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.compare.compare import Comparison

_MARK = {"win": "B", "loss": "A", "tie": "="}


def print_comparison(result: Comparison, out: Console) -> None:
    _header(result, out)
    out.print(_task_table(result))
    _flips(result, out)
    _statistics(result, out)
    _costs(result, out)
    if result.categories:
        out.print(_categories(result))
    if result.diff is not None:
        out.print(Text("code diff (A → B):", style="bold"))
        out.print(Text(result.diff), soft_wrap=True)
    out.print(Text("verdict: " + result.verdict, style="bold"), soft_wrap=True)


def _plain(text: str, out: Console) -> None:
    out.print(Text(text), soft_wrap=True)


def _header(result: Comparison, out: Console) -> None:
    _plain(f"{result.benchmark} · {result.split} · {result.model}", out)
    for side in (result.a, result.b):
        source = "stored episodes reused" if side.reused else "evaluated now"
        _plain(f"{side.label} = {side.spec} (code {side.agent_sha256[:12]}, {source}"
               + (f": {side.run_dir})" if side.run_dir else ")"), out)


def _task_table(result: Comparison) -> Table:
    table = Table(title="per task (B − A)")
    for column in ("task", "category", "A score", "B score", "A tokens", "B tokens",
                   "A s", "B s", "winner"):
        table.add_column(column, no_wrap=column == "task")
    for row in result.tasks:
        table.add_row(Text(row.task_id), Text(row.category), f"{row.a_score:.2f}",
                      f"{row.b_score:.2f}", str(row.a_tokens), str(row.b_tokens),
                      f"{row.a_latency_s:.1f}", f"{row.b_latency_s:.1f}", _MARK[row.outcome])
    return table


def _flips(result: Comparison, out: Console) -> None:
    _plain(f"flipped: {len(result.flips.fixed)} fixed by B ("
           + ", ".join(result.flips.fixed[:20]) + "), "
           + f"{len(result.flips.broken)} broken by B ("
           + ", ".join(result.flips.broken[:20]) + ")", out)
    if result.dropped_tasks:
        _plain(f"left out (no counted trial on one side): {', '.join(result.dropped_tasks)}",
               out)


def _statistics(result: Comparison, out: Console) -> None:
    s = result.stats
    cluster = f", {s.clusters} clusters by {s.cluster_by}" if s.cluster_by else ""
    _plain(f"paired test: {s.method} over {s.n_tasks} tasks × {s.trials} trials{cluster}: "
           f"B wins {s.wins}, loses {s.losses}, ties {s.ties}; "
           f"statistic {_num(s.statistic)}, p = {s.p_two_sided:.4g} two-sided "
           f"(B better, one-sided: {s.p_b_better:.4g})", out)
    _plain(f"mean difference {100 * s.delta:+.1f} points, 95 % CI "
           f"[{100 * s.ci_low:+.1f}, {100 * s.ci_high:+.1f}]", out)
    a, b = result.a.totals, result.b.totals
    if a.pass_at_k is not None and b.pass_at_k is not None:
        k = s.trials
        _plain(f"pass@{k}: A {a.pass_at_k:.2f} · B {b.pass_at_k:.2f}; "
               f"pass^{k}: A {a.pass_hat_k:.2f} · B {b.pass_hat_k:.2f}", out)


def _costs(result: Comparison, out: Console) -> None:
    a, b = result.a.totals, result.b.totals
    _plain(f"tokens: A {a.tokens} · B {b.tokens} (Δ {result.token_delta:+d}); "
           f"cost: A ${a.cost_usd:.4f} · B ${b.cost_usd:.4f} (Δ {result.cost_delta_usd:+.4f}); "
           f"latency per episode: A {a.mean_latency_s:.2f} s · B {b.mean_latency_s:.2f} s "
           f"(Δ {result.latency_delta_s:+.2f})", out)


def _categories(result: Comparison) -> Table:
    table = Table(title="categories that moved")
    for column in ("category", "tasks", "Δ points", "B wins", "B losses"):
        table.add_column(column)
    for shift in result.categories:
        table.add_row(Text(shift.category), str(shift.tasks), f"{100 * shift.delta:+.1f}",
                      str(shift.wins), str(shift.losses))
    return table


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"
