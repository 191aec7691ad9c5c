"""Simulation unit tests: a service version set run against a persona and scenario, judged by metrics."""
