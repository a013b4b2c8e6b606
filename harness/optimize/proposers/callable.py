"""A proposer made from a Python function, for tests and for library users.

The function takes the `Brief` and returns a `Proposal` (or a mapping of its fields), either
directly or as an awaitable. It edits `brief.candidate` itself; it runs in this process,
unsandboxed, so it is for code you trust.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import ValidationError

from harness.optimize.proposal import Brief, Proposal, ProposalError

Returned = Proposal | Mapping[str, Any]
ProposeFn = Callable[[Brief], Returned | Awaitable[Returned]]


class CallableProposer:
    """Wraps `fn(brief) -> Proposal`; a mapping is validated like a command's proposal file."""

    def __init__(self, fn: ProposeFn) -> None:
        self.fn = fn

    async def propose(self, brief: Brief) -> Proposal:
        result = self.fn(brief)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, Proposal):
            return result
        if not isinstance(result, Mapping):
            raise ProposalError(f"the proposer function returned {type(result).__name__}, "
                                "not a Proposal")
        try:
            return Proposal.model_validate(dict(result))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "(top level)"
            raise ProposalError(f"proposal: field {field}: {first['msg']}") from None
