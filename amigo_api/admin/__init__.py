"""Admin: prompt logs and the read-only SQL endpoint (the model list is `amigo_api.models`)."""
