"""The tool scaffold: a ready-to-push tool project (docs/tools.md), served as a tar.gz that is the same bytes
on every call and in every process: files in a fixed order, with fixed times, owners and modes.

Its release hash is the hash of the template files; the project records it in `[tool.amigo]` as
`scaffold_release`, so a published version can name the scaffold it came from."""

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

TEMPLATE = "tools/scaffold_template"
SUFFIX = ".tmpl"  # template files are inert in this package (not collected, imported or type-checked)
ROOT = "amigo_tool_scaffold"
RELEASE_PLACEHOLDER = "{scaffold_release}"
# 2026-01-01T00:00:00Z: any fixed time will do; a changing one would change the bytes.
MTIME = 1767225600


def _template_files(folder: Traversable, prefix: str = "") -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    for entry in folder.iterdir():
        path = f"{prefix}{entry.name}"
        if entry.is_dir():
            files += _template_files(entry, f"{path}/")
        elif entry.name.endswith(SUFFIX):
            files.append((path.removesuffix(SUFFIX), entry.read_bytes()))
    return sorted(files)


def _tar_info(name: str, size: int, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.uid, info.gid, info.uname, info.gname = size, MTIME, 0, 0, "", ""
    info.type, info.mode = (tarfile.DIRTYPE, 0o755) if directory else (tarfile.REGTYPE, 0o644)
    return info


def _archive(files: list[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directories = sorted({ROOT} | {f"{ROOT}/{path.rsplit('/', 1)[0]}" for path, _ in files if "/" in path})
        for directory in directories:
            tar.addfile(_tar_info(directory, 0, directory=True))
        for path, content in files:
            tar.addfile(_tar_info(f"{ROOT}/{path}", len(content)), io.BytesIO(content))
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(raw.getvalue())
    return compressed.getvalue()


@dataclass(frozen=True)
class ScaffoldRelease:
    release_hash: str
    archive: bytes

    @classmethod
    def load(cls) -> "ScaffoldRelease":
        templates = _template_files(resources.files("amigo_api").joinpath(TEMPLATE))
        digest = hashlib.sha1()  # noqa: S324 - an identifier shaped like a commit hash, not a security check
        for path, content in templates:
            digest.update(path.encode() + b"\0" + content + b"\0")
        release = digest.hexdigest()
        files = [(path, content.replace(RELEASE_PLACEHOLDER.encode(), release.encode())) for path, content in templates]
        return cls(release, _archive(files))
