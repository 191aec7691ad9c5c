"""Builds of tool projects: the project's files at a commit (`git archive`, never a working tree) and a
virtualenv with its dependencies, made by `uv` outside the sandbox, in a build cache addressed by the
project's content (its git tree id and the interpreter), so an unchanged project is never built twice.

Only wheels are installed (`--only-binary :all:`): installing a wheel runs none of the package's code,
so nothing of the tool runs on the worker outside the sandbox. Only names and versions are installed, from the
configured index and find-links: a requirement with a URL (direct, file or VCS) or `[tool.uv.sources]` is refused
before uv runs, so a project cannot make the worker fetch an address of its choosing or read a file of its disk.
The host's TLS and proxy settings reach uv. A build is made in a staging folder and renamed into place complete,
so concurrent builders and killed workers leave no half-made build."""

import asyncio
import hashlib
import io
import json
import os
import platform
import re
import shutil
import sys
import tarfile
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uv
from packaging.requirements import InvalidRequirement, Requirement

READY = "build.json"
# What uv takes of the worker's environment: the host's certificate authorities and proxies, and uv's option to
# trust the system's certificates.
HOST_NETWORK = ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy", "UV_NATIVE_TLS")
INDEX_SETTINGS = "AMIGO_TOOL_INDEX_URL, AMIGO_TOOL_FIND_LINKS"
FETCH_FAILED = re.compile(r"invalid peer certificate|UnknownIssuer|certificate verify failed|Failed to fetch|"
                          r"error sending request|dns error|tcp connect error|Connection refused|proxy", re.I)
FETCH_HINT = ("The worker could not fetch from the package index. Builds install from AMIGO_TOOL_INDEX_URL (unset: "
              "PyPI) and the wheel folders of AMIGO_TOOL_FIND_LINKS. Behind a proxy or a certificate authority of "
              "your own, give the worker SSL_CERT_FILE (or SSL_CERT_DIR) and HTTPS_PROXY / NO_PROXY, or "
              "UV_NATIVE_TLS=1 to trust the system's certificates.")
LOG_TAIL_LINES = 20
MAX_ARCHIVE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class BuildConfig:
    root: Path
    index_url: str | None
    find_links: list[str]
    offline: bool
    timeout_seconds: float


@dataclass(frozen=True)
class Build:
    key: str
    path: Path
    reused: bool

    @property
    def env(self) -> Path:
        return self.path / "env"

    @property
    def project(self) -> Path:
        return self.path / "project"


class BuildFailed(Exception):
    """The project cannot be built; the message ends with the last lines of the build log."""


def build_key(tree_id: str) -> str:
    """The project's files (a git tree id covers every file's content and mode) and the interpreter."""
    identity = f"{tree_id}\0{sys.version}\0{platform.machine()}\0{sys.base_prefix}"
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def base_interpreter() -> str:
    return str(Path(getattr(sys, "_base_executable", sys.executable)).resolve())


async def _run(command: list[str], *, cwd: Path | None, env: dict[str, str], seconds: float,
               stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    process = await asyncio.create_subprocess_exec(
        *command, cwd=cwd, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, start_new_session=True)
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), seconds)
    except BaseException:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out, err


def _tail(log: str) -> str:
    return "\n".join(log.strip().splitlines()[-LOG_TAIL_LINES:])


async def _archive(git_dir: Path, commit: str, project_path: str, target: Path, seconds: float) -> None:
    treeish = f"{commit}:{project_path}" if project_path else commit
    code, out, err = await _run(["git", f"--git-dir={git_dir}", "archive", "--format=tar", treeish], cwd=None,
                                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, seconds=seconds)
    if code != 0:
        raise BuildFailed(f"The project's files could not be read at {commit}:\n{_tail(err.decode())}")
    if len(out) > MAX_ARCHIVE_BYTES:
        raise BuildFailed(f"The project is larger than {MAX_ARCHIVE_BYTES // (1024 * 1024)} MB.")
    try:
        with tarfile.open(fileobj=io.BytesIO(out)) as tar:
            tar.extractall(target, filter="data")  # no absolute paths, no links out of the project
    except tarfile.FilterError as error:
        raise BuildFailed(f"The project holds a file the build refuses: {error}. Links must stay inside the "
                          "project and be relative.") from error


