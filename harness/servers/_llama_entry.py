"""Entry point of the embedded model server: `llama_cpp.server` with two fixes of ours.

Run as `python -m harness.servers._llama_entry <llama_cpp.server arguments>`.

1. Prompts reach the model as written. llama-cpp-python's `chatml-function-calling` handler
   renders its ChatML template with HTML autoescape on, so every message reached the model
   escaped (`<` → `&lt;`, `"` → `&#34;`, `>>>` → `&gt;&gt;&gt;`): code and maths prompts were
   mangled. The handler builds its Jinja environment from the module-level name
   `ImmutableSandboxedEnvironment` at each call; we bind that name to a subclass that never
   autoescapes, so the same template (tool calling and grammar included) renders unescaped,
   with tools or without. No other handler of that module turns autoescape on, so nothing else
   changes. `tests/integration/test_embedded_model.py` checks the rendered prompt, so a
   llama-cpp-python upgrade that moves the name fails loudly rather than silently re-escaping.
2. On CPUs that advertise AMX, llama.cpp's extra weight buffer types (AMX tiles, repacking)
   are turned off: on this project's AMX machines they crash the process (general protection
   fault in libggml-cpu) on the first prompt longer than one token. The plain CPU kernels are
   used instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment


class UnescapedEnvironment(ImmutableSandboxedEnvironment):
    """A sandboxed Jinja environment that renders values verbatim (prompts are not HTML)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["autoescape"] = False
        super().__init__(*args, **kwargs)


def render_prompts_verbatim() -> None:
    from llama_cpp import llama_chat_format

    if not hasattr(llama_chat_format, "ImmutableSandboxedEnvironment"):
        raise RuntimeError("llama_cpp.llama_chat_format no longer has "
                           "ImmutableSandboxedEnvironment; update harness/servers/_llama_entry.py")
    llama_chat_format.ImmutableSandboxedEnvironment = UnescapedEnvironment  # type: ignore[misc]


def cpu_has_amx(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    try:
        flags = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    return "amx_tile" in flags.split()


def without_extra_buffer_types() -> None:
    """Load models without llama.cpp's extra (AMX / repacked) weight buffers."""
    import llama_cpp.llama as llama_module

    low_level = llama_module.llama_cpp
    defaults = low_level.llama_model_default_params

    def params() -> Any:
        built = defaults()
        built.use_extra_bufts = False
        return built

    low_level.llama_model_default_params = params


def main() -> None:
    render_prompts_verbatim()
    if cpu_has_amx():
        without_extra_buffer_types()
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
