"""The meta-agent's file tools: list, read and search the view and the candidate; write, edit
and delete in the candidate only.

See `meta_agent.tools.confine` for the path convention (`view/...`, `candidate/...`, or no
prefix) and the confinement rules. Every method returns the text the model reads, bounded to
`MAX_RESULT_CHARS` with an explicit marker, and refuses with `ToolError`.
Writes: regular files only, at most `MAX_WRITE_BYTES` each, never into `.git`, never through
or as a link; the candidate's total size and entry count stay within `CandidateLimits`
(checked before the write, so a refused write changes nothing). A write replaces the file
atomically (temporary file + rename in the same folder): a link or hard link at the target
is never written through.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from harness.runner.staging import CandidateError, CandidateLimits, check_candidate_tree
from meta_agent.tools import grep as grepping
from meta_agent.tools.confine import (
    CANDIDATE,
    DIR_FLAGS,
    VIEW,
    NotFound,
    Opener,
    Sandbox,
    Target,
    ToolError,
    bounded,
    open_root,
    protected_paths,
    refuse_special,
    shown,
    split_path,
)
from meta_agent.tools.paging import page
from meta_agent.tools.tree import SKIPPED, Entry, WalkStats, walk

MAX_READ_BYTES = 16 * 1024 * 1024
MAX_WRITE_BYTES = 1024 * 1024
MAX_LISTED = 400


class FileTools:
    """File tools over a `Sandbox`; `protected` defaults to the registry's protected paths."""

    def __init__(self, where: Sandbox, *, limits: CandidateLimits | None = None,
                 protected: list[Path] | None = None,
                 grep_timeout_s: float = grepping.TIMEOUT_S) -> None:
        self.where = where
        self.grep_timeout_s = grep_timeout_s
        self.limits = limits or CandidateLimits()
        self.opener = Opener(protected_paths() if protected is None else protected)

    # -- reading ---------------------------------------------------------------------------

    def list_files(self, path: str = ".", pattern: str = "*") -> str:
        """Entries below `path` (breadth-first, links shown but not followed)."""
        shown_rows: list[str] = []
        more = 0
        stats = WalkStats()
        for target in self._read_targets(path):
            for entry in self._entries(target, stats):
                if not _matches(entry, target, pattern):
                    continue
                if len(shown_rows) < MAX_LISTED:
                    shown_rows.append(_row(entry))
                else:
                    more += 1
        if not shown_rows:
            shown_rows.append(f"(nothing below {shown(path)} matches {shown(pattern)})")
        if more:
            shown_rows.append(f"… {more} more entries not shown — narrow the path or pattern")
        if stats.skipped:
            shown_rows.append(f"note: {stats.skipped} .git/__pycache__ folders not listed")
        if stats.unreadable:
            shown_rows.append(f"note: {stats.unreadable} folders refused (protected or "
                              "unreadable)")
        return bounded("\n".join(shown_rows), hint="narrow the path or pattern")

    def read_file(self, path: str, offset: int = 0, limit: int = 200) -> str:
        """Lines `offset+1 .. offset+limit` of a text file, with markers around the page."""
        target = self._locate(path)
        data = self.opener.read_bytes(target, MAX_READ_BYTES)
        if b"\0" in data[:8192]:
            raise ToolError(f"{target.shown} is a binary file ({len(data):,} bytes); not shown")
        lines = data.decode("utf-8", errors="replace").split("\n")
        if lines[-1] == "":
            lines.pop()
        head = f"{target.shown} ({len(lines)} {'line' if len(lines) == 1 else 'lines'})"
        return bounded(f"{head}\n{page(lines, offset, limit)}")

    def grep(self, pattern: str, path: str = ".", max_hits: int = 100) -> str:
        """Lines matching a regular expression, as `path:line: text`."""
        grepping.compile_pattern(pattern)
        max_hits = min(max(int(max_hits), 1), 1_000)
        corpus = grepping.Corpus()
        for target in self._read_targets(path):
            if not self._collect(target, corpus):
                break
        hits, total = grepping.search(pattern, corpus, max_hits, self.grep_timeout_s)
        return bounded(grepping.report(hits, total, corpus),
                       hint="narrow the pattern or path, or lower max_hits")

    # -- writing ---------------------------------------------------------------------------

    def write_file(self, path: str, text: str) -> str:
        """Create or replace a file of the candidate with `text`."""
        target = self._write_target(path)
        data = _encode(text)
        existed = self._store(target, data)
        lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        return (f"{'replaced' if existed else 'created'} {target.shown} ({lines} "
                f"{'line' if lines == 1 else 'lines'}, {len(data):,} bytes)")

    def edit_file(self, path: str, old: str, new: str) -> str:
        """Replace the one occurrence of `old` in a candidate file by `new`."""
        target = self._write_target(path)
        if not isinstance(old, str) or not old:
            raise ToolError("old must be a non-empty string: the exact text to replace")
        if not isinstance(new, str):
            raise ToolError("new must be a string")
        text = self._candidate_text(target)
        count = text.count(old)
        if count != 1:
            raise ToolError(_not_once(target, text, old, count))
        changed = text.replace(old, new, 1)
        self._store(target, _encode(changed))
        at = text[: text.index(old)].count("\n") + 1
        diff = difflib.unified_diff(text.splitlines(), changed.splitlines(), target.shown,
                                    target.shown, n=1, lineterm="")
        return bounded(f"edited {target.shown} at line {at}\n" + "\n".join(diff))

    def delete_file(self, path: str) -> str:
        """Delete a candidate file (a link is removed itself, never followed), or an empty
        folder."""
        target = self._write_target(path)
        with self.opener.parent(target) as parent:
            listed = self.opener.lstat(parent, target)
            if listed is None:
                raise ToolError(f"{target.shown}: no such file")
            name = target.parts[-1]
            if stat.S_ISDIR(listed.st_mode):
                try:
                    os.rmdir(name, dir_fd=parent)
                except OSError as error:
                    raise ToolError(f"{target.shown} is a folder that cannot be removed "
                                    f"({error.strerror}); delete its files first") from None
                return f"deleted the empty folder {target.shown}"
            os.unlink(name, dir_fd=parent)
        kind = "symbolic link" if stat.S_ISLNK(listed.st_mode) else "file"
        return f"deleted the {kind} {target.shown}"

    # -- paths -----------------------------------------------------------------------------

    def _root(self, name: str, parts: tuple[str, ...] = ()) -> Target:
        return Target(name, self.where.root(name), parts)

    def _read_targets(self, path: str) -> list[Target]:
        """Where to list or search: `.` alone is both roots, candidate first."""
        root, parts = split_path(path)
        if root is None and not parts:
            return [self._root(CANDIDATE), self._root(VIEW)]
        return [self._locate(path)]

    def _locate(self, path: str) -> Target:
        """The target a read path names; without a prefix, the candidate's if it has it."""
        root, parts = split_path(path)
        if root is not None:
            return self._root(root, parts)
        for name in (CANDIDATE, VIEW):
            target = self._root(name, parts)
            try:
                with self.opener.parent(target) as parent:
                    if not parts or self.opener.lstat(parent, target) is not None:
                        return target
            except NotFound:
                continue
        raise ToolError(f"{shown(path)}: no such file or folder in the candidate or the view "
                        "(list_files shows what is there)")

    def _write_target(self, path: str) -> Target:
        root, parts = split_path(path)
        if root == VIEW:
            raise ToolError(f"the view is read-only ({shown(path)}); write in the candidate, "
                            "e.g. candidate/agent.py")
        if not parts:
            raise ToolError("name a file inside the candidate, e.g. candidate/agent.py")
        if any(part in SKIPPED for part in parts):
            raise ToolError(f"{shown(path)}: .git and __pycache__ are not writable")
        return self._root(CANDIDATE, parts)

    def _entries(self, target: Target, stats: WalkStats) -> Iterator[Entry]:
        """The target itself when it is a file, else everything below it."""
        if target.parts:
            with self.opener.parent(target) as parent:
                listed = self.opener.lstat(parent, target)
            if listed is None:
                raise ToolError(f"{target.shown}: no such file or folder")
            if not stat.S_ISDIR(listed.st_mode):
                yield Entry(target, listed)
                return
        with self.opener.folder(target):  # refuses a protected folder by name
            pass
        yield from walk(self.opener, target, stats)

    def _collect(self, target: Target, corpus: grepping.Corpus) -> bool:
        for entry in self._entries(target, WalkStats()):
            if entry.is_dir:
                continue
            if not entry.is_file:
                corpus.refused += 1
                continue
            if entry.info.st_size > grepping.MAX_FILE_BYTES:
                corpus.skipped_large += 1
                continue
            try:
                data = self.opener.read_bytes(entry.target, grepping.MAX_FILE_BYTES)
            except ToolError:
                corpus.refused += 1
                continue
            if not corpus.add(entry.target.shown, data):
                return False
        return True

    # -- candidate writes ------------------------------------------------------------------

    def _candidate_text(self, target: Target) -> str:
        data = self.opener.read_bytes(target, MAX_WRITE_BYTES)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError(f"{target.shown} is not UTF-8 text; edit_file cannot change it "
                            "(write_file replaces it whole)") from None

    def _store(self, target: Target, data: bytes) -> bool:
        """Replace or create the file atomically; True when it existed."""
        missing = self._check_budget(target, len(data))
        with self._parents(target, create=missing > 0) as parent:
            listed = self.opener.lstat(parent, target)
            if listed is not None:
                if stat.S_ISDIR(listed.st_mode):
                    raise ToolError(f"{target.shown} is a folder; name a file inside it")
                refuse_special(target, listed)
            executable = listed is not None and bool(listed.st_mode & stat.S_IXUSR)
            _replace(parent, target.parts[-1], data, 0o755 if executable else 0o644)
        return listed is not None

    def _check_budget(self, target: Target, size: int) -> int:
        """Refuse a write that would break the candidate limits; the missing folders' count."""
        if size > MAX_WRITE_BYTES:
            raise ToolError(f"{size:,} bytes is over the {MAX_WRITE_BYTES:,} bytes one write may "
                            "hold")
        if len(target.parts) > self.limits.max_depth:
            raise ToolError(f"{target.shown} is nested deeper than {self.limits.max_depth} "
                            "folders")
        try:
            tree = check_candidate_tree(self.where.candidate, self.limits)
        except CandidateError as error:
            problem = error.problem.replace(str(self.where.candidate), CANDIDATE)
            raise ToolError(f"the candidate breaks a rule, so nothing is written until it is "
                            f"fixed: {problem}") from None
        old_size, missing = self._probe(target)
        if tree.bytes - old_size + size > self.limits.max_bytes:
            raise ToolError(f"the candidate would exceed {self.limits.max_bytes / 2**20:g} MB")
        new_entries = missing + (1 if old_size < 0 else 0)
        if tree.files + tree.folders + new_entries > self.limits.max_entries:
            raise ToolError(f"the candidate would exceed {self.limits.max_entries} files and "
                            "folders")
        return missing

    def _probe(self, target: Target) -> tuple[int, int]:
        """(size of the existing file or -1, number of folders to create on the way)."""
        try:
            with self.opener.parent(target) as parent:
                listed = self.opener.lstat(parent, target)
            return (-1 if listed is None else listed.st_size), 0
        except NotFound:
            pass
        for depth in range(len(target.parts) - 2, 0, -1):  # the deepest folder that exists
            try:
                with self.opener.folder(Target(CANDIDATE, target.root, target.parts[:depth])):
                    return -1, len(target.parts) - 1 - depth
            except NotFound:
                continue
        return -1, len(target.parts) - 1

    @contextmanager
    def _parents(self, target: Target, create: bool) -> Iterator[int]:
        """The folder holding the target, creating missing folders (never following links)."""
        if not create:
            with self.opener.parent(target) as fd:
                yield fd
            return
        fd = open_root(target)
        try:
            for depth, name in enumerate(target.parts[:-1]):
                here = Target(CANDIDATE, target.root, target.parts[: depth + 1])
                fd = _enter(fd, name, here)
            yield fd
        finally:
            os.close(fd)


