"""The GenAI message shapes built from our chat types."""

from __future__ import annotations

from harness.models.types import ChatResult, Message, ReasoningPart, ToolCall, ToolSpec
from traces import conventions as c


def conversation() -> list[Message]:
    return [
        Message(role="system", content="You are terse."),
        Message(role="user", content="Add 2 and 3."),
        Message(
            role="assistant",
            content="Let me add.",
            reasoning=[
                ReasoningPart(text="need the add tool", signature="sig-1"),
                ReasoningPart(redacted_data="opaque=="),
            ],
            tool_calls=[ToolCall(id="c1", name="add", arguments={"a": 2, "b": 3})],
        ),
        Message(role="tool", content="5", tool_call_id="c1", name="add"),
    ]


def test_names_match_the_semconv_strings() -> None:
    assert c.GEN_AI_INPUT_MESSAGES == "gen_ai.input.messages"
    assert c.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS == "gen_ai.usage.reasoning.output_tokens"
    assert c.GEN_AI_TOOL_CALL_ARGUMENTS == "gen_ai.tool.call.arguments"
    assert c.GEN_AI_PROVIDER_NAME == "gen_ai.provider.name"


def test_input_messages_leave_out_system_and_keep_parts() -> None:
    messages = c.input_messages(conversation())
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[0]["parts"] == [{"type": "text", "content": "Add 2 and 3."}]
    assert messages[1]["parts"] == [
        {"type": "reasoning", "content": "need the add tool", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque=="},
        {"type": "text", "content": "Let me add."},
        {"type": "tool_call", "id": "c1", "name": "add", "arguments": {"a": 2, "b": 3}},
    ]
    assert messages[2] == {
        "role": "tool",
        "name": "add",
        "parts": [{"type": "tool_call_response", "id": "c1", "result": "5"}],
    }


def test_system_instructions_are_text_parts() -> None:
    assert c.system_instructions(conversation()) == [{"type": "text", "content": "You are terse."}]
    assert c.system_instructions([Message(role="user", content="hi")]) == []


def test_output_messages_carry_finish_reason_and_raw_bad_arguments() -> None:
    bad = ToolCall(id="c2", name="add", raw_arguments="{a: 2", arguments_error="not JSON")
    result = ChatResult(
        reasoning=[ReasoningPart(text="hmm")], tool_calls=[bad], finish_reason="tool_call"
    )
    assert c.output_messages(result) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "hmm"},
                {"type": "tool_call", "id": "c2", "name": "add", "arguments": "{a: 2"},
            ],
            "finish_reason": "tool_call",
        }
    ]


def test_tool_definitions_and_attribute_values() -> None:
    spec = ToolSpec(name="add", description="Add numbers")
    assert c.tool_definitions([spec]) == [
        {
            "type": "function",
            "name": "add",
            "description": "Add numbers",
            "parameters": {"type": "object", "properties": {}},
        }
    ]
    assert c.attribute_value(3) == 3
    assert c.attribute_value(("a", "b")) == ["a", "b"]
    assert c.attribute_value({"k": [1, 2]}) == '{"k": [1, 2]}'
