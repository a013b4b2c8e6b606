"""Walking a folder below a root breadth-first, without following links, with a cap.

Shallow entries come first, so when the cap cuts a listing it cuts the deepest entries. Links
are reported (never followed); `.git` and `__pycache__` are skipped and counted.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from meta_agent.tools.confine import Opener, Target, ToolError

SKIPPED = frozenset({".git", "__pycache__"})


@dataclass(frozen=True)
class Entry:
    target: Target
    info: os.stat_result

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.info.st_mode)

    @property
    def is_link(self) -> bool:
        return stat.S_ISLNK(self.info.st_mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.info.st_mode)


@dataclass
class WalkStats:
    skipped: int = 0  # .git / __pycache__ folders
    unreadable: int = 0  # folders that could not be opened (protected, vanished)


def walk(opener: Opener, top: Target, stats: WalkStats) -> Iterator[Entry]:
    """Every entry below the folder `top`, breadth-first, names sorted within a folder."""
    queue: deque[Target] = deque([top])
    while queue:
        folder = queue.popleft()
        try:
            entries = _list(opener, folder)
        except (ToolError, OSError):
            stats.unreadable += 1
            continue
        for entry in entries:
            if entry.target.parts[-1] in SKIPPED:
                stats.skipped += 1
                continue
            yield entry
            if entry.is_dir:
                queue.append(entry.target)


def _list(opener: Opener, folder: Target) -> list[Entry]:
    with opener.folder(folder) as fd:
        with os.scandir(fd) as found:
            names = sorted(item.name for item in found)
        return [Entry(folder.child(name), os.stat(name, dir_fd=fd, follow_symlinks=False))
                for name in names]
