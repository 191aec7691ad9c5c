"""Open, self-hostable implementation of the classic Amigo REST API."""

__version__ = "0.1.0"
