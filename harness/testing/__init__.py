"""Test doubles that ship with the library: a scripted OpenAI-compatible server."""

from harness.testing.scripted_server import Reply, ScriptedServer

__all__ = ["Reply", "ScriptedServer"]
