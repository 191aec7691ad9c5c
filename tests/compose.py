"""docker-compose.yml read as Compose reads it (variables interpolated, YAML anchors merged), so that tests can
run what its containers run, directly on this host."""

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[1] / "docker-compose.yml"
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:[-?])(?P<arg>[^}]*))?\}")


def load() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def interpolate(value: str, variables: dict[str, str]) -> str:
    """`${NAME}`, `${NAME:-default}` and `${NAME:?error}`, as Compose does."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        if variables.get(name):
            return variables[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg if op == ":-" else ""

    return _VARIABLE.sub(replace, value)


@dataclass(frozen=True)
class Service:
    name: str
    spec: dict[str, Any]

    def environment(self, variables: dict[str, str]) -> dict[str, str]:
        return {key: interpolate(str(value), variables) for key, value in (self.spec.get("environment") or {}).items()}

    def command(self) -> list[str]:
        return list(self.spec["command"])

    def health_command(self) -> list[str]:
        test = list(self.spec["healthcheck"]["test"])
        assert test[0] == "CMD", test
        return test[1:]

    def capabilities(self) -> list[str]:
        assert self.spec.get("cap_drop") == ["ALL"]
        return [name.lower() for name in self.spec.get("cap_add", [])]


def service(name: str) -> Service:
    return Service(name, load()["services"][name])


def ours(command: list[str]) -> list[str]:
    """A command of our image (`amigo-api ...`) as this environment runs it."""
    assert command[0] == "amigo-api", command
    return [sys.executable, "-m", "amigo_api", *command[1:]]


def replace_option(command: list[str], option: str, value: str) -> list[str]:
    index = command.index(option)
    return [*command[:index + 1], value, *command[index + 2:]]
