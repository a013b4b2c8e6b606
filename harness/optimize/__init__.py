"""The optimisation loop: propose a change to a task agent, validate it, evaluate it on train,
gate it on held-out against its parent, keep or revert; every step logged and resumable."""
