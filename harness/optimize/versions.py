"""Candidate versions in git: one commit and one tag (`exp-NNNN`) per candidate, `best` moved.

Rules:
- The repository is the workspace's own (`WORKSPACE/code`); the user's repository is never
  touched. Its work tree holds the agent folder's files at its root.
- Every candidate, valid or not, is committed and tagged, so it is reachable forever; only
  the ledger decides which ones count. Tags are the source of truth for "this candidate's
  code", `best` is derived from the ledger and re-pointed after every ledger write.
- What runs is exported from the commit (never the proposer's folder itself), so what was
  scanned, what is stored and what is evaluated are the same bytes.
- Only the git CLI is used, with a fixed identity and no hooks or user config, so a user's
  global git settings cannot change what is stored.
"""

from __future__ import annotations

import ast
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from pathlib import Path

from harness.errors import HarnessError

BEST = "best"
_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "harness", "GIT_AUTHOR_EMAIL": "harness@localhost",
    "GIT_COMMITTER_NAME": "harness", "GIT_COMMITTER_EMAIL": "harness@localhost",
}
_IGNORED = ("__pycache__", "*.pyc", ".pytest_cache")


def tag_of(experiment: int) -> str:
    return f"exp-{experiment:04d}"


class Versions:
    """The git repository of one workspace."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo

    def git(self, *args: str, check: bool = True, input_bytes: bytes | None = None) -> str:
        env = {**os.environ, **_ENV}
        done = subprocess.run(
            ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.autocrlf=false",
             "-c", "core.symlinks=true", *args],
            cwd=self.repo, env=env, capture_output=True, input=input_bytes, check=False)
        if check and done.returncode != 0:
            raise HarnessError(f"git {args[0]} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode(errors="replace")

    def init(self, agent_dir: Path) -> None:
        """Create the repository with the agent's files as the first commit (untagged)."""
        self.repo.mkdir(parents=True, exist_ok=False)
        self.git("init", "-q", "-b", "main")
        (self.repo / ".git" / "info" / "exclude").write_text("\n".join(_IGNORED) + "\n")
        self._replace_tree(agent_dir)
        self.git("add", "-A", "-f")
        self.git("commit", "-q", "--allow-empty", "-m", "agent as given")

    def commit_candidate(self, experiment: int, folder: Path, message: str) -> str:
        """Commit `folder`'s files as the candidate of `experiment` and tag it; the sha."""
        self._replace_tree(folder)
        # -f: a candidate's own .gitignore must not hide files from the commit, the diff and
        # the scan (what runs is exported from the commit, so a hidden file would vanish).
        self.git("add", "-A", "-f")
        self.git("commit", "-q", "--allow-empty", "-m", message[:500] or tag_of(experiment))
        self.git("tag", "-f", tag_of(experiment))
        return self.sha(tag_of(experiment))

    def _replace_tree(self, folder: Path) -> None:
        for entry in self.repo.iterdir():
            if entry.name == ".git":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        # `git archive`-like copy that keeps symlinks as links: they are stored, never followed.
        shutil.copytree(folder, self.repo, symlinks=True, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(*_IGNORED, ".git"))

    def sha(self, ref: str) -> str:
        return self.git("rev-parse", f"{ref}^{{commit}}").strip()

    def has(self, ref: str) -> bool:
        return bool(self.git("rev-parse", "-q", "--verify", f"{ref}^{{commit}}",
                             check=False).strip())

    def delete_tag(self, tag: str) -> None:
        self.git("tag", "-d", tag, check=False)

    def tags(self) -> list[str]:
        return sorted(t for t in self.git("tag", "--list", "exp-*").split() if t)

    def point_best(self, tag: str) -> None:
        self.git("tag", "-f", BEST, tag)

    def diff(self, parent: str, child: str) -> str:
        return self.git("diff", "--no-color", "--no-ext-diff", "-M", parent, child)

    def export(self, ref: str, target: Path) -> Path:
        """Write the files of `ref` into the new folder `target` (no .git)."""
        target.mkdir(parents=True, exist_ok=False)
        with tempfile.TemporaryDirectory() as scratch:
            archive = Path(scratch) / "tree.tar"
            self.git("archive", "--format=tar", "-o", str(archive), ref)
            with tarfile.open(archive) as tar:
                tar.extractall(target, filter="data")
        return target

    def _files(self, ref: str) -> list[tuple[str, bytes]]:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", ref], cwd=self.repo, capture_output=True,
            env={**os.environ, **_ENV}, check=True).stdout
        files = []
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in sorted(tar.getmembers(), key=lambda m: m.name):
                handle = tar.extractfile(member) if member.isfile() else None
                files.append((member.name, handle.read() if handle else b""))
        return files

    def normalized_digest(self, ref: str) -> str:
        """SHA-256 of `ref`'s files with Python reduced to its syntax tree: two candidates
        that differ only in comments and layout get the same digest."""
        digest = hashlib.sha256()
        for name, data in self._files(ref):
            digest.update(name.encode() + b"\0" + _normalized(name, data) + b"\0")
        return digest.hexdigest()

    def code_size(self, ref: str) -> int:
        """Bytes of `ref`'s files (names and contents, every file) compressed together: the
        simplicity rule's measure. Unlike a line count it cannot be gamed by packing code
        into one line or a data file: packed code does not compress smaller than plain."""
        payload = b"".join(name.encode() + b"\0" + data for name, data in self._files(ref))
        return len(zlib.compress(payload, 9))


def _normalized(name: str, data: bytes) -> bytes:
    if not name.endswith(".py"):
        return data
    try:
        return ast.dump(ast.parse(data)).encode()
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return data
