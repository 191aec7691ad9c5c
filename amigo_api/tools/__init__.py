"""Tools: the per-organization git repository of tools (the registry and runtime arrive with their issues)."""
