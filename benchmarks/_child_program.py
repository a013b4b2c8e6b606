"""The candidate side of the code scorer (see `code_scorer`): runs as `child.py` in the sandbox
folder, started by the trusted checker with `python -I child.py`, and nothing else.

It loads `candidate.py` as `__main__`, then serves calls over its stdin/stdout: per request
`["call", name, args, kwargs]` (a length-prefixed marshal frame), one JSON line per reply:
`["ok", value]`, `["err", builtin exception type, args, own type name, where]` or
`["bad", why]` (a result that is not plain data). The first reply is
`["ready", [top-level function names]]`, or `["err", ...]` when loading failed. The real stdin
and stdout are moved to private descriptors first, so the candidate's `print`/`input` see
/dev/null and cannot corrupt the channel by accident (on purpose they can, but that only makes
their own replies malformed). This process holds no test code and no pass marker.
"""

from __future__ import annotations

import builtins
import importlib
import os
import sys
import types

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~3 ms of start-up
    from typing import Any

CANDIDATE = "candidate.py"
_MAX_TEXT = 2000


def _where(exc: BaseException) -> str:
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == CANDIDATE]
    if not frames:
        return ""
    last = frames[-1]
    return f"{CANDIDATE}, line {last.lineno}, in {last.name}: {(last.line or '').strip()}"[
        :_MAX_TEXT]


def _error(codec: Any, exc: BaseException) -> list[Any]:
    """The reply for an exception: the nearest builtin exception type in its MRO (RuntimeError
    for SystemExit and other non-`Exception`s), its args when they are plain data (else its
    text), its own type's name, and where in the candidate it was raised."""
    name = "RuntimeError"
    if isinstance(exc, Exception):
        for cls in type(exc).__mro__:
            if getattr(builtins, cls.__name__, None) is cls:
                name = cls.__name__
                break
    args = None
    if name != "RuntimeError" or type(exc) is RuntimeError:
        try:
            args = codec.encode(tuple(exc.args))
        except Exception:
            args = codec.encode((_text(exc)[:_MAX_TEXT],))
    else:
        args = codec.encode((f"{type(exc).__name__}: {_text(exc)}"[:_MAX_TEXT],))
    return ["err", name, args, type(exc).__name__[:200], _where(exc)]


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "?"


def _load() -> types.ModuleType:
    with open(CANDIDATE, encoding="utf-8") as fh:
        source = fh.read()
    module = types.ModuleType("__main__")
    module.__file__ = os.path.abspath(CANDIDATE)
    sys.modules["__main__"] = module
    sys.argv = [CANDIDATE]
    exec(compile(source, CANDIDATE, "exec"), module.__dict__)
    return module


def _functions(module: types.ModuleType) -> list[str]:
    kinds = (types.FunctionType, types.BuiltinFunctionType)
    return [name for name, value in list(vars(module).items())
            if isinstance(value, kinds) and not name.startswith("__")]


def _call(codec: Any, module: types.ModuleType, request: Any) -> list[Any]:
    try:
        _kind, name, args, kwargs = request
        args, kwargs = codec.decode(args), codec.decode(kwargs)
        fn = getattr(module, name)
    except Exception as exc:
        return ["err", "RuntimeError", codec.encode((f"bad request: {exc}",)), "", ""]
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:
        return _error(codec, exc)
    try:
        return ["ok", codec.encode(result)]
    except Exception as exc:
        return ["bad", _text(exc)[:_MAX_TEXT]]


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [here, *sys.argv[1].split(os.pathsep)]  # started with -S: checker's path
    import site  # with -S this runs no site processing; just give back exit() and quit()

    site.setquit()
    codec = importlib.import_module("plain_codec")
    rpc_in = os.fdopen(os.dup(0), "rb")
    rpc_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)

    def send(message: Any) -> None:
        rpc_out.write(codec.dump_line(message))
        rpc_out.flush()

    try:
        module = _load()
    except BaseException as exc:
        send(_error(codec, exc))
        return
    send(["ready", _functions(module)])
    while len(header := rpc_in.read(4)) == 4:
        request = codec.unpack(rpc_in.read(int.from_bytes(header, "big")))
        try:
            message = codec.dump_line(_call(codec, module, request))
        except Exception as exc:
            why = f"cannot send the reply: {_text(exc)}"[:_MAX_TEXT]
            message = codec.dump_line(["bad", why])
        rpc_out.write(message)
        rpc_out.flush()


if __name__ == "__main__":
    main()
