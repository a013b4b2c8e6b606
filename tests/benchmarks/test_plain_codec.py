"""The plain-data codec between the code scorer's checker and the candidate's process:
plain values round-trip exactly; anything else, and any forged message, is refused."""

from __future__ import annotations

import json
import math
from collections import Counter, OrderedDict, namedtuple
from enum import IntEnum

import pytest

from benchmarks._plain_codec import PlainDataError, decode, dump_line, encode, loads, pack, unpack


def _through_the_wire(value: object) -> object:
    return decode(loads(dump_line(encode(value))))


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2**62, -(2**62), 10**5000, -(10**5000), 1.5, -0.0, math.inf,
    -math.inf, "", "héllo \\u2603 \ud800", b"\x00\xff", bytearray(b"ab"),
    [1, [2, [3]]], (1, (2,)), (), {"a": 1, (1, 2): [3], 4: None}, {1, "x", (2,)},
    frozenset({1, frozenset({2})}), [{"k": {1.25, float("inf")}}],
], ids=lambda v: type(v).__name__)
def test_plain_values_round_trip_exactly(value: object) -> None:
    got = _through_the_wire(value)
    assert got == value and type(got) is type(value)
    if isinstance(value, float):
        assert math.copysign(1, got) == math.copysign(1, value)  # type: ignore[arg-type]


def test_nan_round_trips() -> None:
    assert math.isnan(_through_the_wire(float("nan")))  # type: ignore[arg-type]


def test_subclasses_cross_as_their_plain_base() -> None:
    class Liar(str):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = str.__hash__

    class Color(IntEnum):
        RED = 3

    point = namedtuple("point", "x y")
    for value, plain in ((Liar("a"), "a"), (Color.RED, 3), (point(1, 2), (1, 2)),
                         (Counter("aab"), {"a": 2, "b": 1}), (OrderedDict(a=1), {"a": 1})):
        got = _through_the_wire(value)
        assert got == plain and type(got) is type(plain)
    assert _through_the_wire(Liar("a")) != "b"


@pytest.mark.parametrize("value", [object(), lambda: 1, iter(()), 1j, [1, object()],
                                   {"k": print}, type("Eq", (), {"__eq__": lambda s, o: True})()],
                         ids=lambda v: type(v).__name__)
def test_anything_else_is_refused(value: object) -> None:
    with pytest.raises(PlainDataError):
        encode(value)


def test_too_deep_is_refused() -> None:
    deep: list[object] = []
    for _ in range(500):
        deep = [deep]
    with pytest.raises(PlainDataError):
        encode(deep)


@pytest.mark.parametrize("line", [
    b"1.5", b"NaN", b'["x", 1]', b'["i", "zz"]', b'["d", [[["l", []], 1]]]', b'["d", [[1]]]',
    b'["l", 5]', b'{"a": 1}', b'["f", 1.5]', b"[" * 5000 + b"]" * 5000, b'["b", "0"]',
], ids=lambda v: v[:20].decode())
def test_forged_messages_are_refused(line: bytes) -> None:
    with pytest.raises(PlainDataError):
        decode(loads(line))


def test_not_json_is_refused() -> None:
    with pytest.raises(PlainDataError):
        loads(b"\xff{")


def test_requests_round_trip() -> None:
    message = ["call", "f", encode((1, [2.5], {"a": b"x"})), encode({"k": None})]
    assert unpack(pack(message)[4:]) == message
    assert json.loads(dump_line(message)) == message
