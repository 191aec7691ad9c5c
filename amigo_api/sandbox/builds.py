"""Builds of tool projects: the project's files at a commit (`git archive`, never a working tree) and a
virtualenv with its dependencies, made by `uv` outside the sandbox, in a build cache addressed by the
project's content (its git tree id and the interpreter), so an unchanged project is never built twice.

Only wheels are installed (`--only-binary :all:`): installing a wheel runs none of the package's code,
so nothing of the tool runs on the worker outside the sandbox. A build is made in a staging folder and
renamed into place complete, so concurrent builders and killed workers leave no half-made build."""

import asyncio
import hashlib
import io
import json
import os
import platform
import shutil
import sys
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import uv

READY = "build.json"
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
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        tar.extractall(target, filter="data")  # no absolute paths, no links out of the project


def _uv_env(config: BuildConfig) -> dict[str, str]:
    """uv's own configuration only: no variable of the service reaches the build."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(config.root),
           "UV_CACHE_DIR": str(config.root / ".uv-cache"), "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never",
           "UV_NO_PROGRESS": "1"}
    if config.offline:
        env["UV_OFFLINE"] = "1"
    return env


def _index_options(config: BuildConfig) -> list[str]:
    options = ["--only-binary", ":all:"]
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
            raise BuildFailed(f"The build failed:\n{_tail(log)}")
    return log


def _test_extra(project: Path) -> list[str]:
    import tomllib

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
