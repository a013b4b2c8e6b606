"""Final-answer and code extraction from free text."""

from __future__ import annotations

import pytest

from task_agents.lib.answers import extract_code, final_answer, labelled_answer, last_number
from task_agents.lib.prompts import fill


@pytest.mark.parametrize(("text", "numeric", "expected"), [
    ("So 3 + 4 = 7.\nAnswer: 7", True, "7"),
    ("The total is 1,250 dollars.", True, "1250"),
    ("<think>maybe 5</think>It is <answer>12</answer>.", True, "12"),
    ("we get \\boxed{-3.5}", True, "-3.5"),
    ("#### 42", True, "42"),
    ("**Answer:** Zoey is a knight, and Oliver is a knave", False,
     "Zoey is a knight, and Oliver is a knave"),
    ("Work...\nAnswer: 25 * 4 - 3", False, "25 * 4 - 3"),
    ("Answer the question first.\n(3 + 5) * 2", False, "(3 + 5) * 2"),
    ("no digits here", True, "no digits here"),
    ("", True, ""),
    ("   \n  ", False, ""),
])
def test_final_answer(text: str, numeric: bool, expected: str) -> None:
    assert final_answer(text, numeric=numeric) == expected


def test_labelled_answer_and_last_number() -> None:
    assert labelled_answer("Answer: 1\nAnswer: 2") == "2"
    assert labelled_answer("nothing marked") is None
    assert last_number("from 3 to -4.5 then") == "-4.5"
    assert last_number("none") is None


def test_extract_code_prefers_the_block_defining_the_entry_point() -> None:
    reply = ("Helper:\n```python\ndef helper():\n    return 1\n\n\nx = 1\n```\n"
             "Solution:\n```python\ndef add(a, b):\n    return a + b\n```\n")
    assert extract_code(reply, "add") == "def add(a, b):\n    return a + b\n"
    assert extract_code(reply).startswith("def helper")  # the longest block


def test_extract_code_without_fences_and_unclosed_fence() -> None:
    unfenced = "Sure! Here it is:\ndef f(x):\n    return x\n"
    assert extract_code(unfenced) == "def f(x):\n    return x\n"
    assert extract_code("```python\ndef f():\n    return 2") == "def f():\n    return 2\n"
    assert extract_code("<think>def no(): pass</think>") == ""


def test_fill_replaces_only_named_placeholders() -> None:
    template = "Q: {prompt}\nKeep {this} and {\"json\": 1}"
    assert fill(template, prompt="a {prompt} b") == 'Q: a {prompt} b\nKeep {this} and {"json": 1}'


@pytest.mark.parametrize(("text", "number"), [
    ("Answer: 42 (6 * 7)", "42"), ("Answer: 42 apples, from 6 boxes of 7", "42"),
    ("Final answer: 1.5e3", "1.5e3"), ("**Answer:** 17", "17"), ("Answer: 3 + 4 = 7", "7"),
    ("Answering this needs care.\nWe get 12 total", "12"), ("#### 1,234", "1234"),
])
def test_the_number_a_marked_answer_gives(text: str, number: str) -> None:
    assert final_answer(text, numeric=True) == number


@pytest.mark.parametrize("text", ["\n" * 40_000 + "x", "Answer: 4" + " " * 40_000 + "2"])
def test_extraction_is_linear_on_degenerate_output(text: str) -> None:
    import time

    started = time.monotonic()
    final_answer(text, numeric=True)
    assert time.monotonic() - started < 0.5
