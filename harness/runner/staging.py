"""The rules for a candidate folder, and the private copy the workers run.

A candidate is written by an optimiser that may be gamed, so its folder is untrusted input:
- It may hold only regular files and folders. Symbolic links (to data, to /proc, to /dev/zero,
  to another run's output), hard-linked files (a link to a file outside the folder looks the
  same as one inside, so every regular file with more than one link is refused), devices,
  FIFOs and sockets are refused with a one-line error naming the path.
- Its total size and entry count are capped (`CandidateLimits`), checked from metadata before
  anything is read, so a 2 GB sparse file costs neither memory nor disk.
- The walk never follows a link: every folder and file is opened relative to its parent's
  descriptor with O_NOFOLLOW, and what was opened is checked again (`fstat`) against what was
  listed, so a file swapped for a FIFO or a link while we copy is refused, never followed or
  waited on (O_NONBLOCK). Reads are bounded by the size that was checked.
- `__pycache__` and `.git` are skipped.

`check_candidate_tree` applies the rules without copying (the optimisation loop runs it on
every folder a proposer writes); `stage_candidate` applies them again while it copies, and
removes its copy if anything fails; `candidate_digest` hashes a tree as it streams.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ConfigError

SKIPPED = frozenset({"__pycache__", ".git"})
CHUNK = 1024 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_UNSAFE_CHARACTERS = {i: f"\\x{i:02x}" for i in (*range(0x20), 0x7F)}


@dataclass(frozen=True)
class CandidateLimits:
    """How big a candidate may be. Defaults are generous for code."""

    max_bytes: int = 50 * 1024 * 1024
    max_entries: int = 5_000  # files and folders together (an empty-folder bomb counts too)
    max_depth: int = 32  # each open folder holds a descriptor while its children are walked

    @classmethod
    def of(cls, max_mb: float, max_files: int) -> CandidateLimits:
        return cls(max_bytes=int(max_mb * 1024 * 1024), max_entries=max_files)


@dataclass
class TreeStats:
    files: int = 0
    folders: int = 0
    bytes: int = 0


class CandidateError(ConfigError):
    """A candidate folder breaks a rule; the message names the path and the rule."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__("agent", f"{shown(path)}: {problem}")


def shown(path: str) -> str:
    """A path fit for a one-line message: control characters escaped."""
    return path.translate(_UNSAFE_CHARACTERS)


# A file's visitor reads from an fd opened and checked by the walk: (relative path, fd, size).
FileVisitor = Callable[[str, int, int], None]
FolderVisitor = Callable[[str], None]


