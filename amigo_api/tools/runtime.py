"""How the worker builds and runs a tool, from the settings: the build cache, the sandbox's limits, and the
environment a run gets (the variables the version needs, decrypted here, inside the activity, only)."""

import functools
import os
from pathlib import Path

from amigo_api.core.crypto import SecretBox
from amigo_api.sandbox.builds import Build, BuildConfig
from amigo_api.sandbox.cgroups import CgroupError, CgroupHost
from amigo_api.sandbox.confinement import Limits, Mounts, write_minimal_etc
from amigo_api.sandbox.runner import HARNESS, Isolation, RunnerConfig
from amigo_api.sandbox.uids import UidPool
from amigo_api.settings import Settings
from amigo_api.tools.repository import ToolDocument


def build_config(settings: Settings) -> BuildConfig:
    return BuildConfig(root=Path(settings.tool_build_root).resolve(), index_url=settings.tool_index_url,
                       find_links=settings.tool_find_links, offline=settings.tool_build_offline,
                       timeout_seconds=settings.tool_build_timeout_seconds)


def runner_config(settings: Settings, wall_seconds: float | None = None) -> RunnerConfig:
    limits = Limits(wall_seconds=wall_seconds or settings.tool_run_timeout_seconds,
                    cpu_seconds=settings.tool_cpu_seconds, memory_mb=settings.tool_memory_mb,
                    max_processes=settings.tool_max_processes, max_open_files=settings.tool_max_open_files,
                    max_file_mb=settings.tool_max_file_mb, run_memory_mb=settings.tool_run_memory_mb,
                    tmp_mb=settings.tool_tmp_mb)
    return RunnerConfig(limits=limits, confined=settings.tool_sandbox, network=settings.tool_network,
                        isolation=isolation(settings))


def isolation(settings: Settings) -> Isolation:
    return _isolation(settings.tool_require_cgroups, settings.tool_uid_first, settings.tool_uid_count,
                      settings.tool_uid_lock_dir)


@functools.cache
def _isolation(require_cgroups: bool, uid_first: int, uid_count: int, lock_dir: str) -> Isolation:
    """Found once per worker process: the uid pool (root workers) and the host's cgroups."""
    uids = UidPool(uid_first, uid_count, Path(lock_dir)) if os.geteuid() == 0 else None
    try:
        return Isolation(uids, CgroupHost.detect(), require_cgroups=require_cgroups)
    except CgroupError as error:
        return Isolation(uids, None, str(error), require_cgroups)


def sandbox_uids(settings: Settings) -> range:
    return range(settings.tool_uid_first, settings.tool_uid_first + settings.tool_uid_count) \
        if os.geteuid() == 0 else range(0)


def mounts_for(build: Build, settings: Settings) -> Mounts:
    etc = write_minimal_etc(Path(settings.tool_build_root).resolve() / ".etc", sandbox_uids(settings))
    return Mounts(env=build.env, project=build.project, harness=HARNESS, etc=etc)


def tool_environment(tool: ToolDocument, envvars: list[str], secret_envvars: list[str], box: SecretBox
                     ) -> dict[str, str]:
    """The values of the variables a version declares, from the tool (secret ones decrypted)."""
    values = {name: tool["envvar_values"][name] for name in envvars if name in tool["envvar_values"]}
    secrets = {name: box.decrypt(tool["secret_envvar_values"][name]) for name in secret_envvars
               if name in tool["secret_envvar_values"]}
    return {**values, **secrets}
