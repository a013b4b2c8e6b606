"""Runs inside the proposer's sandbox: prepares scratch, runs the command, hands back its file.

It runs as `python -I -S -c <this source> <fd> <scratch> <limit> <command>`, so it imports
only the standard library and stays self-contained. bubblewrap makes only the candidate
folder writable on the host, so the proposal file (in scratch, a private tmpfs inside the
sandbox) cannot be read from outside after the sandbox ends: this wrapper sends it through
the inherited pipe `fd` instead, framed by a one-byte tag:
`F` + the file's first `limit + 1` bytes, `N` (no file), or `X` + why it could not be read.
The command never inherits `fd`. Its own exit status is this wrapper's.
"""

import os
import stat
import subprocess
import sys


def _prepare(scratch: str) -> None:
    os.mkdir(scratch, 0o700)  # fails if it exists: never adopt a folder someone else made
    os.mkdir(os.path.join(scratch, "home"), 0o700)
    os.mkdir(os.path.join(scratch, "tmp"), 0o700)


def _read_proposal(path: str, limit: int) -> bytes:
    try:
        # O_NONBLOCK: a FIFO put there must not hang us; fstat below refuses it anyway.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return b"N"
    except OSError as exc:
        return b"X" + f"cannot open it: {exc.strerror}".encode()
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b"X" + b"it is not a regular file"
        chunks: list[bytes] = []
        size = 0
        while size <= limit and (chunk := os.read(fd, 65536)):
            chunks.append(chunk)
            size += len(chunk)
        return b"F" + b"".join(chunks)[: limit + 1]
    finally:
        os.close(fd)


def _send(fd: int, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        pass  # the harness stopped listening (it got more than it accepts): nothing to do
    finally:
        os.close(fd)


def main(argv: list[str]) -> int:
    fd, scratch, limit, command = int(argv[1]), argv[2], int(argv[3]), argv[4]
    os.set_inheritable(fd, False)
    try:
        _prepare(scratch)
    except OSError as exc:
        sys.stderr.write(f"proposer sandbox: cannot create scratch {scratch}: {exc}\n")
        return 125
    code = subprocess.call(["/bin/sh", "-c", command], close_fds=True)
    _send(fd, _read_proposal(os.environ["HARNESS_PROPOSAL"], limit))
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
