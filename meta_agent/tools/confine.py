"""Where the meta-agent's tools may look and write, and how a path gets there safely.

Path convention (every tool): a path is relative, `/`-separated, and may start with a root:
- `view/...`       the read-only workspace view (train traces, every candidate's code, ledger);
- `candidate/...`  the candidate folder being edited (read-write);
- no prefix: reads look in the candidate first, then the view, and say which matched;
  writes go to the candidate. `.` alone (or an empty path) names both roots for listing and
  searching. A candidate folder literally named `view` is reached as `candidate/view/...`.

Rules, each a refusal with `ToolError` (its message is what the model reads):
- absolute paths, `..` components and NUL characters are refused before anything is opened;
- symbolic links are never followed, in the view or the candidate: every component is opened
  relative to its parent's descriptor with O_NOFOLLOW and checked to be what was listed, so a
  link planted in the candidate (to benchmark data, to the workspace, to /etc) is refused
  whatever it points at; files with more than one hard link are refused too (a hard link
  looks like a plain file but may be shared with a file outside);
- whatever was opened is checked once more, by its real path, against
  `benchmarks.registry.protected_paths()` (defence in depth: it should never be inside).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

VIEW = "view"
CANDIDATE = "candidate"
ROOTS = (VIEW, CANDIDATE)
MAX_RESULT_CHARS = 20_000  # what one tool result may hand the model
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


class ToolError(Exception):
    """A refusal or a bad argument: its message goes back to the model as the tool's result."""


class NotFound(ToolError):
    """The path names nothing (a bare read path then tries the other root)."""


@dataclass
class Sandbox:
    """Where the tools may look and write."""

    view: Path  # read-only: the workspace view
    candidate: Path  # read-write: the candidate folder being edited

    def root(self, name: str) -> Path:
        return self.view if name == VIEW else self.candidate


@dataclass(frozen=True)
class Target:
    """A checked path: one of the two roots and the components below it (none: the root)."""

    root_name: str
    root: Path
    parts: tuple[str, ...]

    @property
    def shown(self) -> str:
        """The path as the model reads it; control characters in names escaped, so a file
        name cannot fake a line of a listing."""
        return escaped("/".join((self.root_name, *self.parts)))

    def child(self, name: str) -> Target:
        return Target(self.root_name, self.root, (*self.parts, name))


def split_path(path: str) -> tuple[str | None, tuple[str, ...]]:
    """(root named by the prefix or None, components); refuses what may leave the roots."""
    if not isinstance(path, str):
        raise ToolError(f"a path must be a string, not {type(path).__name__}")
    if "\0" in path:
        raise ToolError("a path cannot contain a NUL character")
    if path.startswith(("/", "\\")) or _DRIVE.match(path):
        raise ToolError(f"absolute paths are refused ({shown(path)}); use a relative path such "
                        "as view/program.md or candidate/agent.py")
    parts = tuple(p for p in path.split("/") if p not in ("", "."))
    if ".." in parts:
        raise ToolError(f"'..' is refused in paths ({shown(path)}); every path is relative to "
                        "view/ or candidate/ and stays inside it")
    if parts and parts[0] in ROOTS:
        return parts[0], parts[1:]
    return None, parts


def shown(text: str, limit: int = 200) -> str:
    """A model- or candidate-chosen string fit for a one-line message."""
    return escaped(text[:limit] + ("…" if len(text) > limit else ""))


