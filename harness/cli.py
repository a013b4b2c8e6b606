"""The `harness` command line (typer + rich).

Flags fill the one `HarnessConfig` (see harness/config.py); their help texts are the config
fields' descriptions. Errors print as one line, `error: <where>: <field>: <problem>`, with exit
code 2 for bad input and 1 for failures at run time.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

try:  # typer >= 0.2x vendors click; older ones use click itself
    from typer._click.exceptions import NoArgsIsHelpError
    from typer._click.exceptions import UsageError as TyperException
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import NoArgsIsHelpError  # type: ignore[assignment]
    from click.exceptions import UsageError as TyperException  # type: ignore[assignment]

from harness.config import HarnessConfig, field_help, load_config
from harness.errors import HarnessError
from harness.models.types import ChatResult, Message

app = typer.Typer(
    name="harness",
    help="Improve LLM agent harnesses automatically: serve models, chat, evaluate, optimize.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)  # one error, one line

ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="TOML config file (default: ./harness.toml when present).")]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help=field_help("model"))]
HostOpt = Annotated[str | None, typer.Option(help=field_help("host"))]
PortOpt = Annotated[int | None, typer.Option(help=field_help("port"))]
CtxOpt = Annotated[int | None, typer.Option(help=field_help("n_ctx"))]
TimeoutOpt = Annotated[float | None, typer.Option(help=field_help("startup_timeout_s"))]


def _config(config: Path | None, **flags: Any) -> HarnessConfig:
    return load_config(config, **flags)


@app.command()
def serve(
    spec: Annotated[str | None, typer.Argument(
        help="Model spec to serve (default: the configured model, normally 'embedded').")] = None,
    config: ConfigOpt = None,
    host: HostOpt = None,
    port: PortOpt = None,
    n_ctx: CtxOpt = None,
    startup_timeout_s: TimeoutOpt = None,
    max_num_seqs: Annotated[int | None, typer.Option(help=field_help("max_num_seqs"))] = None,
) -> None:
    """Start a local model server (llama.cpp for embedded, vLLM for vllm:) and print its URL.

    A healthy server already on the port is reused. Stops cleanly on Ctrl-C or SIGTERM.
    """
    from harness.servers import server_for

    cfg = _config(config, model=spec, host=host, port=port, n_ctx=n_ctx,
                  startup_timeout_s=startup_timeout_s, max_num_seqs=max_num_seqs)
    server = server_for(cfg)
    err.print(f"starting {cfg.spec.text} on {cfg.host}:{cfg.port} (log: {server.log_path})")
    server.start(cfg.startup_timeout_s)
    out.print(server.base_url, highlight=False)
    if server.reused:
        err.print("a healthy server was already running on that port; reusing it")
        return
    err.print(f"serving '{server.served_name}'; Ctrl-C to stop")
    _hold_until_signal()
    server.stop()
    err.print("server stopped")


def _hold_until_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


@app.command()
def chat(
    text: Annotated[str, typer.Argument(help="The user message to send.")],
    config: ConfigOpt = None,
    model: ModelOpt = None,
    system: Annotated[str | None, typer.Option(help="Optional system prompt.")] = None,
    max_tokens: Annotated[int, typer.Option(help="Most tokens to generate.")] = 256,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature.")] = None,
    port: PortOpt = None,
) -> None:
    """Send one message to a model and print its reply, reasoning (if any) and token usage."""
    cfg = _config(config, model=model, port=port)
    messages = [Message(role="system", content=system)] if system else []
    messages.append(Message(role="user", content=text))
    params: dict[str, Any] = {"max_tokens": max_tokens}
    if temperature is not None:
        params["temperature"] = temperature
    result = asyncio.run(_chat_once(cfg, messages, params))
    _print_result(result)


async def _chat_once(cfg: HarnessConfig, messages: list[Message],
                     params: dict[str, Any]) -> ChatResult:
    from harness.servers import running_model

    async with running_model(cfg) as client:
        return await client.chat(messages, **params)


def _print_result(result: ChatResult) -> None:
    if result.reasoning_text:
        out.print(f"[dim]reasoning:\n{result.reasoning_text}[/dim]")
    out.print(result.text, highlight=False, markup=False)
    for call in result.tool_calls:
        out.print(f"tool call: {call.name}({call.raw_arguments})", highlight=False, markup=False)
    usage = result.usage
    out.print(
        f"[dim]{result.model} · {usage.input_tokens} in / {usage.output_tokens} out"
        f" ({usage.reasoning_tokens} reasoning) · {result.finish_reason}"
        f" · {result.latency_s:.2f} s[/dim]")


def _register_subcommands() -> None:
    from benchmarks.cli import app as benchmarks_app
    from harness.cli_optimize import finalize_command, optimize_command
    from harness.cli_report import compare_command, report_command, runs_command
    from harness.cli_runs import eval_command, traces_app

    app.command("eval")(eval_command)
    app.command("optimize")(optimize_command)
    app.command("finalize")(finalize_command)
    for name, command in (("compare", compare_command), ("report", report_command),
                          ("runs", runs_command)):
        app.command(name)(command)
    app.add_typer(benchmarks_app, name="benchmarks")
    app.add_typer(traces_app, name="traces")


_register_subcommands()


def main() -> None:
    """Console entry point: run the app, turning errors into one line and an exit code."""
    try:
        code = app(standalone_mode=False)  # click hands back a `typer.Exit` code as a value
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except TyperException as error:  # usage errors: bad flag value, missing argument
        exit_code = getattr(error, "exit_code", 2)
        if isinstance(error, NoArgsIsHelpError):
            sys.exit(exit_code)
        err.print(f"error: {error.format_message()}", highlight=False, markup=False)
        sys.exit(exit_code)
    except HarnessError as error:
        err.print(f"error: {error}", highlight=False, markup=False)
        sys.exit(error.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
