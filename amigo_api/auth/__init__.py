"""Loading the caller's principal (role, grants) from the stored users, roles and API keys."""
