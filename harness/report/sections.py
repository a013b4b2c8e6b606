"""The report's HTML sections that are tables and text: experiments, proposals, counters,
spend, and the finalize verdict. Every workspace string passes through `e()` (HTML-escaped,
quotes included) before it reaches the page; nothing from the workspace is ever placed in a
script, a URL or an attribute other than a quoted, escaped `title`.
"""

from __future__ import annotations

import html
from collections import Counter
from statistics import mean

from harness.optimize.ledger import Experiment
from harness.optimize.versions import tag_of
from harness.report.data import ReportData


def e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(value: float | None, points: bool = False) -> str:
    if value is None:
        return "–"
    return f"{100 * value:+.1f}" if points else f"{value:.3f}"


def _details(summary: str, body: str, cls: str = "") -> str:
    if not body.strip():
        return ""
    return (f'<details class="{cls}"><summary>{e(summary)}</summary>'
            f"<pre>{e(body)}</pre></details>")


def experiments_table(data: ReportData) -> str:
    head = ("#", "status", "description", "hypothesis", "mechanism", "p", "Δ held-out (CI)",
            "train", "held-out", "tokens", "cost $", "s", "diff · meta trace")
    rows = []
    for x in data.experiments:
        files = data.files.get(x.experiment)
        ci = (f" [{_num(x.ci_low, True)}, {_num(x.ci_high, True)}]"
              if x.ci_low is not None else "")
        extra = ""
        if files is not None:
            extra = _details("diff", files.diff, "diff") + _details(
                "meta-agent trace", files.meta_transcript, "trace")
        reason = f'<div class="reason">{e(x.reason)}</div>' if x.reason else ""
        flags = "".join(f' <span class="flag">{f}</span>' for f in _flags(data, x))
        rows.append(
            f'<tr class="st-{e(x.status)}"><td>{tag_of(x.experiment)}</td>'
            f"<td>{e(x.status)}{flags}</td><td>{e(x.description)}{reason}</td>"
            f"<td>{e(x.hypothesis)}</td><td>{e(x.mechanism)}</td>"
            f"<td>{'–' if x.p_value is None else f'{x.p_value:.3g}'}</td>"
            f"<td>{_num(x.delta, True)}{ci}</td><td>{_num(x.train)}</td>"
            f"<td>{_num(x.held_out)}</td><td>{x.tokens}</td><td>{x.cost_usd:.4f}</td>"
            f"<td>{x.seconds:.0f}</td><td>{extra}</td></tr>")
    header = "".join(f"<th>{h}</th>" for h in head)
    return f'<table class="exp"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}' \
           "</tbody></table>"


def _flags(data: ReportData, x: Experiment) -> list[str]:
    flags = []
    if x.model_free:
        flags.append("model_free")
    if data.raw.get(x.experiment, {}).get("inert"):
        flags.append("inert")
    if x.quarantined:
        flags.append("quarantined")
    return flags


def proposals(data: ReportData) -> str:
    """Every proposal, invalid ones included, with the proposer's raw output and its
    predicted vs actual flips; then the calibration over the run."""
    blocks = []
    for x in data.experiments:
        if x.experiment == 0:
            continue
        files = data.files.get(x.experiment)
        raw = "".join(_details(name, text) for name, text in
                      (files.proposer_output.items() if files else []))
        proposal = _details("proposal.json", files.proposal) if files else ""
        kind = f" · proposer {e(files.proposer_kind)}" if files and files.proposer_kind else ""
        blocks.append(
            f'<div class="proposal st-{e(x.status)}"><h4>{tag_of(x.experiment)} · '
            f"{e(x.status)}{kind} · {e(x.component or 'component ?')}</h4>"
            f"<p>{e(x.description)}</p><p class='reason'>{e(x.reason)}</p>"
            f"{_prediction_line(x)}{proposal}{raw}</div>")
    return "".join(blocks) + calibration(data)


def _prediction_line(x: Experiment) -> str:
    p = x.predictions
    if not p:
        return "<p class='pred'>predictions: not checked (no train evaluation)</p>"
    return (f"<p class='pred'>predictions: {e(p.get('verdict', '?'))} — predicted "
            f"{p.get('predicted', 0)} fixes, {len(p.get('predicted_fixed', []))} happened; "
            f"actually fixed {len(p.get('fixed', []))}: {e(', '.join(p.get('fixed', [])))}; "
            f"broken {len(p.get('broken', []))}: {e(', '.join(p.get('broken', [])))}; "
            f"unpredicted regressions: "
            f"{e(', '.join(p.get('unpredicted_regressions', [])) or 'none')}</p>")


def calibration(data: ReportData) -> str:
    """How often the proposer's predicted fixes happened, over the run so far."""
    predicted = hits = 0
    verdicts: Counter[str] = Counter()
    for x in data.experiments:
        p = x.predictions
        if p:
            predicted += int(p.get("predicted", 0))
            hits += len(p.get("predicted_fixed", []))
            verdicts[str(p.get("verdict", "none"))] += 1
    if not verdicts:
        return "<p>Calibration: no prediction was checked yet.</p>"
    rate = f"{hits / predicted:.0%}" if predicted else "n/a"
    counts = ", ".join(f"{e(k)} {v}" for k, v in sorted(verdicts.items()))
    return (f"<p class='calib'>Calibration over the run: {hits} of {predicted} predicted "
            f"fixes happened ({rate}); verdicts: {counts}.</p>")


