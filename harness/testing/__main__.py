"""Run the scripted server as a process: `python -m harness.testing --port N [--text T]`.

Every chat request gets the same text reply. Used to test server process management (start,
health, reuse, stop on SIGTERM) without a real model.
"""

from __future__ import annotations

import argparse
import signal
import threading

from harness.testing.scripted_server import Reply, ScriptedServer


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.testing")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--text", default="scripted reply")
    parser.add_argument("--model", default="scripted")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with ScriptedServer(responder=lambda _body: Reply.text(args.text), port=args.port,
                        model=args.model):
        print(f"scripted server on port {args.port}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
