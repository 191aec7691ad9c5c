"""The read-only SQL endpoint over an organization's data."""
