"""Undoing the simple disguises the anti-gaming scan sees through (see `scan.py`).

- `compact(text)`: the comparison form of material and of scanned text alike: ASCII letters
  lowered, and whitespace, quotes, backquotes, `+` and zero-width characters removed. So case
  changes, inserted or removed whitespace and string literals glued together on a line
  (`"Human" "Eval/6"`, `"Human" + "Eval/6"`) all compact to the same string as the material.
- `Compacted`: a scanned text in compact form that remembers, per compact character, where it
  came from (to name the line) and whether characters were removed just before it (so a task
  id keeps its word boundaries: `HumanEval/6 and` matches, `HumanEval/60` does not).
- `decoded_texts(line)`: what base64 tokens, hex runs and `\\xNN` escapes in a line decode to.
- `binary_lines(file, name)`: a binary file as lines of text, unpacked when compressed.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import io
import lzma
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, NamedTuple

# Characters a disguise may insert or remove without changing the material it hides.
_REMOVED = re.compile("[\\s'\"`+\u200b\u200c\u200d\u2060\ufeff]+")
_KEPT = re.compile("[^\\s'\"`+\u200b\u200c\u200d\u2060\ufeff]+")
# Length-preserving lower-casing (str.lower() can change lengths outside ASCII).
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_WORD = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")

# Encoded tokens: long enough that an ordinary identifier rarely decodes to anything.
_BASE64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX_RUN = re.compile(r"[0-9A-Fa-f]{16,}")
_HEX_ESCAPES = re.compile(r"(?:\\(?:x[0-9A-Fa-f]{2}|u00[0-9A-Fa-f]{2})){4,}")
_ESCAPE = re.compile(r"\\(?:x|u00)([0-9A-Fa-f]{2})")
_OCTAL_ESCAPES = re.compile(r"(?:\\[0-7]{3}){4,}")
# Byte values written out in decimal (`bytes([72, 117, ...])`, `map(chr, [...])`): 8 or more
# printable ones in a row.
_BYTE = r"(?:3[2-9]|[4-9]\d|1[01]\d|12[0-6])"
_DECIMAL_BYTES = re.compile(rf"(?<![\d.]){_BYTE}(?:\s*,\s*{_BYTE}){{7,}}(?![\d.])")
# For tokens split over literals: the line with only quotes and whitespace removed
# (`+` is a base64 character, and case matters to base64, so `compact` will not do).
_QUOTES_SPACE = re.compile("[\\s'\"`\u200b\u200c\u200d\u2060\ufeff]+")

# "hex" stands for any spelled-out bytes (hex, escapes, decimal values); "case" for Unicode
# compatibility forms (fullwidth letters and the like), undone by NFKC.
Encoding = Literal["base64", "hex", "case"]


def compact(text: str) -> str:
    """The comparison form: ASCII-lowered, with whitespace, quotes and `+` removed."""
    return _REMOVED.sub("", text.translate(_ASCII_LOWER))


def is_word_char(char: str) -> bool:
    return char in _WORD


class Compacted:
    """`compact(text)` plus, per compact character, its offset in `text` and whether removed
    characters preceded it (a gap counts as a word boundary for task ids)."""

    __slots__ = ("gap_before", "offsets", "text")

    def __init__(self, text: str) -> None:
        parts: list[str] = []
        self.offsets: list[int] = []
        self.gap_before: set[int] = set()
        lowered = text.translate(_ASCII_LOWER)
        for run in _KEPT.finditer(lowered):
            if run.start() > 0:
                self.gap_before.add(len(self.offsets))
            parts.append(run.group())
            self.offsets.extend(range(run.start(), run.end()))
        self.text = "".join(parts)

    def starts_word(self, i: int) -> bool:
        """A task id may start at compact position `i` (like regex `\\b`)."""
        return i == 0 or i in self.gap_before or not is_word_char(self.text[i - 1])

    def ends_word(self, j: int) -> bool:
        """A task id may end just before compact position `j`."""
        return j >= len(self.text) or j in self.gap_before or not is_word_char(self.text[j])


class Decoded(NamedTuple):
    encoding: Encoding
    text: str


def _base64_decodings(token: str) -> Iterator[str]:
    """The token read as (url-safe or standard) base64 at the 4 alignments: the token may
    start mid-group when it is glued to other characters."""
    body = token.rstrip("=").replace("-", "+").replace("_", "/")
    for skip in range(4):
        part = body[skip:]
        if len(part) % 4 == 1:  # a lone last character holds no whole byte
            part = part[:-1]
        if len(part) < 16:
            continue
        part += "=" * (-len(part) % 4)  # pad, never cut: a cut id reads as a shorter one
        try:
            yield base64.b64decode(part, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue


def _hex_decodings(run: str) -> Iterator[str]:
    for skip in (0, 1):
        part = run[skip:]
        part = part[: len(part) - len(part) % 2]
        if len(part) >= 16:
            yield bytes.fromhex(part).decode("utf-8", "replace")


def decoded_texts(line: str) -> list[Decoded]:
    """Every text that the base64 tokens, hex runs, `\\xNN` / `\\u00NN` / octal escapes and
    decimal byte lists of `line` decode to (also after removing quotes and whitespace, for
    tokens split over adjacent literals), and its NFKC form when that differs. Garbage
    decodings are returned too: they simply match nothing."""
    found: dict[Decoded, None] = {}
    if not line.isascii() and (folded := unicodedata.normalize("NFKC", line)) != line:
        found[Decoded("case", folded)] = None
    joined = _QUOTES_SPACE.sub("", line)
    for source in dict.fromkeys((line, joined)):
        for token in _BASE64_TOKEN.findall(source):
            for text in _base64_decodings(token):
                found[Decoded("base64", text)] = None
        for run in _HEX_RUN.findall(source):
            for text in _hex_decodings(run):
                found[Decoded("hex", text)] = None
        for raw in _spelled_bytes(source):
            found[Decoded("hex", raw.decode("utf-8", "replace"))] = None
    return list(found)


def _spelled_bytes(source: str) -> Iterator[bytes]:
    for escapes in _HEX_ESCAPES.findall(source):
        yield bytes(int(h, 16) for h in _ESCAPE.findall(escapes))
    for escapes in _OCTAL_ESCAPES.findall(source):
        yield bytes(int(o, 8) & 0xFF for o in escapes.split("\\")[1:])
    for values in _DECIMAL_BYTES.findall(source):
        yield bytes(int(v) for v in values.split(","))


MAX_UNPACKED = 64 << 20  # a decompression bomb is read up to here, no further


def binary_lines(file: Path, name: str) -> list[tuple[str, int, str]]:
    """The lines of a file git calls binary, as text: its bytes read as Latin-1 (so every ASCII
    string in it shows, pickles included), as UTF-16 when it looks like it, and the same for
    what it decompresses to (gzip, zlib, bz2, xz, zip members), two levels deep."""
    try:
        data = file.read_bytes()
    except OSError:
        return []
    lines: list[tuple[str, int, str]] = []
    for text in _binary_texts(data, depth=2):
        lines.extend((name, n, t) for n, t in enumerate(text.split("\n"), start=1))
    return lines


def _binary_texts(data: bytes, depth: int) -> list[str]:
    texts = [data.decode("latin-1")]
    if data.count(0) > len(data) // 4:
        texts += [data.decode(codec, "ignore") for codec in ("utf-16-le", "utf-16-be")]
    if depth > 0:
        for unpacked in _unpacked(data):
            texts += _binary_texts(unpacked, depth - 1)
    return texts


def _bounded(decompressor: Callable[[], Any]) -> Callable[[bytes], bytes]:
    def unpack(data: bytes) -> bytes:
        return bytes(decompressor().decompress(data, MAX_UNPACKED))
    return unpack


_UNPACKERS: tuple[Callable[[bytes], bytes], ...] = (
    _bounded(lambda: zlib.decompressobj(47)),  # zlib or gzip, by the header
    _bounded(bz2.BZ2Decompressor),
    _bounded(lzma.LZMADecompressor),
)


def _unpacked(data: bytes) -> list[bytes]:
    found: list[bytes] = []
    for unpack in _UNPACKERS:
        try:
            found.append(unpack(data))
        except (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError):
            continue  # not this format
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    found.append(member.read(MAX_UNPACKED))
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError):
        pass
    return found
