"""A folder of wheels repacked from distributions installed in this environment, for builds that must not
reach a package index (air-gapped runners, the test suite, the benchmarks): point `tool_find_links` at it
and set `tool_build_offline`.

A wheel's installed files plus its `.dist-info` are the wheel again (its RECORD lists them); the tags are
the ones its WHEEL file recorded when it was installed."""

import base64
import hashlib
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def _requirements(name: str, extras: frozenset[str]) -> list[tuple[str, frozenset[str]]]:
    environment = default_environment()
    found = []
    for text in metadata.distribution(name).requires or []:
        requirement = Requirement(text)
        marker_ok = requirement.marker is None or any(
            requirement.marker.evaluate({**environment, "extra": extra})  # type: ignore[dict-item]
            for extra in (extras or {""}))
        if marker_ok:
            found.append((requirement.name, frozenset(requirement.extras)))
    return found


def closure(names: list[str]) -> list[str]:
    """The installed distributions these need, themselves included (extras as `name[extra]`)."""
    pending = [(Requirement(n).name, frozenset(Requirement(n).extras)) for n in names]
    seen: set[str] = set()
    while pending:
        name, extras = pending.pop()
        key = canonicalize_name(name)
        if key in seen:
            continue
        seen.add(key)
        pending += _requirements(name, extras)
    return sorted(seen)


def _tag(distribution: metadata.Distribution) -> str:
    wheel = distribution.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
    return tags[0] if tags else "py3-none-any"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def repack(name: str, folder: Path) -> Path:
    distribution = metadata.distribution(name)
    wheel_name = canonicalize_name(distribution.metadata["Name"]).replace("-", "_")
    target = folder / f"{wheel_name}-{distribution.version}-{_tag(distribution)}.whl"
    if target.exists():
        return target
    records, record_path = [], ""
    partial = target.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as wheel:
        for file in distribution.files or []:
            path = file.as_posix()
            if path.startswith("..") or "__pycache__" in path or path.endswith(".pyc"):
                continue  # scripts outside site-packages and bytecode are not part of the wheel
            if path.endswith(".dist-info/RECORD"):
                record_path = path
                continue
            data = Path(str(file.locate())).read_bytes()
            wheel.writestr(path, data)
            records.append(_record_line(path, data))
        wheel.writestr(record_path, "\n".join([*records, f"{record_path},,"]) + "\n")
    partial.rename(target)
    return target


def seed(folder: Path, names: list[str]) -> list[Path]:
    """Wheels for `names` and everything they need, as installed here."""
    folder.mkdir(parents=True, exist_ok=True)
    return [repack(name, folder) for name in closure(names)]
