"""The trusted checker of the code scorer (see `code_scorer`): runs as `main.py` in the sandbox.

It makes itself non-dumpable (so no process of the same uid can read its memory or open its
descriptors through /proc), drops the run folder from `sys.path` (the candidate can write there),
reads the job (tests, setup code, pass marker, function names, timeouts) as JSON from stdin,
and starts `child.py`, which loads `candidate.py` and answers calls with plain data only. The
tests run here, with each tested function replaced by a proxy that calls into the child; the
marker goes to this process's stdout, which only the harness reads, only when every test ran
without an exception and no call failed at the protocol level (timeout, non-plain value,
oversized or malformed reply, child gone): such a `CandidateFault` is a BaseException, and it is
remembered, so tests that swallow exceptions cannot hide it. On failure the reason is the last
thing written to stderr. Self-contained: standard library only.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import importlib
import json
import keyword
import os
import select
import subprocess
import sys
import time
import traceback

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

PR_SET_DUMPABLE = 4
MAX_REPLY = 16 * 1024 * 1024
_SOURCES = {"<setup>": "", "<tests>": ""}


class CandidateFault(BaseException):
    """The candidate broke the protocol: timeout, non-plain data, crash. Always a failure."""


def _fail(message: str, code: int = 1) -> NoReturn:
    sys.stderr.write(f"\n{message.rstrip()}\n")
    sys.stderr.flush()
    os._exit(code)


def _harden() -> Any:
    """Become non-dumpable, import the codec (harness-written; no candidate code has run yet),
    then forget the run folder as an import location: the candidate can write files there."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            _fail("checker: cannot make itself non-dumpable", 2)
    codec = importlib.import_module("plain_codec")
    here = {"", ".", os.getcwd(), os.path.realpath(os.getcwd())}
    sys.path[:] = [p for p in sys.path if p not in here]
    for path in here:
        sys.path_importer_cache.pop(path, None)
    return codec


