"""Admin: the LLM model registry (prompt logs and SQL arrive with their own issue)."""
