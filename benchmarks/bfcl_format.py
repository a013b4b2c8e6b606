"""BFCL answer form and its conversions to and from what BFCL's checkers take.

Answer form (JSON text, or the same structure already parsed):
- single-turn: a list of calls, each `{"name": "<function>", "arguments": {...}}`;
  `[]` means "no call" (the right answer for irrelevance tasks).
- multi-turn: a list with one entry per user turn, each a list of calls in the order made.
A function name may also be given with "." replaced by "_" (as OpenAI-style APIs require);
it is mapped back to the task's own name.
"""

from __future__ import annotations

import ast
import inspect
import json
import keyword
from typing import Any

Call = dict[str, Any]
_JSON_SCALARS = (str, int, float, bool, type(None))

_TYPE_MAP = {
    "dict": "object", "float": "number", "tuple": "array", "any": "string", "list": "array",
    "bool": "boolean", "byte": "integer", "short": "integer", "long": "integer",
    "double": "number", "char": "string", "ArrayList": "array", "Array": "array",
    "HashMap": "object", "String": "string", "Boolean": "boolean", "int": "integer",
}


class AnswerFormatError(ValueError):
    """The answer is not in the documented form; the message says where."""


def to_json_schema(schema: Any) -> Any:
    """BFCL's parameter schema ("dict", "float", "tuple", ...) -> JSON Schema types."""
    if isinstance(schema, dict):
        out = {k: to_json_schema(v) for k, v in schema.items()}
        if isinstance(schema.get("type"), str):
            out["type"] = _TYPE_MAP.get(schema["type"], schema["type"])
        return out
    if isinstance(schema, list):
        return [to_json_schema(v) for v in schema]
    return schema


def tool_spec(function: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": function["name"],
        "description": function.get("description", ""),
        "parameters": to_json_schema(function.get("parameters", {"type": "dict"})),
    }


