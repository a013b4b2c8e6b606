"""task_agents (grows in later issues)."""
