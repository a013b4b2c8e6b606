"""Paging text for the model: explicit markers before and after, never a silent cut.

`offset` is the number of lines skipped (0: from the top); shown line numbers start at 1, so
"… 200 earlier lines" and "ask for offset 200" agree with line 201 being the first shown.
A line longer than `WRAP` characters is wrapped into `↳` continuation rows; a page stops early
when the next line would overflow the character budget (the marker gives the next offset),
and a single line larger than the whole budget is cut with a marker saying so.
"""

from __future__ import annotations

from meta_agent.tools.confine import MAX_RESULT_CHARS

WRAP = 400
MAX_LIMIT = 2_000
CONTINUATION = "↳ "


def page(lines: list[str], offset: int = 0, limit: int = 200, *, numbered: bool = True,
         budget: int = MAX_RESULT_CHARS - 1_000) -> str:
    total = len(lines)
    if total == 0:
        return "(empty: 0 lines)"
    offset, limit = max(int(offset), 0), min(max(int(limit), 1), MAX_LIMIT)
    if offset >= total:
        return f"… offset {offset} is past the end: there are {total} lines (offsets 0–{total - 1})"
    out: list[str] = []
    if offset:
        out.append(f"… {offset} earlier {_lines(offset)} — ask for offset {max(offset - limit, 0)}")
    used, end = 0, offset
    while end < min(offset + limit, total):
        rows = _display(end, lines[end], numbered)
        size = sum(len(row) + 1 for row in rows)
        if used + size > budget:
            if end > offset:
                break
            rows = _cut(end, lines[end], numbered, budget)  # one line over the whole budget
        out.extend(rows)
        used += size
        end += 1
    if end < total:
        out.append(f"… {total - end} more {_lines(total - end)} — ask for offset {end}")
    return "\n".join(out)


def _display(index: int, line: str, numbered: bool) -> list[str]:
    prefix = f"{index + 1:>6}\t" if numbered else ""
    pad = "\t" if numbered else ""
    rows = [prefix + line[:WRAP]]
    rows += [f"{pad}{CONTINUATION}{line[start:start + WRAP]}"
             for start in range(WRAP, len(line), WRAP)]
    return rows


def _cut(index: int, line: str, numbered: bool, budget: int) -> list[str]:
    keep = max(budget - 200, WRAP)
    rows = _display(index, line[:keep], numbered)
    rows.append(f"… line {index + 1} is {len(line):,} characters long: characters "
                f"{keep:,}–{len(line):,} are not shown (too long for one result)")
    return rows


def _lines(n: int) -> str:
    return "line" if n == 1 else "lines"
