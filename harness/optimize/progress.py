"""How the loop reports progress: a small protocol, a silent default and a rich one."""

from __future__ import annotations

from typing import Protocol

from rich.console import Console

from harness.optimize.ledger import Experiment


class Progress(Protocol):
    def phase(self, experiment: int, name: str) -> None: ...

    def finished(self, record: Experiment) -> None: ...

    def detectable(self, tasks: int, trials: int, gain: float) -> None: ...

    def message(self, text: str) -> None: ...


class Quiet:
    def phase(self, experiment: int, name: str) -> None:
        pass

    def finished(self, record: Experiment) -> None:
        pass

    def detectable(self, tasks: int, trials: int, gain: float) -> None:
        pass

    def message(self, text: str) -> None:
        pass


PLAUSIBLE_GAIN = 0.15  # above this, a harness change is unlikely to clear the gate
_STYLE = {"keep": "bold green", "discard": "yellow", "invalid": "red", "crash": "bold red",
          "timeout": "red", "interrupted": "magenta", "baseline": "cyan"}


class RichProgress:
    """A line per phase and per finished experiment, with the running best."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.best: float | None = None

    def phase(self, experiment: int, name: str) -> None:
        self.console.print(f"[dim]exp-{experiment:04d} · {name}…[/dim]")

    def finished(self, record: Experiment) -> None:
        if record.status in ("baseline", "keep") and record.held_out is not None:
            self.best = max(self.best or 0.0, record.held_out)
        style = _STYLE.get(record.status, "")
        numbers = []
        if record.train is not None:
            numbers.append(f"train {record.train:.3f}")
        if record.held_out is not None:
            numbers.append(f"held-out {record.held_out:.3f}")
        if record.delta is not None:
            p = f", p {record.p_value:.3g}" if record.p_value is not None else ""
            against = f" vs {record.control:.3f}" if record.control is not None else ""
            numbers.append(f"Δ {record.delta:+.3f}{against}{p}")
        if record.model_free:
            numbers.append("model_free")
        best = f" · best {self.best:.3f}" if self.best is not None else ""
        what = record.description if record.status in ("keep", "discard", "baseline") \
            else f"{record.description} — {record.reason}".strip(" —")
        self.console.print(
            f"exp-{record.experiment:04d} [{style}]{record.status}[/{style}] "
            f"{' · '.join(numbers)}{best} · {what}", highlight=False)

    def detectable(self, tasks: int, trials: int, gain: float) -> None:
        self.console.print(f"{tasks} held-out tasks × {trials} trials: smallest keepable gain "
                           f"≈ {gain * 100:.0f} points (80 % power)", highlight=False)
        if gain > PLAUSIBLE_GAIN:
            self.console.print(
                f"[bold yellow]warning:[/bold yellow] a harness change rarely gains more than "
                f"{PLAUSIBLE_GAIN * 100:.0f} points; use more held-out tasks or trials "
                "(--held-out-limit, --held-out-trials) or the gate will keep almost nothing")

    def message(self, text: str) -> None:
        self.console.print(text, highlight=False)
