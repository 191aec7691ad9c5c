"""LLM analytics: PostHog's LLM analytics API (environments, credentials, capture; docs/llm-analytics.md)."""
