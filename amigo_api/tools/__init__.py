"""Tools: the registry (tools, environment variables, the scaffold) and repo/ (the per-organization git
repository of tools)."""
