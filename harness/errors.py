"""Error classes shared across the harness.

`HarnessError` subclasses carry a one-line message fit for the CLI; the CLI prints it and
exits with `exit_code` (2 for bad input, 1 for failures at run time).
"""

from __future__ import annotations


class HarnessError(Exception):
    exit_code = 1


class ConfigError(HarnessError):
    """Bad user input: a spec, a config file, a flag. Message names the field (and file:line)."""

    exit_code = 2

    def __init__(self, field: str, problem: str, *, source: str | None = None) -> None:
        self.field = field
        self.problem = problem
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{field}: {problem}")


class ModelError(HarnessError):
    """Base of model-call failures."""


class ModelRequestError(ModelError):
    """A request the provider will never accept (bad key, unknown model, bad request).

    Permanent: retrying cannot help.
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message)


class ModelUnavailableError(ModelError):
    """The model could not be reached or kept failing after retries (systemic)."""


class ServerStartError(HarnessError):
    """A managed model server did not come up; the message ends with its last log lines."""