def _uv_env(config: BuildConfig) -> dict[str, str]:
    """uv's own configuration, and the host's TLS and proxy settings: no variable of the service reaches it."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(config.root),
           "UV_CACHE_DIR": str(config.root / ".uv-cache"), "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never",
           "UV_NO_PROGRESS": "1", **{name: os.environ[name] for name in HOST_NETWORK if name in os.environ}}
    if config.offline:
        env["UV_OFFLINE"] = "1"
    return env


def check_requirements(pyproject: Path) -> None:
    """Refuse, before uv runs, what would install from elsewhere than the index: a requirement with a URL
    (`pkg @ https://...`, `file:`, `git+...`) in the dependencies or the `test` extra, or `[tool.uv.sources]`."""
    try:
        project = tomllib.loads(pyproject.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise BuildFailed(f"pyproject.toml cannot be read: {error}") from error
    for text in _requirements(project):
        try:
            requirement = Requirement(str(text))
        except InvalidRequirement as error:
            raise BuildFailed(f"The requirement `{text}` is not valid: {error}") from error
        if requirement.url:
            raise BuildFailed(f"The requirement `{text}` names a URL. Builds install packages by name and version "
                              f"from the configured index only ({INDEX_SETTINGS}).")
    tool = project.get("tool")
    uv_table = tool.get("uv") if isinstance(tool, dict) else None
    if isinstance(uv_table, dict) and uv_table.get("sources"):
        raise BuildFailed(f"`[tool.uv.sources]` is not supported: builds install packages by name and version from "
                          f"the configured index only ({INDEX_SETTINGS}).")


def _requirements(project: dict[str, Any]) -> list[Any]:
    """The dependencies and the `test` extra: what a build installs."""
    declared = project.get("project")
    declared = declared if isinstance(declared, dict) else {}
    extras = declared.get("optional-dependencies")
    test = extras.get("test") if isinstance(extras, dict) else None
    return [*_listed(declared.get("dependencies")), *_listed(test)]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _index_options(config: BuildConfig) -> list[str]:
    options = ["--only-binary", ":all:", "--no-sources"]
    if config.index_url:
        options += ["--index-url", config.index_url]
    for folder in config.find_links:
        options += ["--find-links", folder]
    return options


async def _install(staging: Path, config: BuildConfig) -> str:
    """A virtualenv with the project's dependencies and its `test` extra; returns the build log."""
    uv_bin, env = uv.find_uv_bin(), _uv_env(config)
    steps = [
        [uv_bin, "venv", "--relocatable", "--python", base_interpreter(), str(staging / "env")],
        [uv_bin, "pip", "install", "--compile-bytecode", "--python", str(staging / "env" / "bin" / "python"), "-r",
         str(staging / "project" / "pyproject.toml"), *_test_extra(staging / "project"), *_index_options(config)],
    ]
    log = ""
    for step in steps:
        code, out, err = await _run(step, cwd=staging, env=env, seconds=config.timeout_seconds)
        log += out.decode(errors="replace") + err.decode(errors="replace")
        if code != 0:
            raise BuildFailed(_failure(log))
    return log


def _failure(log: str) -> str:
    """The end of uv's log; when it could not fetch, what the operator can set (not uv's hints: its flags are not
    the user's to pass)."""
    if not FETCH_FAILED.search(log):
        return f"The build failed:\n{_tail(log)}"
    lines = [line for line in log.strip().splitlines() if not line.lstrip().startswith("hint:")]
    return f"The build failed:\n{_tail(chr(10).join(lines))}\n{FETCH_HINT}"


def _test_extra(project: Path) -> list[str]:
    try:
        extras = tomllib.loads((project / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    except (KeyError, TypeError, tomllib.TOMLDecodeError, OSError):
        return []
    return ["--extra", "test"] if "test" in extras else []


def _world_readable(folder: Path) -> None:
    """The tool runs as an unprivileged uid: it must read (never write) what the build made."""
    for dirpath, _, filenames in os.walk(folder):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                path.chmod(0o755 if os.access(path, os.X_OK) else 0o644)


async def ensure_build(git_dir: Path, commit: str, project_path: str, tree_id: str, config: BuildConfig) -> Build:
    """The build of the project at `commit`, reused when one with the same content exists."""
    key = build_key(tree_id)
    final = config.root / key
    if (final / READY).exists():
        return Build(key, final, reused=True)
    staging = config.root / ".staging" / f"{key}-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    config.root.chmod(0o755)
    try:
        await _archive(git_dir, commit, project_path, staging / "project", config.timeout_seconds)
        check_requirements(staging / "project" / "pyproject.toml")
        log = await _install(staging, config)
        (staging / "build.log").write_text(log)
        (staging / READY).write_text(json.dumps({"key": key, "commit": commit, "tree": tree_id}))
        _world_readable(staging)
        try:
            staging.rename(final)
        except OSError:  # another builder finished the same build first
            if not (final / READY).exists():
                raise
            return Build(key, final, reused=True)
        return Build(key, final, reused=False)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
