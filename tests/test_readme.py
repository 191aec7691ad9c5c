"""The README's settings table names every setting with its real default, and nothing else."""

import json
import re
from pathlib import Path
from typing import Any

from amigo_api.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| `AMIGO_([A-Z0-9_]+)` \| (.*?) \| .+ \|$")


def render(default: Any) -> str:
    """A default as the README shows it."""
    if default is None or default == "":
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, float) and default.is_integer():
        return f"`{int(default)}`"
    if isinstance(default, list | dict):
        return f"`{json.dumps(default)}`"
    return f"`{default}`"


def test_the_settings_table_matches_settings() -> None:
    documented = {match.group(1).lower(): match.group(2)
                  for line in README.read_text().splitlines() if (match := ROW.match(line))}
    actual = {name: render(field.get_default(call_default_factory=True))
              for name, field in Settings.model_fields.items()}
    assert documented == actual
