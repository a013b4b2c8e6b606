"""meta_agent (grows in later issues)."""
