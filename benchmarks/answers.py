"""Limits every scorer applies to an answer before looking at it (candidate-controlled input).

- Size: at most `MAX_ANSWER_BYTES` of UTF-8 text, or of compact JSON for a structured answer.
  A larger answer is never scored: the runner records the episode as `failed` with the reason
  (`oversize`), and a benchmark's `score` called directly fails it the same way.
- Time: scoring must end within the benchmark's `score_timeout_s`; the runner turns an
  overrun, and a `ScorerTimeout` raised by a scorer whose killable child ran over, into a
  `failed` episode with the reason `scorer timeout`.
"""

from __future__ import annotations

import json
from typing import Any

MAX_ANSWER_BYTES = 1_000_000
DEFAULT_SCORE_TIMEOUT_S = 120.0


class ScorerTimeout(TimeoutError):
    """Scoring this answer ran over its time (the work was killed)."""


def oversize(answer: Any, limit: int = MAX_ANSWER_BYTES) -> str | None:
    """Why `answer` is too large to score, or None when it is within `limit` bytes."""
    if isinstance(answer, str):
        # Every character is at least a byte: a text longer than the limit is not encoded.
        too_long = len(answer) > limit
        size = len(answer) if too_long else len(answer.encode("utf-8", "surrogatepass"))
        kind = "text"
    else:
        try:
            size = len(json.dumps(answer, separators=(",", ":"), ensure_ascii=False)
                       .encode("utf-8", "surrogatepass"))
        except (TypeError, ValueError, RecursionError) as error:
            return f"answer is not plain JSON data ({type(error).__name__})"
        kind = "JSON"
    if size > limit:
        return f"answer too large to score: {size:,} bytes of {kind} (limit {limit:,})"
    return None
