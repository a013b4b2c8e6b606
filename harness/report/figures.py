"""The report's charts, drawn with plotly (its JS is inlined once by the page).

Every string from the workspace goes into a chart through `esc` (HTML-escaped): plotly
renders a subset of HTML in labels and hover texts, so an unescaped description such as
`<a href=javascript:…>` would otherwise become markup. Plotly decodes the entities back to
the characters it displays.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from harness.optimize.ledger import Experiment
from harness.optimize.versions import tag_of
from harness.report.data import ReportData

STYLE = {  # status -> (colour, marker symbol, lane in the lineage tree)
    "baseline": ("#1f77b4", "star", 0),
    "keep": ("#2ca02c", "circle", 0),
    "discard": ("#7f7f7f", "circle-open", 1),
    "invalid": ("#ff7f0e", "x", 2),
    "crash": ("#d62728", "triangle-down", 3),
    "timeout": ("#9467bd", "hourglass", 3),
    "interrupted": ("#8c564b", "square-open", 3),
}
LANES = ["kept", "discarded", "invalid", "crash / timeout / interrupted"]
_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
           "height": 420, "hoverlabel": {"align": "left"}}


def esc(text: object, limit: int = 400) -> str:
    value = " ".join(str(text).split())
    return html.escape(value if len(value) <= limit else value[:limit] + "…")


def _hover(e: Experiment) -> str:
    p = "n/a" if e.p_value is None else f"{e.p_value:.3g}"
    delta = "n/a" if e.delta is None else f"{100 * e.delta:+.1f} points"
    return "<br>".join([f"<b>{tag_of(e.experiment)} · {e.status}</b>",
                        f"description: {esc(e.description, 120)}",
                        f"hypothesis: {esc(e.hypothesis, 200)}",
                        f"p-value: {p} · Δ held-out {delta}",
                        f"reason: {esc(e.reason, 200)}"])


def progress(data: ReportData) -> go.Figure:
    """Held-out score per experiment by status, the running best as a step line, and the
    baseline's noise band. Experiments never scored sit on a lane at 0, marked as such."""
    fig = go.Figure()
    base = data.baseline
    if base is not None and base.held_out is not None and base.noise_floor is not None:
        band = 2 * base.noise_floor
        fig.add_hrect(y0=max(0.0, base.held_out - band), y1=min(1.0, base.held_out + band),
                      fillcolor="#1f77b4", opacity=0.12, line_width=0,
                      annotation_text="noise band: baseline ± 2 SD between trials",
                      annotation_position="top left")
    for status, (colour, symbol, _) in STYLE.items():
        items = [e for e in data.experiments if e.status == status]
        if not items:
            continue
        scored = status in ("baseline", "keep", "discard")
        fig.add_trace(go.Scatter(
            x=[e.experiment for e in items],
            y=[(e.held_out or 0.0) if scored else 0.0 for e in items],
            mode="markers+text" if status in ("baseline", "keep") else "markers",
            name=status if scored else f"{status} (not scored)",
            text=[esc(e.description, 40) for e in items], textposition="top center",
            hovertext=[_hover(e) for e in items], hoverinfo="text",
            marker={"color": colour, "symbol": symbol, "size": 11,
                    "line": {"width": 2, "color": colour}}))
    best = _running_best(data.experiments)
    fig.add_trace(go.Scatter(x=[e.experiment for e in data.experiments], y=best,
                             mode="lines", line_shape="hv", name="running best",
                             line={"color": "#2ca02c", "width": 2}, hoverinfo="skip"))
    last = max((e.experiment for e in data.experiments), default=0)
    fig.update_layout(title="Held-out score per experiment", xaxis_title="experiment",
                      xaxis_range=[-0.6, last + 0.9],  # room for the labels at the ends
                      yaxis_title="held-out score", yaxis_range=[-0.05, 1.1], **_LAYOUT)
    return fig


def _running_best(experiments: list[Experiment]) -> list[float | None]:
    best: float | None = None
    out: list[float | None] = []
    for e in experiments:
        if e.status in ("baseline", "keep") and e.held_out is not None:
            best = e.held_out if best is None else max(best, e.held_out)
        out.append(best)
    return out


def generalisation(data: ReportData) -> tuple[go.Figure, list[Experiment]]:
    """Train and held-out per scored experiment; flagged where train rose over the parent
    and held-out did not (the change fits train only)."""
    scored = [e for e in data.experiments if e.status in ("baseline", "keep", "discard")]
    by_tag = data.by_tag()
    flagged = [e for e in scored if _gap(e, by_tag.get(e.parent))]
    fig = go.Figure()
    for name, values, line in (
            ("held-out", [e.held_out for e in scored], {"color": "#1f77b4"}),
            ("train", [e.train for e in scored], {"color": "#ff7f0e", "dash": "dot"})):
        fig.add_trace(go.Scatter(x=[e.experiment for e in scored], y=values,
                                 mode="lines+markers", name=name, line=line,
                                 hovertext=[_hover(e) for e in scored], hoverinfo="text"))
    if flagged:
        fig.add_trace(go.Scatter(
            x=[e.experiment for e in flagged], y=[e.train for e in flagged], mode="markers",
            name="gap: train up, held-out not", hoverinfo="text",
            hovertext=[_hover(e) for e in flagged],
            marker={"symbol": "diamond-open", "size": 18, "color": "#d62728",
                    "line": {"width": 3}}))
    fig.update_layout(title="Train vs held-out", xaxis_title="experiment",
                      yaxis_title="score", yaxis_range=[-0.05, 1.1], **_LAYOUT)
    return fig, flagged