def counters(data: ReportData) -> str:
    runs = [x for x in data.experiments if x.experiment > 0]
    activity: Counter[str] = Counter()
    for x in runs:
        activity.update(x.activity)
    valid = [x for x in runs if x.status != "invalid"]
    inert = [x for x in runs if data.raw.get(x.experiment, {}).get("inert")]
    inert_known = any("inert" in data.raw.get(x.experiment, {}) for x in runs)
    items = [
        ("experiments", len(runs)),
        ("valid proposals", f"{len(valid)} of {len(runs)}"
         + (f" ({len(valid) / len(runs):.0%})" if runs else "")),
        ("unit tests written", activity.get("write_test", 0)),
        ("subagents spawned", activity.get("spawn_subagents", 0)),
        ("structured moves", activity.get("moves", 0)),
        ("free edits", activity.get("free_edits", 0)),
        ("model_free candidates", ", ".join(tag_of(x.experiment) for x in runs
                                            if x.model_free) or "none"),
        ("mechanisms marked inert", ", ".join(f"{tag_of(x.experiment)} ({x.mechanism})"
                                              for x in inert) or
         ("none" if inert_known else "not recorded by this ledger")),
    ]
    moves = {k: v for k, v in activity.items()
             if k in ("set_prompt", "set_param", "add_demos", "add_block")}
    if moves:
        items.append(("moves by kind", ", ".join(f"{k} {v}" for k, v in sorted(moves.items()))))
    cells = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in items)
    return f'<table class="kv">{cells}</table>' + _proposer_kinds(data, runs)


def _proposer_kinds(data: ReportData, runs: list[Experiment]) -> str:
    kinds: dict[str, list[Experiment]] = {}
    for x in runs:
        kind = data.files[x.experiment].proposer_kind if x.experiment in data.files else ""
        kinds.setdefault(kind or "other", []).append(x)
    if not ("meta" in kinds and "moves" in kinds):
        return ("<p class='note'>Meta-agent vs moves: this workspace ran one kind of proposer "
                f"({e(', '.join(sorted(kinds)) or 'none')}); run another workspace with "
                "<code>--proposer moves</code> to compare them.</p>")
    rows = "".join(
        f"<tr><td>{e(k)}</td><td>{len(v)}</td><td>{sum(x.status == 'keep' for x in v)}</td>"
        f"<td>{sum(x.status != 'invalid' for x in v)}</td></tr>"
        for k, v in sorted(kinds.items()))
    return ("<table class='kv'><tr><th>proposer</th><th>experiments</th><th>kept</th>"
            f"<th>valid</th></tr>{rows}</table>")


def spend(data: ReportData, project: int) -> str:
    runs = [x for x in data.experiments if x.experiment > 0]
    task = sum(x.task_tokens for x in data.experiments)
    proposer = sum(x.proposer_tokens for x in data.experiments)
    cost = sum(x.cost_usd for x in data.experiments)
    seconds = sum(x.seconds for x in data.experiments)
    text = (f"<p>Spent so far: task agent {task:,} tokens, proposer {proposer:,} tokens, "
            f"${cost:.4f}, {seconds / 60:.1f} minutes over {len(data.experiments)} "
            "experiments (baseline included).</p>")
    if runs:
        per_tokens = mean(x.tokens for x in runs)
        per_cost = mean(x.cost_usd for x in runs)
        per_s = mean(x.seconds for x in runs)
        text += (f"<p>Projected for the next {project} experiments (mean of the "
                 f"{len(runs)} so far): ≈ {per_tokens * project:,.0f} tokens, "
                 f"${per_cost * project:.4f}, {per_s * project / 60:.1f} minutes.</p>")
    return text


def final_section(data: ReportData) -> str:
    final = data.final
    if final is None:
        return ("<p class='note'>Not finalized: the sealed split has not been scored. "
                "The held-out score of the best candidate is selection-biased (it is the "
                "maximum over every experiment the gate saw); run <code>harness finalize"
                "</code> for an unbiased estimate.</p>")
    rows = "".join(
        f"<tr><td>{e(s.tag)}</td><td>{e(s.description)}</td><td>{_num(s.train)}</td>"
        f"<td>{_num(s.held_out)}</td><td>{_num(s.sealed)} "
        f"[{s.sealed_ci[0]:.3f}, {s.sealed_ci[1]:.3f}]</td></tr>"
        for s in (final.baseline, final.best))
    table = ("<table class='kv'><tr><th>candidate</th><th>description</th><th>train</th>"
             "<th>held-out</th><th>sealed (95 % CI)</th></tr>" + rows + "</table>")
    best = final.best
    curse = (f"<p class='curse'><b>Winner's curse.</b> {e(best.tag)} was kept at held-out "
             f"{_num(best.held_out)} (selection-biased: the best of every experiment the "
             f"gate saw); a fresh held-out re-run is not recorded in final.json; on the "
             f"sealed split, scored once, it reaches {_num(best.sealed)} "
             f"[{best.sealed_ci[0]:.3f}, {best.sealed_ci[1]:.3f}] with {final.trials} "
             f"trials over {final.sealed_tasks} tasks.")
    if best.held_out is not None and best.sealed is not None:
        curse += f" Shrinkage: {100 * (best.sealed - best.held_out):+.1f} points."
    comparison = final.comparison.get("reason", "") if final.comparison else ""
    sealed = f"<p>Sealed comparison with the baseline: {e(comparison)}</p>" if comparison \
        else ""
    return table + curse + "</p>" + sealed
