"""Exact arithmetic on untrusted expression text: integers, + - * /, unary minus, parentheses.

Nothing is evaluated by Python: the text is checked character by character against a small
alphabet, its length and nesting are bounded, and only then is it parsed (`ast.parse`, which
builds a tree and runs nothing) and the tree walked, accepting only the node types above.
Values are `Fraction`s (exact; no float rounding), and there is no power operator, so the
numbers stay as small as the text is short. Used to judge countdown answers in place of
reasoning-gym's scorer, whose `sympy.parse_expr` runs the answer as Python.
"""

from __future__ import annotations

import ast
from fractions import Fraction

MAX_LENGTH = 1_000
MAX_DEPTH = 50
_ALLOWED = frozenset("0123456789+-*/() \t")
# Typographic operators models like to use, read as the plain ones.
_SPELLINGS = str.maketrans({"×": "*", "÷": "/", "−": "-", "–": "-"})
_BINARY = {ast.Add: Fraction.__add__, ast.Sub: Fraction.__sub__, ast.Mult: Fraction.__mul__}


class ExpressionError(ValueError):
    """Not an arithmetic expression of the accepted form; the message says why."""


def _check_text(text: str) -> str:
    text = text.translate(_SPELLINGS).strip()
    if not text:
        raise ExpressionError("empty expression")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    bad = sorted({c for c in text if c not in _ALLOWED})
    if bad:
        raise ExpressionError(f"characters not allowed in an expression: {''.join(bad)[:20]!r}")
    depth = 0
    for char in text:
        depth += (char == "(") - (char == ")")
        if depth > MAX_DEPTH:
            raise ExpressionError(f"parentheses nested deeper than {MAX_DEPTH}")
        if depth < 0:
            raise ExpressionError("unbalanced parentheses")
    if depth:
        raise ExpressionError("unbalanced parentheses")
    if "**" in text or "//" in text:
        raise ExpressionError("only + - * / are allowed")
    return text


def _value(node: ast.expr, literals: list[int]) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        literals.append(node.value)
        return Fraction(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _value(node.operand, literals)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        left, right = _value(node.left, literals), _value(node.right, literals)
        if isinstance(node.op, ast.Div):
            if right == 0:
                raise ExpressionError("division by zero")
            return left / right
        operation = _BINARY.get(type(node.op))
        if operation is not None:
            return operation(left, right)
    raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")


def evaluate(text: str) -> tuple[Fraction, list[int]]:
    """The exact value of `text` and the integer literals it uses, in order."""
    checked = _check_text(text)
    try:
        tree = ast.parse(checked, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as error:
        raise ExpressionError(f"not an expression: {type(error).__name__}") from None
    literals: list[int] = []
    try:
        return _value(tree.body, literals), literals
    except RecursionError:  # a long chain of unary minus signs
        raise ExpressionError("expression nested too deeply") from None


def judge_countdown(answer: str, numbers: list[int], target: int) -> tuple[bool, str]:
    """reasoning-gym's countdown rule, without running the answer: the expression uses exactly
    the given numbers (each as often as given) and its value is the target."""
    try:  # a closing full stop is punctuation (the library's parser reads "14." as 14)
        value, used = evaluate(answer.strip().removesuffix("."))
    except ExpressionError as error:
        return False, str(error)
    if sorted(used) != sorted(numbers):
        return False, f"uses {sorted(used)[:20]}, not the numbers {sorted(numbers)}"
    if value != target:
        return False, f"equals {float(value):g}, not {target}"
    return True, f"equals {target} using each number once"
