"""How the worker builds and runs a tool, from the settings: the build cache, the sandbox's limits, and the
environment a run gets (the variables the version needs, decrypted here, inside the activity, only)."""

from pathlib import Path

from amigo_api.core.crypto import SecretBox
from amigo_api.sandbox.builds import Build, BuildConfig
from amigo_api.sandbox.confinement import Limits, Mounts, write_minimal_etc
from amigo_api.sandbox.runner import HARNESS, RunnerConfig
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
                    max_file_mb=settings.tool_max_file_mb)
    return RunnerConfig(limits=limits, confined=settings.tool_sandbox, network=settings.tool_network)


def mounts_for(build: Build, settings: Settings) -> Mounts:
    etc = write_minimal_etc(Path(settings.tool_build_root).resolve() / ".etc")
    return Mounts(env=build.env, project=build.project, harness=HARNESS, etc=etc)


def tool_environment(tool: ToolDocument, envvars: list[str], secret_envvars: list[str], box: SecretBox
                     ) -> dict[str, str]:
    """The values of the variables a version declares, from the tool (secret ones decrypted)."""
    values = {name: tool["envvar_values"][name] for name in envvars if name in tool["envvar_values"]}
    secrets = {name: box.decrypt(tool["secret_envvar_values"][name]) for name in secret_envvars
               if name in tool["secret_envvar_values"]}
    return {**values, **secrets}
