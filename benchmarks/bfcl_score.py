"""Scoring BFCL answers with BFCL's own checkers (imported through `_bfcl_checker`).

Runs in the isolated child only (`bfcl.BFCL.score` sends it there): the checkers read the
answer, and the multi-turn one executes its calls.
"""

from __future__ import annotations

import contextlib
import decimal
import importlib
import json
import uuid
from typing import Any

from benchmarks import bfcl_format as fmt
from benchmarks._bfcl_checker import Language, ast_checker, multi_turn_checker, multi_turn_utils
from benchmarks.base import Score


def _preload_apis() -> None:
    """Import the simulated API classes once, in the worker: each scoring fork then starts
    with them loaded (the checker imports them on first use, ~25 ms a fork otherwise)."""
    from bfcl_eval.constants.executable_backend_config import CLASS_FILE_PATH_MAPPING

    for module in sorted(set(CLASS_FILE_PATH_MAPPING.values())):
        with contextlib.suppress(ImportError):  # memory APIs need packages we do not ship
            importlib.import_module(module)


_preload_apis()
_NO_CALL = ("irrelevance", "live_irrelevance")
_SOME_CALL = ("live_relevance",)


def _errors(result: dict[str, Any]) -> str:
    parts = [str(result.get("error_type", "invalid"))]
    err = result.get("error") or result.get("error_message")
    if err:
        parts.append(json.dumps(err, default=str)[:600])
    return ": ".join(parts)


def score_single_turn(
    entry: dict[str, Any], category: str, gold: Any, answer: Any, language: str
) -> Score:
    names = {f["name"] for f in entry["function"]}
    try:
        calls = fmt.parse_calls(fmt.parse_answer(answer), names)
    except fmt.AnswerFormatError as exc:
        if category in _NO_CALL:  # BFCL: an answer that decodes to no call is right here
            return Score.ok(f"no function call decoded ({exc})")
        return Score.fail(f"answer format: {exc}")
    if category in _NO_CALL:
        if calls:
            return Score.fail(f"expected no call, got {[c['name'] for c in calls]}")
        return Score.ok("no call, as expected")
    if category in _SOME_CALL:
        return Score.ok("made a call") if calls else Score.fail("expected a call, got none")
    try:
        result = ast_checker(
            entry["function"], fmt.to_ast_output(calls), gold,
            Language(language), category, "harness",
        )
    except Exception as exc:  # the checker trips over some malformed outputs
        return Score.fail(f"checker rejected the answer: {type(exc).__name__}: {exc}")
    return Score.ok("calls match") if result.get("valid") else Score.fail(_errors(result))


def _call_strings(answer: Any, turns: int, allowed: set[str]) -> list[list[list[str]]]:
    parsed = fmt.parse_answer(answer)
    if not isinstance(parsed, list) or not all(isinstance(t, list) for t in parsed):
        raise fmt.AnswerFormatError("expected a list of turns, each a list of calls")
    if len(parsed) > turns:
        raise fmt.AnswerFormatError(f"{len(parsed)} turns given, the task has {turns}")
    parsed = parsed + [[] for _ in range(turns - len(parsed))]
    out = []
    for i, turn in enumerate(parsed):
        calls = fmt.parse_calls(turn, allowed, where=f"answer[{i}]")
        strings = [fmt.to_call_string(c, allowed) for c in calls]
        out.append([strings] if strings else [])  # one step per turn; BFCL drops empty steps
    return out


def score_multi_turn(entry: dict[str, Any], gold: list[list[str]], answer: Any) -> Score:
    allowed = {f["name"] for f in entry["all_functions"]}
    try:
        calls = _call_strings(answer, len(gold), allowed)
    except fmt.AnswerFormatError as exc:
        return Score.fail(f"answer format: {exc}")
    # The checker keeps API instances in its module globals under a name built from the model
    # name and task id; a fresh name per call keeps scorings independent, and they are removed
    # afterwards so the process does not grow.
    tag = f"harness_{uuid.uuid4().hex}"
    try:
        with decimal.localcontext():  # some APIs set the precision and never restore it
            result = multi_turn_checker(calls, gold, entry, entry["id"].rsplit("_", 1)[0], tag)
    except Exception as exc:
        return Score.fail(f"checker error: {type(exc).__name__}: {exc}")
    finally:
        space = vars(multi_turn_utils)
        for key in [k for k in space if tag in k]:
            del space[key]
    return Score.ok("final states and results match") if result.get("valid") else Score.fail(
        _errors(result)
    )