class Child:
    """The candidate's process and the line-based channel to it."""

    def __init__(self, codec: Any, load_timeout: float, call_timeout: float) -> None:
        self.codec, self.call_timeout = codec, call_timeout
        self.fault: str | None = None
        self._buf = bytearray()
        # -S: no site processing (.pth files cost ~15 ms); the checker's own path is passed.
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "child.py", os.pathsep.join(sys.path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            close_fds=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in, self._out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        os.set_blocking(self._in, False)
        os.set_blocking(self._out, False)
        reply = self._recv(load_timeout, "loading the candidate")
        if reply[0] == "ready" and len(reply) == 2 and type(reply[1]) is list:
            self.functions = [n for n in reply[1] if type(n) is str]
        else:
            error = (self._exception(reply, "loading the candidate") if reply[0] == "err"
                     else self._faulted(f"unexpected first reply {reply[0]!r}"[:200]))
            self.kill()
            raise error

    def _faulted(self, why: str) -> CandidateFault:
        self.fault = self.fault or why
        self.kill()
        return CandidateFault(why)

    def _died(self, doing: str) -> CandidateFault:
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        how = f"exited with status {code}" if code is not None and code >= 0 else (
            "was killed: cpu time limit (SIGXCPU)" if code == -24
            else f"was killed by signal {-code}" if code is not None else "stopped answering")
        return self._faulted(f"candidate process {how} while {doing}")

    def _recv(self, timeout: float, doing: str, deadline: float | None = None) -> list[Any]:
        deadline = time.monotonic() + timeout if deadline is None else deadline
        start = 0
        while (end := self._buf.find(b"\n", start)) < 0:
            start = len(self._buf)
            if len(self._buf) > MAX_REPLY:
                raise self._faulted(f"reply over {MAX_REPLY} bytes while {doing}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._faulted(f"timed out after {timeout:g}s while {doing}")
            if not select.select([self._out], [], [], left)[0]:
                continue
            try:
                chunk = os.read(self._out, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                raise self._died(doing)
            self._buf += chunk
        line = bytes(self._buf[:end])
        del self._buf[:end + 1]
        try:
            reply = self.codec.loads(line)
        except Exception as exc:
            raise self._faulted(f"malformed reply while {doing}: {exc}") from None
        if type(reply) is not list or not reply or type(reply[0]) is not str:
            raise self._faulted(f"malformed reply while {doing}")
        return reply

    def _send(self, data: bytes, deadline: float, doing: str) -> None:
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._faulted(f"timed out after {self.call_timeout:g}s while {doing}")
            if not select.select([], [self._in], [], left)[1]:
                continue
            try:
                view = view[os.write(self._in, view):]
            except BlockingIOError:
                continue
            except OSError:
                raise self._died(doing) from None

    def _exception(self, reply: list[Any], doing: str) -> BaseException:
        try:
            _tag, name, args, own, where = reply
            args = self.codec.decode(args)
            cls = getattr(builtins, name, None) if type(name) is str else None
            if not (isinstance(cls, type) and issubclass(cls, Exception)):
                raise ValueError(name)
            if type(args) is not tuple:
                raise ValueError(args)
        except Exception:
            return self._faulted(f"malformed error reply while {doing}")
        try:
            exc = cls(*args)
        except Exception:
            exc = RuntimeError(*args)
        own = own[:200] if type(own) is str and own != name else ""
        where = f" at {where[:400]}" if type(where) is str and where else ""
        note = "raised by the candidate" + (f" ({own})" if own else "")
        exc.add_note(f"{note} while {doing}{where}")
        return exc

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        shown = f"{name}({', '.join([_short(a) for a in args])[:200]})"
        doing = f"calling {shown}"
        if self.fault:
            raise CandidateFault(f"{doing}: the candidate already failed ({self.fault})")
        try:
            request = self.codec.pack(["call", name, self.codec.encode(args),
                                       self.codec.encode(kwargs)])
        except Exception as exc:
            raise self._faulted(f"cannot pass the arguments of {shown}: {exc}") from None
        deadline = time.monotonic() + self.call_timeout
        self._send(request, deadline, doing)
        reply = self._recv(self.call_timeout, doing, deadline)
        if reply[0] == "ok" and len(reply) == 2:
            try:
                return self.codec.decode(reply[1])
            except Exception as exc:
                raise self._faulted(f"bad value returned by {shown}: {exc}") from None
        if reply[0] == "err":
            raise self._exception(reply, doing)
        why = reply[1] if reply[0] == "bad" and len(reply) == 2 and type(reply[1]) is str else ""
        raise self._faulted(f"{shown} returned a value that cannot be passed back: {why[:500]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=2)


def _short(value: Any) -> str:
    try:
        return repr(value)[:60]
    except Exception:  # e.g. an int over 4300 digits
        return f"<{type(value).__name__}>"


def _proxy(child: Child, name: str) -> Any:
    def proxy(*args: Any, **kwargs: Any) -> Any:
        return child.call(name, args, kwargs)

    proxy.__name__ = proxy.__qualname__ = name
    return proxy


def _usable(names: list[str]) -> list[str]:
    """The candidate's function names the tests may see: never a builtin's name (the tests'
    `len` or `sorted` must stay the real one), a dunder, or a keyword."""
    return [n for n in names if n.isidentifier() and not keyword.iskeyword(n)
            and not hasattr(builtins, n) and not (n.startswith("__") and n.endswith("__"))]


def _describe(exc: BaseException) -> str:
    """`<tests> line N: <source>` for the innermost test line, then the exception."""
    frames = traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__),
                                            lookup_lines=False)
    where = ""
    for frame in frames:
        if frame.filename in _SOURCES and frame.lineno:
            lines = _SOURCES[frame.filename].splitlines()
            text = lines[frame.lineno - 1].strip() if frame.lineno <= len(lines) else ""
            where = f"{frame.filename[1:-1]} line {frame.lineno}: {text[:300]}\n"
    try:
        message = str(exc)
    except Exception:
        message = "?"
    notes = "".join(f"\n{n}" for n in getattr(exc, "__notes__", []) if isinstance(n, str))
    message = f": {message[:1500]}" if message else ""
    return f"{where}{type(exc).__name__}{message}{notes[:1000]}"


def main() -> None:
    codec = _harden()
    job = json.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    os.open(os.devnull, os.O_RDONLY)  # takes fd 0 again
    marker = job.pop("marker")
    _SOURCES["<setup>"], _SOURCES["<tests>"] = job["setup"], job["tests"]
    try:
        setup = compile(job["setup"], "<setup>", "exec")
        tests = compile(job["tests"], "<tests>", "exec")
    except SyntaxError as exc:
        _fail(f"checker: the tests do not compile: {exc}", 2)
    try:
        child = Child(codec, float(job["load_timeout_s"]), float(job["call_timeout_s"]))
    except BaseException as exc:
        _fail(f"candidate failed to load: {_describe(exc)}")
    names = job["functions"] if job["functions"] is not None else _usable(child.functions)
    missing = [n for n in names if n not in child.functions]
    if missing:
        child.kill()
        _fail(f"the candidate does not define {', '.join(missing)}")
    namespace: dict[str, Any] = {"__name__": "__tests__", "__builtins__": builtins}
    try:
        exec(setup, namespace)
        namespace.update({name: _proxy(child, name) for name in names})
        exec(tests, namespace)
    except BaseException as exc:
        child.kill()
        _fail(_describe(exc))
    child.kill()
    if child.fault:
        _fail(f"the tests swallowed a failed call: {child.fault}")
    sys.stdout.write(f"\n{marker}\n")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
