"""The anti-gaming scan: task ids and held-out/sealed material in the lines a candidate adds.

What is evidence (built once per benchmark by `forbidden_material`):
- every task id of every split (ids only serve lookups), matched with word boundaries, so
  `HumanEval/6` does not match `HumanEval/60`. Ids shorter than 4 characters, all digits, or
  plain words without a digit or separator under 10 characters (`square`) are too generic to
  tell from ordinary code; they are listed in `Material.unscanned_ids` instead.
- held-out and sealed prompt text (the prompt and every turn): each 40-character window of its
  compact form (see `_disguise.compact`: lowered, whitespace, quotes and `+` removed; about
  seven words), unless the window also occurs in any train prompt or answer or in any task's
  answer format (boilerplate), or in more than max(3, 5 %) of the held-out and sealed tasks.
  A prompt shorter than a window counts whole when it has at least 24 compact characters.
- held-out and sealed reference answers, where distinctive enough not to match by chance.
  The texts of an answer are the answer itself when it is a string, else its string leaves
  (BFCL: argument values; a call's function name is an API name the agent is shown, not an
  answer). Numbers, booleans and None are never evidence. A text is distinctive when its
  compact form has at least 12 characters, at least 4 of them letters, not only common words,
  and it is not part of any train prompt, train answer or answer format. Up to 32 compact
  characters the whole text is the key; a longer one (HumanEval's solutions) counts by its
  32-character windows, each filtered like a prompt window.
Train prompts and answers are not evidence: demonstrations drawn from train are legitimate.
Well-known filler ("the quick brown fox...", "lorem ipsum...") is cut out of all of it first.

How it looks (`scan`): consecutive added lines of a file form a block, compared in compact
form (case, whitespace and literals glued on one line or across lines are seen through), and
reversed; each line's base64 tokens, hex runs and `\\xNN` escapes are decoded and scanned.
Lookups are hashed on a 12-character anchor (4 for ids), so a scan costs O(characters).

`Finding.public()` is the only text the proposer may see: it never says which split, task or
answer matched (or the scanner would be an oracle for held-out answers).
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, PrivateAttr

from benchmarks.base import SPLITS, Benchmark, Task
from harness.optimize._disguise import (
    Compacted,
    binary_lines,
    compact,
    decoded_texts,
    is_word_char,
)

__all__ = ["Finding", "Material", "added_lines", "binary_lines", "forbidden_material", "scan"]

Kind = Literal["task_id", "prompt", "answer"]
Disguise = Literal["plain", "case", "whitespace", "base64", "hex", "reversed"]
_DISGUISE_RANK: dict[str, int] = {
    d: i for i, d in enumerate(("plain", "case", "whitespace", "reversed", "base64", "hex"))}

ID_MIN_CHARS = 4
ID_ANCHOR = 4
TEXT_ANCHOR = 12  # also the shortest text key
PROMPT_WINDOW = 40
PROMPT_MIN_CHARS = 24
ANSWER_WINDOW = 32
ANSWER_MIN_CHARS = 12
ANSWER_MIN_LETTERS = 4
EXCERPT_CHARS = 160
_COMMON = """a an and are as at be but by do does false for from has have he her his i if in is
it its no none not null of on or she that the their there they this to true was we were what when
which who will with yes you answer result output input value values number numbers string list
return"""
COMMON_WORDS = frozenset(_COMMON.split())
# Filler text that any code may quote (BFCL's simulated files hold some of it).
_WELL_KNOWN_TEXT = (
    "the quick brown fox jumps over the lazy dog", "lorem ipsum dolor sit amet",
    "consectetur adipiscing elit", "sed do eiusmod tempor incididunt ut labore et dolore magna"
    " aliqua", "hello world", "hello, world")
_WELL_KNOWN = re.compile("|".join(re.escape(compact(t)) for t in _WELL_KNOWN_TEXT))


class Material(BaseModel):
    """What a candidate must not contain, in compact form. Build with `forbidden_material`."""

    model_config = ConfigDict(frozen=True)

    benchmark: str
    ids: dict[str, tuple[str, str]]  # compact id -> (task id, split)
    texts: dict[str, tuple[Kind, str, str]]  # compact key -> (kind, split, task id)
    unscanned_ids: list[str] = []  # too generic to be evidence (see the module docstring)
    _id_lengths: dict[str, tuple[int, ...]] = PrivateAttr(default_factory=dict)
    _text_lengths: dict[str, tuple[int, ...]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._id_lengths = _lengths_by_anchor(self.ids, ID_ANCHOR)
        self._text_lengths = _lengths_by_anchor(self.texts, TEXT_ANCHOR)


class Finding(BaseModel):
    """One piece of evidence: private (the ledger); show the proposer only `public()`."""

    model_config = ConfigDict(frozen=True)

    path: str
    line: int  # 1-based; 0 for a file's path itself
    kind: Kind
    split: str
    disguise: Disguise
    task_id: str
    excerpt: str

    def public(self) -> str:
        """Safe for the proposer: names the place, not the split, task, kind or answer."""
        return (f"{self.path}:{self.line}: contains benchmark task material (a task id or "
                "held-out text, possibly disguised); hard-coding it is rejected")


def _lengths_by_anchor(keys: Iterable[str], anchor: int) -> dict[str, tuple[int, ...]]:
    """Key lengths per anchor (a key's first characters): a scan slices only those."""
    lengths: dict[str, tuple[int, ...]] = {}
    singles: dict[int, tuple[int, ...]] = {}  # shared: most anchors have one length
    for key in keys:
        head, size = key[:anchor], len(key)
        known = lengths.get(head)
        if known is None:
            lengths[head] = singles.setdefault(size, (size,))
        elif size not in known:
            lengths[head] = (*known, size)
    return lengths


# ---------------------------------------------------------------- building the material


def forbidden_material(bench: Benchmark) -> Material:
    """Every task id, plus the distinctive held-out and sealed prompt and answer text."""
    tasks = {split: bench.tasks(split) for split in SPLITS}
    ids, unscanned = _task_ids(bench)
    train = [compact(t) for task in tasks["train"] for t in _prompt_texts(task)]
    train += [compact(t) for task in tasks["train"]
              for t in _answer_texts(bench.reference_answer(task.task_id))]
    train += sorted({compact(task.answer_format) for ts in tasks.values() for task in ts})
    common = _Common(train)
    hidden = [(split, task) for split in ("held_out", "sealed") for task in tasks[split]]
    owners: dict[str, tuple[Kind, str, str]] = {}
    counts: dict[str, int] = defaultdict(int)
    for split, task in hidden:
        keys = _prompt_keys(task, common) | _answer_keys(
            bench.reference_answer(task.task_id), common)
        for key, kind in keys:
            owners.setdefault(key, (kind, split, task.task_id))
            counts[key] += 1
    most = max(3, len(hidden) // 20)
    texts = {key: owner for key, owner in owners.items() if counts[key] <= most}
    return Material(benchmark=bench.id, ids=ids, texts=texts, unscanned_ids=unscanned)


def _task_ids(bench: Benchmark) -> tuple[dict[str, tuple[str, str]], list[str]]:
    ids: dict[str, tuple[str, str]] = {}
    unscanned: list[str] = []
    for ref in bench.index():
        key = compact(ref.task_id)
        if _generic_id(key):
            unscanned.append(ref.task_id)
        else:
            ids.setdefault(key, (ref.task_id, bench.split_of(ref.task_id)))
    return ids, unscanned


def _generic_id(key: str) -> bool:
    """An id ordinary code could contain by chance: short, all digits, or one plain word."""
    if len(key) < ID_MIN_CHARS or key.isdigit():
        return True
    return key.isalpha() and len(key) < 10


class _Common:
    """Train and boilerplate text: windows of both sizes, and all of it for substrings."""

    def __init__(self, texts: list[str]) -> None:
        self.blob = "\x00".join(texts)
        self.windows = {size: {t[i:i + size] for t in texts for i in range(len(t) - size + 1)}
                        for size in (PROMPT_WINDOW, ANSWER_WINDOW)}

    def has(self, key: str) -> bool:
        windows = self.windows.get(len(key))
        return key in windows if windows is not None else key in self.blob


def _prompt_texts(task: Task) -> list[str]:
    turns = [m.get("content", "") for turn in task.turns for m in turn if m.get("role") == "user"]
    return list(dict.fromkeys([task.prompt, *turns]))


def _prompt_keys(task: Task, common: _Common) -> set[tuple[str, Kind]]:
    keys: set[tuple[str, Kind]] = set()
    for text in _prompt_texts(task):
        for piece in _pieces(compact(text)):
            if len(piece) < PROMPT_WINDOW:
                if len(piece) >= PROMPT_MIN_CHARS and not common.has(piece):
                    keys.add((piece, "prompt"))
                continue
            keys.update((w, "prompt") for w in _windows(piece, PROMPT_WINDOW)
                        if not common.has(w))
    return keys


def _answer_keys(answer: Any, common: _Common) -> set[tuple[str, Kind]]:
    keys: set[tuple[str, Kind]] = set()
    for text in _answer_texts(answer):
        if not _distinctive(text):
            continue
        for piece in _pieces(compact(text)):
            if len(piece) < ANSWER_MIN_CHARS:
                continue
            size = min(len(piece), ANSWER_WINDOW)
            keys.update((k, "answer") for k in _windows(piece, size)
                        if _enough_letters(k) and not common.has(k))
    return keys


def _pieces(c: str) -> list[str]:
    """Compact text with well-known filler cut out: it matches by chance, never as evidence."""
    return [piece for piece in _WELL_KNOWN.split(c) if piece]


def _windows(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(len(text) - size + 1)]


def _answer_texts(answer: Any) -> list[str]:
    """The strings in an answer; numbers, booleans and None never count."""
    if isinstance(answer, str):
        return [answer]
    if isinstance(answer, dict):
        is_call = "arguments" in answer
        return [t for k, v in answer.items() if not (is_call and k == "name")
                for t in _answer_texts(v)]
    if isinstance(answer, list | tuple):
        return [t for item in answer for t in _answer_texts(item)]
    return []


def _enough_letters(key: str) -> bool:
    return sum(ch.isalpha() for ch in key) >= ANSWER_MIN_LETTERS


def _distinctive(text: str) -> bool:
    """Not a number, and not only common words (`True`, `the answer is yes`)."""
    words = "".join(ch if ch.isalnum() else " " for ch in text.lower()).split()
    return any(w not in COMMON_WORDS and not w.isdigit() for w in words)


# ---------------------------------------------------------------- scanning


class _Hit(NamedTuple):
    kind: Kind
    split: str
    task_id: str
    start: int  # compact positions
    end: int


def scan(lines: Iterable[tuple[str, int, str]], material: Material) -> list[Finding]:
    """Findings in `lines` (path, line number, text), one per line, kind and task."""
    found: dict[tuple[str, int, str, str], Finding] = {}
    for path, block in _blocks(lines):
        for finding in _scan_block(path, block, material):
            key = (finding.path, finding.line, finding.kind, finding.task_id)
            old = found.get(key)
            if old is None or _DISGUISE_RANK[finding.disguise] < _DISGUISE_RANK[old.disguise]:
                found[key] = finding
    return sorted(found.values(), key=lambda f: (f.path, f.line, f.kind, f.task_id))


def _blocks(lines: Iterable[tuple[str, int, str]]) -> Iterator[tuple[str, list[tuple[int, str]]]]:
    """Runs of consecutive lines of one file (material may span lines)."""
    path: str | None = None
    block: list[tuple[int, str]] = []
    for p, number, text in lines:
        if block and (p != path or number != block[-1][0] + 1):
            yield path or "", block
            block = []
        path = p
        block.append((number, text))
    if block:
        yield path or "", block


def _scan_block(path: str, block: list[tuple[int, str]], m: Material) -> Iterator[Finding]:
    text = "\n".join(t for _, t in block)
    starts = [0]
    for _, t in block[:-1]:
        starts.append(starts[-1] + len(t) + 1)

    def line_at(offset: int) -> tuple[int, str]:
        return block[bisect.bisect_right(starts, offset) - 1]

    forward = Compacted(text)
    for hit in _hits(forward, m):
        number, line = line_at(forward.offsets[hit.start])
        yield _finding(path, number, line, hit, _plain_label(hit, line, forward, m))
    backward = Compacted(text[::-1])
    for hit in _hits(backward, m):
        number, line = line_at(len(text) - 1 - backward.offsets[hit.start])
        yield _finding(path, number, line, hit, "reversed")
    for number, line in block:
        for decoded in decoded_texts(line):
            for hit in _hits(Compacted(decoded.text), m):
                yield _finding(path, number, line, hit, decoded.encoding)


def _hits(c: Compacted, m: Material) -> Iterator[_Hit]:
    s, texts, ids = c.text, m.texts, m.ids
    text_lengths, id_lengths = m._text_lengths, m._id_lengths  # locals: pydantic's are slow
    for i in range(len(s)):
        for size in text_lengths.get(s[i:i + TEXT_ANCHOR], ()):
            owner = texts.get(s[i:i + size])
            if owner is not None:
                yield _Hit(owner[0], owner[1], owner[2], i, i + size)
        sizes = id_lengths.get(s[i:i + ID_ANCHOR])
        if sizes and c.starts_word(i):
            for size in sizes:
                owner_id = ids.get(s[i:i + size])
                if owner_id is not None and c.ends_word(i + size):
                    yield _Hit("task_id", owner_id[1], owner_id[0], i, i + size)


def _plain_label(hit: _Hit, line: str, c: Compacted, m: Material) -> Disguise:
    """plain / case / whitespace for a forward hit. Prompt and answer text is always compared
    in compact form, so only a task id can be told apart precisely; text hits are `plain`."""
    if hit.kind != "task_id":
        return "plain"
    if _bounded(line, hit.task_id):
        return "plain"
    if _bounded(line.lower(), hit.task_id.lower()):
        return "case"
    return "whitespace"


def _bounded(text: str, needle: str) -> bool:
    start = text.find(needle)
    while start >= 0:
        end = start + len(needle)
        before = start == 0 or not is_word_char(text[start - 1].lower())
        after = end >= len(text) or not is_word_char(text[end].lower())
        if before and after:
            return True
        start = text.find(needle, start + 1)
    return False


def _finding(path: str, number: int, line: str, hit: _Hit, disguise: Disguise) -> Finding:
    return Finding(path=path, line=number, kind=hit.kind, split=hit.split, disguise=disguise,
                   task_id=hit.task_id, excerpt=line.strip()[:EXCERPT_CHARS])


# ---------------------------------------------------------------- what to scan

_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_BINARY = re.compile(r"^Binary files (.+) and (.+) differ$")


def added_lines(diff: str, root: Path | None = None) -> list[tuple[str, int, str]]:
    """(path, new line number, text) of every '+' line of a unified `git diff`, plus each file's
    new path itself as line 0 (a file name can hold an id too). Hunk lengths decide where a hunk
    ends, so an added line that starts with `++` is not taken for a header. Files git calls
    binary are read from `root` (the candidate folder) when given, else left to the caller."""
    out: list[tuple[str, int, str]] = []
    path: str | None = None
    old_left = new_left = number = 0
    for raw in diff.split("\n"):
        if old_left > 0 or new_left > 0:
            tag, text = raw[:1], raw[1:]
            if tag == "+" and path is not None:
                out.append((path, number, text))
            if tag in ("+", " ", ""):
                number, new_left = number + 1, new_left - 1
            if tag in ("-", " ", ""):
                old_left -= 1
            if tag in ("+", "-", " ", "", "\\"):
                continue
            old_left = new_left = 0  # a malformed hunk: read the line as a header
        path = _header(raw, path, out, root)
        hunk = _HUNK.match(raw)
        if hunk:
            old_left = int(hunk.group(1) or 1)
            number, new_left = int(hunk.group(2)), int(hunk.group(3) or 1)
    return out


def _header(raw: str, path: str | None, out: list[tuple[str, int, str]],
            root: Path | None) -> str | None:
    """Follow the file a diff section is about; note its path, and read binary files."""
    new_path: str | None = None
    if raw.startswith("diff --git "):
        return None
    if raw.startswith("+++ "):
        new_path = _git_path(raw[4:], "b/")
    elif raw.startswith("rename to ") or raw.startswith("copy to "):
        new_path = _git_path(raw.split(" to ", 1)[1], "")
    elif binary := _BINARY.match(raw):
        new_path = _git_path(binary.group(2), "b/")
        if new_path is not None and root is not None:
            out.extend(binary_lines(root / new_path, new_path))
    if new_path is None:
        return path
    if not out or out[-1][:2] != (new_path, 0):
        out.append((new_path, 0, new_path))
    return new_path


def _git_path(text: str, prefix: str) -> str | None:
    text = text.rstrip("\t\r")
    if text == "/dev/null":
        return None
    if text.startswith('"') and text.endswith('"'):  # git's C-style quoting, octal UTF-8
        text = (text[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
                .encode("latin-1").decode("utf-8", "replace"))
    return text[len(prefix):] if prefix and text.startswith(prefix) else text
