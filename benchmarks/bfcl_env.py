"""BFCL multi-turn tasks as a live environment: the agent's calls run on the simulated APIs.

Without it an agent could only guess what `ls` or `get_stock_info` returns. Each episode gets
fresh API instances built from the task's `initial_config` by BFCL's own executor, in a child
process of its own (`IsolatedWorker`: a call that computes forever or eats memory is killed
there, not in the harness). Calls are turned into call text by `to_call_string`, which admits
only the task's function names and JSON values, because BFCL `eval`s that text.
"""

from __future__ import annotations

import decimal
import uuid
from typing import Any

from benchmarks import bfcl_format as fmt
from benchmarks._isolated import IsolatedError, IsolatedWorker

OUTPUT_LIMIT = 4_000
CALL_TIMEOUT_S = 20.0


def execute(entry: dict[str, Any], text: str, tag: str) -> str:
    """In the child: run one call on this episode's API instances (kept between calls)."""
    from benchmarks._bfcl_checker import multi_turn_utils

    with decimal.localcontext():  # some APIs set the precision and never restore it
        results, _ = multi_turn_utils.execute_multi_turn_func_call(
            [text], entry.get("initial_config", {}), entry["involved_classes"], tag,
            entry["id"], long_context="long_context" in entry["id"])
    return str(results[0]) if results else ""


class BfclEnvironment:
    """The simulated APIs of one multi-turn task, for one episode."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self._entry = entry
        self._allowed = {f["name"] for f in entry["all_functions"]}
        self._tag = f"harness_env_{uuid.uuid4().hex}"
        self._worker: IsolatedWorker | None = None  # started on the first call
        self.timeout_s = CALL_TIMEOUT_S

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, str]:
        try:
            text = fmt.to_call_string({"name": name, "arguments": dict(arguments)},
                                      self._allowed)
        except (fmt.AnswerFormatError, TypeError) as error:
            return False, f"not a valid call: {error}"
        if self._worker is None:
            self._worker = IsolatedWorker()
        try:
            output = await self._worker.call("benchmarks.bfcl_env:execute", self._entry, text,
                                             self._tag, timeout_s=self.timeout_s)
        except IsolatedError as error:
            return False, f"environment error: {error}"
        return not output.startswith("Error during execution"), output[:OUTPUT_LIMIT]

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