def _gap(e: Experiment, parent: Experiment | None) -> bool:
    if parent is None or None in (e.train, parent.train, e.held_out, parent.held_out):
        return False
    return bool(e.train > parent.train + 1e-9  # type: ignore[operator]
                and e.held_out <= parent.held_out + 1e-9)  # type: ignore[operator]


def score_vs_cost(data: ReportData) -> go.Figure:
    """Held-out score against tokens (and dollars, when any were spent) per train episode,
    with the Pareto front: no other candidate is both cheaper and better."""
    items = [e for e in data.experiments if e.experiment in data.train_cost
             and e.held_out is not None]
    dollars = any(data.train_cost[e.experiment][1] > 0 for e in items)
    axis = 1 if dollars else 0
    fig = go.Figure()
    for status in ("baseline", "keep", "discard"):
        group = [e for e in items if e.status == status]
        if group:
            fig.add_trace(go.Scatter(
                x=[data.train_cost[e.experiment][axis] for e in group],
                y=[e.held_out for e in group], mode="markers", name=status,
                marker={"color": STYLE[status][0], "symbol": STYLE[status][1], "size": 11},
                hovertext=[_hover(e) for e in group], hoverinfo="text"))
    front = pareto_front([(data.train_cost[e.experiment][axis], e.held_out or 0.0, e)
                          for e in items])
    fig.add_trace(go.Scatter(x=[c for c, _, _ in front], y=[s for _, s, _ in front],
                             mode="lines", line_shape="hv", name="Pareto front",
                             line={"color": "#2ca02c", "dash": "dot"}, hoverinfo="skip"))
    unit = "dollars" if dollars else "tokens"
    fig.update_layout(title=f"Held-out score vs cost ({unit} per train episode)",
                      xaxis_title=f"{unit} per train episode", yaxis_title="held-out score",
                      **_LAYOUT)
    return fig


def pareto_front(points: list[tuple[float, float, Experiment]]
                 ) -> list[tuple[float, float, Experiment]]:
    """Points no other point dominates (cost lower or equal and score higher or equal, one
    strictly), sorted by cost."""
    front: list[tuple[float, float, Experiment]] = []
    for cost, score, e in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or score > front[-1][1]:
            front.append((cost, score, e))
    return front


def heat_map(data: ReportData) -> go.Figure:
    """Train score per task (rows) and kept candidate (columns)."""
    columns = sorted(data.train_tasks)
    tasks = sorted({t for table in data.train_tasks.values() for t in table})
    z = [[data.train_tasks[c].get(t) for c in columns] for t in tasks]
    fig = go.Figure(go.Heatmap(
        z=z, x=[tag_of(c) for c in columns], y=[esc(t, 60) for t in tasks],
        colorscale="RdYlGn", zmin=0, zmax=1, colorbar={"title": "train"},
        hovertemplate="%{y} · %{x}: %{z:.2f}<extra></extra>"))
    fig.update_layout(title="Train score per task × kept candidate", xaxis_type="category",
                      **(_LAYOUT | {"height": max(300, 120 + 18 * len(tasks))}))
    return fig


def lineage(data: ReportData) -> go.Figure:
    """Parent → child edges; one horizontal lane per outcome."""
    lane = {e.experiment: STYLE[e.status][2] for e in data.experiments}
    by_tag = data.by_tag()
    xs: list[float | None] = []
    ys: list[float | None] = []
    for e in data.experiments:
        parent = by_tag.get(e.parent)
        if parent is not None:
            xs += [parent.experiment, e.experiment, None]
            ys += [lane[parent.experiment], lane[e.experiment], None]
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#bbb"},
                               hoverinfo="skip", showlegend=False))
    for status, (colour, symbol, row) in STYLE.items():
        group = [e for e in data.experiments if e.status == status]
        if group:
            fig.add_trace(go.Scatter(
                x=[e.experiment for e in group], y=[row] * len(group), mode="markers",
                name=status, marker={"color": colour, "symbol": symbol, "size": 13},
                hovertext=[_hover(e) for e in group], hoverinfo="text"))
    fig.update_layout(title="Lineage: parent → child, one lane per outcome",
                      xaxis_title="experiment",
                      yaxis={"tickvals": list(range(len(LANES))), "ticktext": LANES,
                             "autorange": "reversed"}, **(_LAYOUT | {"height": 320}))
    return fig


def final_bars(data: ReportData) -> go.Figure | None:
    """Train, held-out and sealed for the baseline and the best (sealed with its CI)."""
    final = data.final
    if final is None:
        return None
    fig = go.Figure()
    for side in (final.baseline, final.best):
        low, high = side.sealed_ci
        sealed = side.sealed or 0.0
        fig.add_trace(go.Bar(
            name=f"{side.tag} ({esc(side.description, 30)})",
            x=["train", "held-out (selection-biased)", "sealed"],
            y=[side.train, side.held_out, side.sealed],
            error_y={"type": "data", "symmetric": False, "array": [0, 0, high - sealed],
                     "arrayminus": [0, 0, sealed - low]}))
    fig.update_layout(title="After finalize: train, held-out and sealed", barmode="group",
                      yaxis_title="score", yaxis_range=[0, 1.1], **_LAYOUT)
    return fig