def escaped(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def bounded(text: str, limit: int = MAX_RESULT_CHARS, hint: str = "") -> str:
    """`text` cut at `limit` characters with an explicit marker saying how much was left out."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    cut = cut if cut > limit // 2 else limit
    rest = text[cut:]
    lines = rest.count("\n")
    return (text[:cut] + f"\n… output cut here: {len(rest)} more characters ({lines} more "
            f"lines) not shown" + (f" — {hint}" if hint else ""))


class Opener:
    """Opens paths below the roots without following links, and refuses protected material."""

    def __init__(self, protected: list[Path]) -> None:
        self.protected = [p.resolve() for p in protected]

    @contextmanager
    def folder(self, target: Target) -> Iterator[int]:
        """A descriptor of the folder `target` (the root itself when it has no parts)."""
        fd = self._walk(target, target.parts)
        try:
            self.check_protected(fd, target)
            yield fd
        finally:
            os.close(fd)

    @contextmanager
    def parent(self, target: Target) -> Iterator[int]:
        """A descriptor of the folder holding `target`'s last component."""
        fd = self._walk(target, target.parts[:-1])
        try:
            yield fd
        finally:
            os.close(fd)

    def lstat(self, parent_fd: int, target: Target) -> os.stat_result | None:
        try:
            return os.stat(target.parts[-1], dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise ToolError(f"{target.shown}: cannot be read ({error.strerror})") from None

    def read_bytes(self, target: Target, max_bytes: int) -> bytes:
        """A regular file's content, refused above `max_bytes`."""
        if not target.parts:
            raise ToolError(f"{target.shown} is a folder, not a file")
        with self.parent(target) as parent:
            listed = self.lstat(parent, target)
            if listed is None:
                raise NotFound(f"{target.shown}: no such file")
            if stat.S_ISDIR(listed.st_mode):
                raise ToolError(f"{target.shown} is a folder; list it with list_files")
            fd = self.open_file(parent, target, listed)
        try:
            self.check_protected(fd, target)
            if listed.st_size > max_bytes:
                raise ToolError(f"{target.shown} is {listed.st_size:,} bytes, over the "
                                f"{max_bytes:,} bytes a tool reads; search it with grep")
            return _read_all(fd, listed.st_size)
        finally:
            os.close(fd)

    def open_file(self, parent_fd: int, target: Target, listed: os.stat_result) -> int:
        """Open a listed regular file with O_NOFOLLOW; refuse links, specials, hard links."""
        name = target.parts[-1]
        refuse_special(target, listed)
        try:
            fd = os.open(name, FILE_FLAGS, dir_fd=parent_fd)
        except OSError as error:
            raise ToolError(f"{target.shown}: cannot be opened ({error.strerror}); "
                            "symbolic links are never followed") from None
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (listed.st_dev, listed.st_ino) or not \
                stat.S_ISREG(opened.st_mode) or opened.st_nlink != 1:
            os.close(fd)
            raise ToolError(f"{target.shown}: changed while it was being opened; refused")
        return fd

    def _walk(self, target: Target, parts: tuple[str, ...]) -> int:
        fd = open_root(target)
        for depth, name in enumerate(parts):
            here = Target(target.root_name, target.root, parts[: depth + 1])
            try:
                listed = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if not stat.S_ISDIR(listed.st_mode):
                    refuse_special(here, listed)
                    raise ToolError(f"{here.shown} is a file, not a folder")
                child = os.open(name, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                os.close(fd)
                raise NotFound(f"{here.shown}: no such file or folder") from None
            except OSError as error:
                os.close(fd)
                raise ToolError(f"{here.shown}: cannot be opened ({error.strerror})") from None
            except ToolError:
                os.close(fd)
                raise
            os.close(fd)
            fd = child
        return fd

    def check_protected(self, fd: int, target: Target) -> None:
        real = real_path(fd, target)
        if any(real == p or real.is_relative_to(p) for p in self.protected):
            raise ToolError(f"{target.shown}: benchmark data is protected; refused")


def open_root(target: Target) -> int:
    """The root folder itself (set by the harness, so a link to it is trusted)."""
    try:
        return os.open(target.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise ToolError(f"{target.root_name}/ is not available ({error.strerror})") from None


def refuse_special(target: Target, listed: os.stat_result) -> None:
    """Refuse anything but a regular file with one link (folders are checked by callers)."""
    mode = listed.st_mode
    if stat.S_ISLNK(mode):
        raise ToolError(f"{target.shown} is a symbolic link; links are never followed "
                        "(they could point outside the view and the candidate)")
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise ToolError(f"{target.shown} is not a regular file; refused")
    if stat.S_ISREG(mode) and listed.st_nlink > 1:
        raise ToolError(f"{target.shown} has {listed.st_nlink} hard links; a hard link may be "
                        "shared with a file outside, so it is refused")


def real_path(fd: int, target: Target) -> Path:
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:  # no /proc: the components were opened without following links
        return target.root.resolve().joinpath(*target.parts)


def _read_all(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def protected_paths() -> list[Path]:
    from benchmarks.registry import protected_paths as registry_paths

    return registry_paths()
