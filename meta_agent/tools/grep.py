"""Regular-expression search with a time and size guard.

The model's pattern may backtrack catastrophically (`(a+)+$` on a line of a's takes longer
than the universe), and Python's `re` cannot be interrupted from another thread. So the
matching runs in a child interpreter (`python -I -S`, standard library only) over text the
parent has already read through the confined opener, and is killed after `TIMEOUT_S`.
Each line is searched in its first `LINE_SCAN` characters (the result says when a line was
longer); files over `MAX_FILE_BYTES` or binary are skipped and counted; reading stops at
`MAX_TOTAL_BYTES` with a note.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field

from meta_agent.tools.confine import ToolError, shown

TIMEOUT_S = 5.0
LINE_SCAN = 2_000
SHOWN_LINE = 300
MAX_PATTERN = 1_000
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_TOTAL_BYTES = 32 * 1024 * 1024

_MATCHER = r"""
import json, re, sys
job = json.load(sys.stdin)
pattern = re.compile(job["pattern"])
scan, keep, width = job["scan"], job["max_hits"], job["width"]
total = 0
for name, text in job["files"]:
    for number, line in enumerate(text.split("\n"), 1):
        if pattern.search(line[:scan]):
            total += 1
            if total <= keep:
                cut = line[:width] + (f"…[+{len(line) - width} chars]" if len(line) > width else "")
                sys.stdout.write(json.dumps([name, number, cut]) + "\n")
sys.stdout.write(json.dumps({"total": total}) + "\n")
"""


@dataclass
class Corpus:
    """The text to search, as read by the caller, and what was left out."""

    files: list[tuple[str, str]] = field(default_factory=list)
    size: int = 0
    skipped_binary: int = 0
    skipped_large: int = 0
    refused: int = 0  # links, protected or unreadable files
    stopped_at_cap: bool = False
    long_lines: int = 0

    def add(self, name: str, data: bytes) -> bool:
        """Add one file; False once the total cap is reached (stop reading)."""
        if b"\0" in data[:8192]:
            self.skipped_binary += 1
            return True
        if self.size + len(data) > MAX_TOTAL_BYTES:
            self.stopped_at_cap = True
            return False
        text = data.decode("utf-8", errors="replace")
        self.long_lines += sum(len(line) > LINE_SCAN for line in text.split("\n"))
        self.files.append((name, text))
        self.size += len(data)
        return True


def compile_pattern(pattern: str) -> None:
    if not isinstance(pattern, str) or not pattern:
        raise ToolError("grep needs a non-empty regular expression")
    if len(pattern) > MAX_PATTERN:
        raise ToolError(f"the pattern is {len(pattern)} characters; at most {MAX_PATTERN}")
    try:
        re.compile(pattern)
    except re.error as error:
        raise ToolError(f"invalid regular expression {shown(pattern)}: {error}") from None


Hit = tuple[str, int, str]  # path, line number, the line (cut for display)


def search(pattern: str, corpus: Corpus, max_hits: int,
           timeout_s: float = TIMEOUT_S) -> tuple[list[Hit], int]:
    """(the hits shown, the total number of hits)."""
    job = {"pattern": pattern, "scan": LINE_SCAN, "max_hits": max_hits, "width": SHOWN_LINE,
           "files": corpus.files}
    try:
        done = subprocess.run([sys.executable, "-I", "-S", "-c", _MATCHER],
                              input=json.dumps(job), capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:  # subprocess.run kills the child before raising
        raise ToolError(
            f"the search was stopped after {timeout_s:g} s: the pattern {shown(pattern)} is "
            "too slow on this text (nested repetition such as (a+)+ backtracks "
            "catastrophically); simplify it or narrow the path") from None
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ToolError(f"the search failed: {shown(tail)}")
    rows = [json.loads(line) for line in done.stdout.splitlines() if line]
    total = int(rows.pop()["total"])
    return [(str(name), int(number), str(text)) for name, number, text in rows], total


def report(hits: list[Hit], total: int, corpus: Corpus) -> str:
    files = len({name for name, _, _ in hits})
    head = (f"{total} {'hit' if total == 1 else 'hits'}" + (f" (showing {len(hits)} in {files} "
            f"files)" if hits else "") + f" in {len(corpus.files)} files searched")
    lines = [head, *(f"{name}:{number}: {text}" for name, number, text in hits)]
    if total > len(hits):
        lines.append(f"… {total - len(hits)} more hits not shown — narrow the pattern or the "
                     "path, or raise max_hits")
    notes = [
        (corpus.skipped_binary, "binary files skipped"),
        (corpus.skipped_large, f"files over {MAX_FILE_BYTES // 2**20} MB skipped (read them "
                               "with read_file, paged)"),
        (corpus.refused, "entries refused (links, hard links, protected or unreadable)"),
        (corpus.long_lines, f"lines longer than {LINE_SCAN} characters were searched in their "
                            f"first {LINE_SCAN} characters only"),
    ]
    lines += [f"note: {count} {what}" for count, what in notes if count]
    if corpus.stopped_at_cap:
        lines.append(f"note: reading stopped after {MAX_TOTAL_BYTES // 2**20} MB of text; "
                     "files after that were not searched — narrow the path")
    return "\n".join(lines)
