"""`harness report`: one self-contained HTML page of an optimisation run (plotly, inlined)."""

from harness.report.page import write_report

__all__ = ["write_report"]