def _enter(fd: int, name: str, here: Target) -> int:
    """Open (creating if missing) the folder `name` below `fd`; closes `fd` on success."""
    try:
        os.mkdir(name, 0o755, dir_fd=fd)
    except FileExistsError:
        listed = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if not stat.S_ISDIR(listed.st_mode):
            refuse_special(here, listed)
            raise ToolError(f"{here.shown} is a file, not a folder") from None
    try:
        child = os.open(name, DIR_FLAGS, dir_fd=fd)
    except OSError as error:
        raise ToolError(f"{here.shown}: cannot be opened ({error.strerror}); links are "
                        "never followed") from None
    os.close(fd)
    return child


def _replace(parent: int, name: str, data: bytes, mode: int) -> None:
    temp = f".{name[:100]}.{secrets.token_hex(6)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 mode, dir_fd=parent)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(temp, name, src_dir_fd=parent, dst_dir_fd=parent)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp, dir_fd=parent)
        raise


def _encode(text: str) -> bytes:
    if not isinstance(text, str):
        raise ToolError("text must be a string")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ToolError("text holds characters that are not valid UTF-8 (lone surrogates)") \
            from None


def _not_once(target: Target, text: str, old: str, count: int) -> str:
    if count == 0:
        hint = ""
        if old.strip() and old.strip() in text:
            hint = " (it occurs with different leading or trailing whitespace)"
        return (f"old text not found in {target.shown}{hint}; read_file it and copy the text "
                "exactly, indentation included")
    lines: list[str] = []
    start = 0
    while (at := text.find(old, start)) >= 0 and len(lines) < 10:
        lines.append(str(text[:at].count("\n") + 1))
        start = at + 1
    return (f"old text occurs {count} times in {target.shown} (at lines {', '.join(lines)}); "
            "include more surrounding text so that it occurs exactly once")


def _matches(entry: Entry, top: Target, pattern: str) -> bool:
    if pattern in ("", "*"):
        return True
    if entry.is_dir:
        return False
    relative = "/".join(entry.target.parts[len(top.parts):])
    return fnmatch.fnmatch(relative if "/" in pattern else entry.target.parts[-1], pattern)


def _row(entry: Entry) -> str:
    if entry.is_dir:
        return entry.target.shown + "/"
    if entry.is_link:
        return f"{entry.target.shown} -> symbolic link (never followed)"
    if not entry.is_file:
        return f"{entry.target.shown} (not a regular file)"
    return f"{entry.target.shown}  {_size(entry.info.st_size)}"


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB" if n < 2**20 else f"{n / 2**20:.1f} MB"
