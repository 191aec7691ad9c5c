"""The organization's git repository of tools: git over HTTP with Amigo credentials, and read endpoints."""
