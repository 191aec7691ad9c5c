"""The repository stands alone: no code, test or benchmark refers to a path outside the checkout."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `parents[2]` or more climbs above the checkout from a file one level down; the folder beside the checkout
# that holds the project's reference documents, by name.
OUTSIDE = re.compile(r"parents\[[2-9]\]|\.\./shared|[\"']shared[\"']")
# The folder the checkout sits in, as an absolute path: code that names it only works on this machine.
AROUND = str(ROOT.parent)


def test_no_code_or_test_refers_to_a_path_outside_the_checkout() -> None:
    offenders = []
    for folder in ("amigo_api", "tests", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == Path(__file__).resolve():
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if OUTSIDE.search(line) or (len(AROUND) > 1 and AROUND in line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
