"""The report page: one HTML file with plotly's JS and every style inlined.

A Content-Security-Policy in the page forbids every fetch (`default-src 'none'`): the report
opens offline from a file, and even a string that slipped past escaping could load nothing.
Only inline scripts run, and the only inline scripts are plotly's bundle and the figure calls
plotly itself writes (its JSON escapes `<`, `>` and `/`, so data cannot close the script).
"""

from __future__ import annotations

import html
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from harness.report import figures, sections
from harness.report.data import ReportData, load

CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data:; font-src data:")
CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1400px;
       padding: 0 24px 48px; color: #222; }
h1 { margin: 20px 0 4px; } h2 { margin-top: 36px; border-bottom: 1px solid #ddd; }
.meta { color: #555; } .note { color: #666; font-style: italic; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 4px 6px; vertical-align: top; text-align: left; }
table.exp td { max-width: 280px; overflow-wrap: anywhere; }
tr.st-keep td:first-child, tr.st-baseline td:first-child { border-left: 4px solid #2ca02c; }
tr.st-discard td:first-child { border-left: 4px solid #7f7f7f; }
tr.st-invalid td:first-child { border-left: 4px solid #ff7f0e; }
tr.st-crash td:first-child, tr.st-timeout td:first-child { border-left: 4px solid #d62728; }
.reason { color: #666; font-size: 12px; } .flag { background: #fde68a; border-radius: 3px;
  padding: 0 4px; font-size: 11px; }
pre { background: #f6f8fa; padding: 8px; max-height: 420px; overflow: auto;
      white-space: pre-wrap; font-size: 12px; }
details summary { cursor: pointer; color: #0550ae; }
.proposal { border-left: 4px solid #ccc; padding: 2px 12px; margin: 10px 0; }
.proposal.st-keep { border-color: #2ca02c; } .proposal.st-invalid { border-color: #ff7f0e; }
.proposal.st-crash { border-color: #d62728; }
.curse { background: #fff7e6; padding: 8px; border: 1px solid #f5c26b; }
.gap { color: #d62728; }
"""
_PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def write_report(root: Path, output: Path, project: int = 10) -> Path:
    """Render the workspace at `root` into the self-contained HTML file `output`."""
    html_text = render(load(root), project)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(html_text, encoding="utf-8")
    tmp.replace(output)
    return output


def render(data: ReportData, project: int) -> str:
    gap_fig, flagged = figures.generalisation(data)
    gap = ", ".join(f"exp-{x.experiment:04d}" for x in flagged)
    body = [
        _header(data),
        _section("Progress", _figure(figures.progress(data), "progress")),
        _section("Train vs held-out", _figure(gap_fig, "generalisation")
                 + (f"<p class='gap'>Generalisation gap (train rose over the parent, "
                    f"held-out did not): {gap}</p>" if flagged else
                    "<p>No generalisation gap flagged.</p>")),
        _section("Score vs cost", _figure(figures.score_vs_cost(data), "cost")),
        _section("Per-task train scores of kept candidates",
                 _figure(figures.heat_map(data), "heatmap")),
        _section("Lineage", _figure(figures.lineage(data), "lineage")),
        _section("Experiments", sections.experiments_table(data)),
        _section("Proposals", sections.proposals(data)),
        _section("Proposer activity", sections.counters(data)),
        _section("Spend", sections.spend(data, project)),
        _section("Finalize", _final(data)),
    ]
    title = html.escape(f"harness report · {data.root.name}")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            f"<title>{title}</title><style>{CSS}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head>"
            f"<body>{''.join(body)}</body></html>")


def _header(data: ReportData) -> str:
    info = data.info
    counts = Counter(x.status for x in data.experiments)
    state = (f"finalized {info.finalized_at:%Y-%m-%d %H:%M} UTC" if info.finalized_at
             else "not finalized")
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    e = sections.e
    return (f"<h1>{e(data.root.name)}</h1><p class='meta'>agent <b>{e(info.agent_name)}</b> "
            f"· benchmark <b>{e(info.benchmark)}</b> · model <b>{e(info.model)}</b> · "
            f"started {info.created_at:%Y-%m-%d %H:%M} UTC · {e(state)} · "
            f"{len(data.experiments)} experiments ({e(summary)}) · report written "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>")


def _section(title: str, content: str) -> str:
    anchor = title.lower().replace(" ", "-")
    return f"<section id='{anchor}'><h2>{html.escape(title)}</h2>{content}</section>"


def _figure(fig: go.Figure, div_id: str) -> str:
    # "fig-" keeps the plot's div id apart from the section anchors (plotly draws into the
    # first element with its id)
    return str(fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig-{div_id}",
                           config=_PLOT_CONFIG))


def _final(data: ReportData) -> str:
    bars = figures.final_bars(data)
    return (_figure(bars, "final") if bars is not None else "") + sections.final_section(data)
