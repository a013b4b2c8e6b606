"""BFCL multi-turn tasks as a live environment: the agent's calls run on the simulated APIs.

Without it an agent could only guess what `ls` or `get_stock_info` returns. Each episode gets
fresh API instances built from the task's `initial_config` by BFCL's own executor; calls are
turned into call text by `to_call_string`, which admits only the task's function names and
JSON values, because BFCL `eval`s that text.
"""

from __future__ import annotations

import uuid
from typing import Any

from benchmarks import bfcl_format as fmt

OUTPUT_LIMIT = 4_000


class BfclEnvironment:
    """The simulated APIs of one multi-turn task, for one episode."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self._entry = entry
        self._allowed = {f["name"] for f in entry["all_functions"]}
        # BFCL keys its API instances by a model name; a fresh one per episode isolates them.
        self._tag = f"harness_env_{uuid.uuid4().hex}"

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, str]:
        from benchmarks._bfcl_checker import multi_turn_utils

        try:
            text = fmt.to_call_string({"name": name, "arguments": dict(arguments)},
                                      self._allowed)
        except (fmt.AnswerFormatError, TypeError) as error:
            return False, f"not a valid call: {error}"
        results, _ = multi_turn_utils.execute_multi_turn_func_call(
            [text], self._entry.get("initial_config", {}), self._entry["involved_classes"],
            self._tag, self._entry["id"],
            long_context="long_context" in self._entry["id"])
        output = str(results[0]) if results else ""
        ok = not output.startswith("Error during execution")
        return ok, output[:OUTPUT_LIMIT]

    def close(self) -> None:
        from benchmarks._bfcl_checker import multi_turn_utils

        space = vars(multi_turn_utils)
        for key in [k for k in space if self._tag in k]:
            del space[key]
