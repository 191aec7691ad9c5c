"""The LLM model registry: which models version sets may prefer, with the parameters each accepts."""
