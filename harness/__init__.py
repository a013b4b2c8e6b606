"""harness-optimizer core: config, CLI, models, servers, sandbox, runner, loop."""