def _check_json_value(value: Any, where: str) -> None:
    if isinstance(value, _JSON_SCALARS):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_value(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise AnswerFormatError(f"{where}: object keys must be strings")
            _check_json_value(item, f"{where}.{k}")
        return
    raise AnswerFormatError(f"{where}: {type(value).__name__} is not a JSON value")


def parse_answer(answer: Any) -> Any:
    """JSON text -> structure; a structure is returned as is (after a JSON-type check)."""
    try:
        if isinstance(answer, str):
            answer = json.loads(answer)
        _check_json_value(answer, "answer")
    except json.JSONDecodeError as exc:
        raise AnswerFormatError(f"not JSON: {exc}") from None
    except RecursionError:  # absurd nesting: a malformed answer, not a crash of the scorer
        raise AnswerFormatError("answer is nested too deeply") from None
    return answer


def parse_calls(value: Any, names: set[str], where: str = "answer") -> list[Call]:
    """Validate a list of calls and map "_"-names back to the task's dotted names."""
    if not isinstance(value, list):
        raise AnswerFormatError(f"{where}: expected a list of calls, got {type(value).__name__}")
    underscored = {n.replace(".", "_"): n for n in names}
    calls = []
    for i, call in enumerate(value):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise AnswerFormatError(f"{where}[{i}]: expected {{'name': str, 'arguments': {{}}}}")
        args = call.get("arguments", {})
        if not isinstance(args, dict):
            raise AnswerFormatError(f"{where}[{i}].arguments: expected an object")
        name = call["name"]
        name = name if name in names else underscored.get(name, name)
        calls.append({"name": name, "arguments": args})
    return calls


def to_ast_output(calls: list[Call]) -> list[dict[str, dict[str, Any]]]:
    """Our calls -> the AST checker's `[{name: {param: value}}]`."""
    return [{c["name"]: dict(c["arguments"])} for c in calls]


def _first_option(options: list[Any]) -> tuple[bool, Any]:
    for option in options:
        if option != "":
            return True, option
    return False, None


def _materialize(value: Any, schema: dict[str, Any]) -> Any:
    """Turn a chosen gold option into a concrete value (dict options hold option lists)."""
    kind = schema.get("type")
    if kind == "dict" and isinstance(value, dict):
        props = schema.get("properties", {})
        out = {}
        for key, options in value.items():
            if isinstance(options, list):
                found, chosen = _first_option(options)
                if found:
                    out[key] = _materialize(chosen, props.get(key, {}))
            else:
                out[key] = options
        return out
    items = schema.get("items", {})
    if kind == "array" and items.get("type") == "dict" and isinstance(value, list):
        return [_materialize(v, items) for v in value]
    return value


def gold_to_calls(
    ground_truth: list[dict[str, Any]], functions: list[dict[str, Any]]
) -> list[Call]:
    """One concrete answer from BFCL's allowed-values gold (the first allowed value each)."""
    by_name = {f["name"]: f for f in functions}
    calls = []
    for entry in ground_truth:
        ((name, params),) = entry.items()
        schema = by_name.get(name, {}).get("parameters", {})
        props, required = schema.get("properties", {}), set(schema.get("required", []))
        args = {}
        for param, options in params.items():
            if "" in options and param not in required:  # optional: leaving it out is accepted
                continue
            found, chosen = _first_option(options)
            if found:
                args[param] = _materialize(chosen, props.get(param, {}))
            elif "" in options:  # required, yet gold allows only "": give the empty string
                args[param] = ""
        calls.append({"name": name, "arguments": args})
    return calls


def parse_call_string(text: str, signatures: dict[str, inspect.Signature]) -> Call:
    """A multi-turn gold call like `sort('a.txt')` -> `{"name": "sort", "arguments": {...}}`."""
    node = ast.parse(text.strip(), mode="eval").body
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(f"not a simple call: {text!r}")
    name = node.func.id
    args: dict[str, Any] = {}
    if node.args:
        params = [p for p in signatures[name].parameters if p != "self"]
        for param, arg in zip(params, node.args, strict=False):
            args[param] = ast.literal_eval(arg)
    for kw in node.keywords:
        if kw.arg is None:
            raise ValueError(f"**kwargs in gold call: {text!r}")
        args[kw.arg] = ast.literal_eval(kw.value)
    return {"name": name, "arguments": args}


def to_call_string(call: Call, allowed: set[str]) -> str:
    """Our call -> the source text BFCL's multi-turn executor evaluates.

    Only names of the task's functions and identifier keywords are allowed, and values are
    JSON values written with `repr`, so the text can only be a call of an allowed method.
    """
    name = call["name"]
    if name not in allowed:
        raise AnswerFormatError(f"unknown function {name!r}")
    parts = []
    for key, value in call["arguments"].items():
        if not key.isidentifier() or keyword.iskeyword(key):
            raise AnswerFormatError(f"{name}: argument name {key!r} is not an identifier")
        parts.append(f"{key}={value!r}")
    return f"{name}({', '.join(parts)})"


def _java_item(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def source_literal(value: Any, type_name: str, language: str) -> str:
    """A gold value written as Java/JavaScript source, the form BFCL's Java/JS checkers parse."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if language == "javascript":
        return json.dumps(value)
    if type_name == "float" and isinstance(value, int | float):
        return f"{float(value)}f"
    if type_name == "long" and isinstance(value, int):
        return f"{value}L"
    if type_name == "Array" and isinstance(value, list):
        return "new Object[]{" + ", ".join(_java_item(v) for v in value) + "}"
    if type_name == "ArrayList" and isinstance(value, list):
        return "new ArrayList<>(Arrays.asList(" + ", ".join(_java_item(v) for v in value) + "))"
    if type_name == "HashMap" and isinstance(value, dict):
        puts = " ".join(f"put({json.dumps(k)}, {_java_item(v)});" for k, v in value.items())
        return "new HashMap<String, Object>() {{ " + puts + " }}"
    return str(value)


def gold_to_source_calls(
    calls: list[Call], functions: list[dict[str, Any]], language: str
) -> list[Call]:
    """Java/JS tasks take argument values as source text; rewrite a reconstructed gold answer."""
    by_name = {f["name"]: f for f in functions}
    out = []
    for call in calls:
        props = by_name.get(call["name"], {}).get("parameters", {}).get("properties", {})
        args = {
            k: source_literal(v, props.get(k, {}).get("type", "any"), language)
            for k, v in call["arguments"].items()
        }
        out.append({"name": call["name"], "arguments": args})
    return out
