"""Plain data as JSON, for the code scorer's calls between the trusted checker and the child
that runs the candidate (see `code_scorer`). Self-contained (standard library only): its source
is written into the sandbox folder as `plain_codec.py` and imported there by both programs.

Only None, bool, int, float (inf, nan and -0.0 included), str, bytes, bytearray, list, tuple,
dict, set and frozenset, nested, can be encoded; anything else raises `PlainDataError`. A
subclass of one of these (a Counter, an IntEnum, a namedtuple) crosses as its plain base value,
read through the base type's own methods, so none of its overrides (`__eq__` included) crosses;
a numpy scalar crosses as its `.item()`.
`decode` trusts nothing: whatever the JSON holds, it returns plain builtin values or raises.

Wire: replies (child -> checker, untrusted) are one line of ASCII JSON, written by `dump_line`
and parsed by the checker with the json module; requests (checker -> child, trusted) are
length-prefixed `marshal` frames. The child never imports json (with `re`, `enum`, ...: ~10 ms
of start-up) nor typing; the checker never unmarshals what the child sends.
"""

from __future__ import annotations

import marshal

try:
    from _json import encode_basestring_ascii
except ImportError:  # an interpreter built without the accelerator
    from json.encoder import encode_basestring_ascii

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_DEPTH = 200
_SMALL_INT = 2**62


class PlainDataError(ValueError):
    """A value that is not plain data, or a message that is not a valid encoding."""


def _items(tag: str, values: Any, depth: int) -> list[Any]:
    return [tag, [encode(v, depth + 1) for v in values]]


def encode(value: Any, depth: int = 0) -> Any:
    """`value` as a JSON-ready structure; raises PlainDataError for anything not plain."""
    if depth > MAX_DEPTH:
        raise PlainDataError(f"data nested more than {MAX_DEPTH} levels deep")
    if value is None or value is True or value is False:
        return value
    if isinstance(value, int):
        number = int.__int__(value)
        return number if -_SMALL_INT < number < _SMALL_INT else ["i", hex(number)]
    if isinstance(value, float):
        return ["f", float.__repr__(value)]
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes):
        return ["b", bytes.hex(value)]
    if isinstance(value, bytearray):
        return ["ba", bytearray.hex(value)]
    if isinstance(value, list):
        return _items("l", list.__iter__(value), depth)
    if isinstance(value, tuple):
        return _items("t", tuple.__iter__(value), depth)
    if isinstance(value, dict):
        return ["d", [[encode(k, depth + 1), encode(v, depth + 1)]
                      for k, v in dict.items(value)]]
    if isinstance(value, set):
        return _items("s", set.__iter__(value), depth)
    if isinstance(value, frozenset):
        return _items("S", frozenset.__iter__(value), depth)
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return encode(value.item(), depth + 1)  # a numpy scalar: its Python value
    raise PlainDataError(f"{type(value).__name__} is not plain data (only None, bool, int, "
                         "float, str, bytes, list, tuple, dict, set, frozenset can be passed)")


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True or value is False:
        out.append("true" if value else "false")
    elif type(value) is int:
        out.append(int.__repr__(value))
    elif type(value) is str:
        out.append(encode_basestring_ascii(value))
    elif type(value) is list:
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise PlainDataError(f"cannot write a {type(value).__name__} as a message")


def dump_line(message: Any) -> bytes:
    """A message (None, bool, small int, str, lists of them) as one ASCII JSON line."""
    out: list[str] = []
    _write(message, out)
    out.append("\n")
    return "".join(out).encode("ascii")


def pack(message: Any) -> bytes:
    """A request frame: 4-byte big-endian length, then `marshal` data. Trusted data only."""
    data = marshal.dumps(message)
    return len(data).to_bytes(4, "big") + data


def unpack(data: bytes) -> Any:
    """The message of a frame body written by `pack` (never used on untrusted data)."""
    return marshal.loads(data)


def _seq(payload: Any, depth: int) -> list[Any]:
    if type(payload) is not list:
        raise PlainDataError("malformed sequence")
    return [decode(v, depth + 1) for v in payload]


_SCALARS: dict[str, Any] = {"i": lambda p: int(p, 16), "f": float, "b": bytes.fromhex,
                             "ba": bytearray.fromhex}
_SEQS: dict[str, Any] = {"l": list, "t": tuple, "s": set, "S": frozenset}


def decode(data: Any, depth: int = 0) -> Any:
    """The plain value that `data` (as parsed from JSON) encodes; PlainDataError otherwise."""
    if depth > MAX_DEPTH:
        raise PlainDataError(f"data nested more than {MAX_DEPTH} levels deep")
    if data is None or data is True or data is False or type(data) in (int, str):
        return data
    if type(data) is not list or len(data) != 2 or type(data[0]) is not str:
        raise PlainDataError(f"malformed value of JSON type {type(data).__name__}")
    tag, payload = data
    try:
        if tag in _SCALARS and type(payload) is str:
            return _SCALARS[tag](payload)
        if tag in _SEQS:
            return _SEQS[tag](_seq(payload, depth))
        if tag == "d" and type(payload) is list:
            pairs = [_seq(pair, depth) for pair in payload]
            if any(len(pair) != 2 for pair in pairs):
                raise PlainDataError("malformed dict")
            return dict(pairs)
    except PlainDataError:
        raise
    except (ValueError, TypeError, RecursionError) as exc:  # bad hex, unhashable key, ...
        raise PlainDataError(f"malformed {tag!r} value: {exc}") from None
    raise PlainDataError(f"unknown or malformed tag {tag!r}")


def loads(line: bytes) -> Any:
    """Parse one reply line's JSON (not yet decoded); PlainDataError if it is not JSON."""
    import json  # the checker's side only

    try:
        return json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise PlainDataError(f"not a JSON message: {exc}") from None
