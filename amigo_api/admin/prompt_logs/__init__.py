"""Prompt logs: recording them and downloading them as a streamed zip."""
