"""Turning an episode's spans into a readable transcript, and paging it.

Rules:
- Nothing is cut. A long line is wrapped at `width` into continuation lines that start with
  `↳ `; a multi-line value becomes several lines; `render_page` pages with explicit markers
  (`… 120 more lines — use --offset 200`), so every line is reachable.
- Per agent, each `chat` call shows only the messages that are new since the previous call
  of that agent (the history is not repeated), then the model's output: reasoning, text,
  tool calls. The system prompt is shown when it first appears or changes.
- Tool executions show arguments and results; errors show their type, message and traceback.
  Agent log messages appear where they were logged, among the agent's calls.
- Candidate-chosen text cannot draw on the terminal or fake a line of the transcript: labels
  (names, ids, kinds) are one line with every non-printable character escaped (`\x1b`,
  `\n`, `\u202e`); values keep their newlines, but each line after the first is its own body
  line, starting with `│ `, which no line of the renderer's own starts with, and every other
  control or bidi character is escaped there too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from traces import conventions as c
from traces.limits import escape_char, one_line
from traces.records import SpanNode, SpanRecord, build_tree
from traces.store import TraceStore

DEFAULT_WIDTH = 160
DEFAULT_LIMIT = 200
CONTINUATION = "↳ "
BODY = "│ "  # starts each further line of a multi-line value
LOG_EVENTS = frozenset({"agent.log", "agent.log.dropped"})


@dataclass
class _Conversation:
    seen: int = 0
    system: Any = None


@dataclass
class _Writer:
    width: int
    lines: list[str] = field(default_factory=list)

    def emit(self, depth: int, label: str, text: Any = "") -> None:
        indent = "  " * depth
        value = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)
        first, *rest = body_lines(value)
        self._wrap(f"{indent}{one_line(label)}{first}", indent)
        for line in rest:
            self._wrap(f"{indent}  {BODY}{line}", indent)

    def _wrap(self, line: str, indent: str) -> None:
        room = max(self.width, len(indent) + 20)
        self.lines.append(line[:room])
        cont = f"{indent}    {CONTINUATION}"
        step = max(room - len(cont), 10)
        for start in range(room, len(line), step):
            self.lines.append(cont + line[start : start + step])


def body_lines(value: str) -> list[str]:
    """A value's lines, each with its control, bidi and other non-printable characters
    (tabs apart) escaped, so none can move the cursor, erase, or reorder what is shown."""
    lines = value.replace("\r\n", "\n").split("\n")
    return [line if line.isprintable() else "".join(
        ch if ch.isprintable() or ch == "\t" else escape_char(ch) for ch in line)
        for line in lines]


def _json_attr(span: SpanRecord, key: str) -> Any:
    raw = span.attributes.get(key)
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _part(w: _Writer, depth: int, role: str, part: dict[str, Any]) -> None:
    kind = part.get("type")
    if kind == "text":
        w.emit(depth, f"{role}: ", part.get("content", ""))
    elif kind == "reasoning":
        signed = " (signed)" if part.get("signature") else ""
        w.emit(depth, f"{role} reasoning{signed}: ", part.get("content", ""))
    elif kind == "redacted_thinking":
        w.emit(depth, f"{role} redacted thinking: ", f"<{len(str(part.get('data', '')))} chars>")
    elif kind == "tool_call":
        args = part.get("arguments")
        args_text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        w.emit(depth, f"{role} tool call {part.get('name')} [{part.get('id')}]: ", args_text)
    elif kind == "tool_call_response":
        w.emit(depth, f"tool result [{part.get('id')}]: ", _text(part.get("result")))
    else:
        w.emit(depth, f"{role} {kind}: ", json.dumps(part, ensure_ascii=False))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _messages(w: _Writer, depth: int, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        for part in message.get("parts", []):
            _part(w, depth, str(message.get("role", "?")), part)


def _errors(w: _Writer, depth: int, span: SpanRecord) -> None:
    if span.status_code != "ERROR":
        return
    kind = span.attributes.get(c.ERROR_TYPE, "error")
    w.emit(depth, f"!! ERROR {kind}: ", span.status_description or "")
    for event in span.events:
        trace_text = event.get("attributes", {}).get("exception.stacktrace")
        if event.get("name") == "exception" and trace_text:
            w.emit(depth, "!! traceback: ", str(trace_text).rstrip("\n"))


def _usage(span: SpanRecord) -> str:
    a = span.attributes
    tokens = (
        f"in={a.get(c.GEN_AI_USAGE_INPUT_TOKENS, '?')} "
        f"out={a.get(c.GEN_AI_USAGE_OUTPUT_TOKENS, '?')} "
        f"reasoning={a.get(c.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, 0)}"
    )
    latency = a.get(c.HARNESS_LATENCY_S)
    seconds = f"{latency:.2f}s" if isinstance(latency, int | float) else f"{span.duration_s:.2f}s"
    finish = ",".join(a.get(c.GEN_AI_RESPONSE_FINISH_REASONS, []) or ["?"])
    return f"tokens {tokens}  finish={finish}  latency={seconds}"


def _chat(w: _Writer, depth: int, span: SpanRecord, convo: _Conversation) -> None:
    a = span.attributes
    model = a.get(c.GEN_AI_RESPONSE_MODEL) or a.get(c.GEN_AI_REQUEST_MODEL, "?")
    w.emit(depth, f"-- chat {model} [{a.get(c.GEN_AI_PROVIDER_NAME, '?')}]  ", _usage(span))
    system = _json_attr(span, c.GEN_AI_SYSTEM_INSTRUCTIONS)
    if system and system != convo.system:
        for part in system if isinstance(system, list) else [system]:
            content = part.get("content", "") if isinstance(part, dict) else part
            w.emit(depth + 1, "system: ", content)
        convo.system = system
    inputs = _json_attr(span, c.GEN_AI_INPUT_MESSAGES)
    if isinstance(inputs, list):
        if len(inputs) < convo.seen:
            w.emit(depth + 1, f"(history changed: showing all {len(inputs)} input messages)")
            convo.seen = 0
        _messages(w, depth + 1, inputs[convo.seen :])
        convo.seen = len(inputs) + 1  # the output below is the next call's history
    outputs = _json_attr(span, c.GEN_AI_OUTPUT_MESSAGES)
    if isinstance(outputs, list):
        _messages(w, depth + 1, outputs)
    _errors(w, depth + 1, span)


def _tool(w: _Writer, depth: int, span: SpanRecord) -> None:
    a = span.attributes
    call_id = a.get(c.GEN_AI_TOOL_CALL_ID)
    where = f" [{call_id}]" if call_id else ""
    w.emit(depth, f"-> tool {a.get(c.GEN_AI_TOOL_NAME, '?')}{where}  ", f"{span.duration_s:.2f}s")
    if c.GEN_AI_TOOL_CALL_ARGUMENTS in a:
        w.emit(depth + 1, "arguments: ", str(a[c.GEN_AI_TOOL_CALL_ARGUMENTS]))
    if c.GEN_AI_TOOL_CALL_RESULT in a:
        w.emit(depth + 1, "result: ", str(a[c.GEN_AI_TOOL_CALL_RESULT]))
    _errors(w, depth + 1, span)


def _agent(w: _Writer, depth: int, node: SpanNode) -> None:
    span = node.span
    a = span.attributes
    ids = [
        f"{k}={a[key]}"
        for k, key in (("episode", c.HARNESS_EPISODE_ID), ("task", c.HARNESS_TASK_ID))
        if key in a
    ]
    name = a.get(c.GEN_AI_AGENT_NAME, span.name)
    w.emit(depth, f"== agent {name}  ", f"{' '.join(ids)}  {span.duration_s:.2f}s".strip())
    convo = _Conversation()
    logs = [e for e in span.events if e.get("name") in LOG_EVENTS]
    items: list[tuple[int, SpanNode | dict[str, Any]]] = [
        *((child.span.start_ns, child) for child in node.children),
        *((int(e.get("timestamp_ns") or 0), e) for e in logs)]
    for _, item in sorted(items, key=lambda pair: pair[0]):
        if isinstance(item, SpanNode):
            _node(w, depth + 1, item, convo)
        else:
            message = str(item.get("attributes", {}).get("message", ""))
            label = "log: " if item.get("name") == "agent.log" else "log dropped: "
            w.emit(depth + 1, label, message)
    _errors(w, depth + 1, span)


def _node(w: _Writer, depth: int, node: SpanNode, convo: _Conversation) -> None:
    operation = node.span.operation
    if operation == c.OP_INVOKE_AGENT:
        _agent(w, depth, node)
        return
    if operation == c.OP_CHAT:
        _chat(w, depth, node.span, convo)
    elif operation == c.OP_EXECUTE_TOOL:
        _tool(w, depth, node.span)
    else:
        w.emit(depth, f"-- {node.span.name}  ", f"{node.span.duration_s:.2f}s")
        _errors(w, depth + 1, node.span)
    for child in node.children:
        _node(w, depth + 1, child, convo)


def render_spans(spans: list[SpanRecord], *, width: int = DEFAULT_WIDTH) -> list[str]:
    """The transcript of these spans (any order) as plain text lines."""
    writer = _Writer(width=width)
    ordered = sorted(spans, key=lambda s: s.start_ns)
    for root in build_tree(ordered):
        _node(writer, 0, root, _Conversation())
    return writer.lines


def render_episode(store: TraceStore, episode_id: str, *, width: int = DEFAULT_WIDTH) -> list[str]:
    return render_spans(store.spans(episode_id), width=width)


def render_page(lines: list[str], offset: int = 0, limit: int = DEFAULT_LIMIT) -> str:
    """Lines `offset .. offset+limit` with markers for whatever lies before and after."""
    total = len(lines)
    offset = max(offset, 0)
    limit = max(limit, 1)
    if offset >= total and total:
        return f"… offset {offset} is past the end: the transcript has {total} lines"
    out: list[str] = []
    if offset > 0:
        back = max(offset - limit, 0)
        out.append(f"… {offset} earlier {_plural(offset)} — use --offset {back}")
    end = min(offset + limit, total)
    out.extend(lines[offset:end])
    if end < total:
        rest = total - end
        out.append(f"… {rest} more {_plural(rest)} — use --offset {end}")
    return "\n".join(out)


def _plural(n: int) -> str:
    return "line" if n == 1 else "lines"