@dataclass
class _Walk:
    root: str
    limits: CandidateLimits
    on_file: FileVisitor | None = None
    on_folder: FolderVisitor | None = None
    stats: TreeStats = field(default_factory=TreeStats)

    def run(self) -> TreeStats:
        try:
            fd = os.open(self.root, _DIR_FLAGS)
        except OSError as error:
            raise CandidateError(self.root, f"not a readable folder ({error.strerror})") from None
        self._folder(fd, "", 0)
        return self.stats

    def _folder(self, fd: int, rel: str, depth: int) -> None:
        try:
            with os.scandir(fd) as entries:
                names = sorted(entry.name for entry in entries)
            for name in names:
                if name not in SKIPPED:
                    self._entry(fd, name, f"{rel}/{name}" if rel else name, depth)
        except OSError as error:
            raise CandidateError(self._full(rel), f"cannot be read ({error.strerror})") from None
        finally:
            os.close(fd)

    def _entry(self, parent: int, name: str, rel: str, depth: int) -> None:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        self._count(rel)
        if stat.S_ISDIR(info.st_mode):
            if depth + 1 > self.limits.max_depth:
                raise CandidateError(self._full(rel), f"nested deeper than "
                                     f"{self.limits.max_depth} folders")
            self.stats.folders += 1
            child = self._open(parent, name, rel, _DIR_FLAGS, info)
            if self.on_folder is not None:
                self.on_folder(rel)
            self._folder(child, rel, depth + 1)
        elif stat.S_ISREG(info.st_mode):
            self._check_file(rel, info)
            self.stats.files += 1
            self.stats.bytes += info.st_size
            if self.stats.bytes > self.limits.max_bytes:
                raise CandidateError(self._full(rel), "the candidate is larger than "
                                     f"{self.limits.max_bytes / 2**20:g} MB")
            if self.on_file is not None:
                self._visit_file(parent, name, rel, info)
        else:
            raise CandidateError(self._full(rel), f"is a {_kind(info.st_mode)}; a candidate "
                                 "may hold only regular files and folders")

    def _count(self, rel: str) -> None:
        if self.stats.files + self.stats.folders >= self.limits.max_entries:
            raise CandidateError(self._full(rel), "the candidate has more than "
                                 f"{self.limits.max_entries} files and folders")

    def _check_file(self, rel: str, info: os.stat_result) -> None:
        if info.st_nlink > 1:
            raise CandidateError(self._full(rel), f"has {info.st_nlink} hard links; a "
                                 "candidate's files must have one (copy it instead)")

    def _open(self, parent: int, name: str, rel: str, flags: int,
              listed: os.stat_result) -> int:
        """Open without following links, and make sure it is what was listed."""
        try:
            fd = os.open(name, flags, dir_fd=parent)
        except OSError as error:
            raise CandidateError(self._full(rel), f"cannot be opened ({error.strerror}); it "
                                 "may have been replaced by a link") from None
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino, stat.S_IFMT(opened.st_mode)) != (
                listed.st_dev, listed.st_ino, stat.S_IFMT(listed.st_mode)):
            os.close(fd)
            raise CandidateError(self._full(rel), "changed while it was being read")
        return fd

    def _visit_file(self, parent: int, name: str, rel: str, listed: os.stat_result) -> None:
        assert self.on_file is not None
        fd = self._open(parent, name, rel, _FILE_FLAGS, listed)
        try:
            opened = os.fstat(fd)
            if opened.st_nlink != 1 or opened.st_size != listed.st_size:
                raise CandidateError(self._full(rel), "changed while it was being read")
            self.on_file(rel, fd, listed.st_size)
        finally:
            os.close(fd)

    def _full(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISLNK, "symbolic link"), (stat.S_ISFIFO, "FIFO"),
             (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
             (stat.S_ISBLK, "block device"))
    return next((name for test, name in kinds if test(mode)), "special file")


def read_exactly(fd: int, size: int, path: str, sink: Callable[[bytes], None]) -> None:
    """Stream `size` bytes of `fd` to `sink`; a file that grew or shrank is refused."""
    left = size
    while left > 0:
        chunk = os.read(fd, min(CHUNK, left))
        if not chunk:
            raise CandidateError(path, "changed while it was being read (it shrank)")
        sink(chunk)
        left -= len(chunk)
    if os.read(fd, 1):
        raise CandidateError(path, "changed while it was being read (it grew)")


def check_candidate_tree(path: Path, limits: CandidateLimits | None = None) -> TreeStats:
    """Apply the candidate rules to the folder at `path` without reading any file."""
    return _Walk(str(path), limits or CandidateLimits()).run()


def candidate_digest(path: Path, limits: CandidateLimits | None = None) -> str:
    """SHA-256 over the tree's file names and contents, streamed, under the same rules."""
    digest = hashlib.sha256()

    def add(rel: str, fd: int, size: int) -> None:
        digest.update(os.fsencode(rel) + b"\0" + str(size).encode() + b"\0")
        read_exactly(fd, size, os.path.join(path, rel), digest.update)

    _Walk(str(path), limits or CandidateLimits(), on_file=add).run()
    return digest.hexdigest()


def stage_candidate(path: Path, limits: CandidateLimits | None = None) -> Path:
    """A private copy of the candidate for the workers; on any failure nothing is left.

    Workers run as an unprivileged uid, which must be able to read the code; copying means
    the user's own folder is never re-permissioned, and the run is immune to edits made
    during it. Only the owner's execute bit is kept from the original modes.
    """
    temp = Path(tempfile.mkdtemp(prefix="harness-candidate-"))
    staged = temp / path.name
    try:
        staged.mkdir()
        _Walk(str(path), limits or CandidateLimits(),
              on_file=lambda rel, fd, size: _copy_file(path, staged, rel, fd, size),
              on_folder=lambda rel: (staged / rel).mkdir()).run()
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return staged


def _copy_file(source: Path, staged: Path, rel: str, fd: int, size: int) -> None:
    executable = os.fstat(fd).st_mode & stat.S_IXUSR
    target = os.open(staged / rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o755 if executable else 0o644)
    try:
        read_exactly(fd, size, os.path.join(source, rel), lambda chunk: _write_all(target, chunk))
    finally:
        os.close(target)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
