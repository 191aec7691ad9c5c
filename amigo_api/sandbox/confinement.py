"""The bubblewrap command line that confines one run of tool code (docs/tools.md, "The runner").

Inside: a fresh root with `/usr` (and the interpreter's own prefix) read-only, the built environment at
/tool/env and the project at /tool/project read-only, a private tmpfs /tmp, a minimal /etc, its own /proc and
/dev; new mount, PID, network (loopback only), IPC and UTS namespaces; a new session; it dies with the
worker. When the worker runs as root, bubblewrap needs no user namespace and the tool drops to a real
unprivileged uid (`setpriv`), so process limits bind it; otherwise bubblewrap maps the worker's own uid.
Resource limits are set by `prlimit` before the interpreter starts."""

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TOOL_ROOT = "/tool"
ENV_MOUNT = f"{TOOL_ROOT}/env"
PROJECT_MOUNT = f"{TOOL_ROOT}/project"
HARNESS_MOUNT = f"{TOOL_ROOT}/harness.py"
NOBODY = 65534
MINIMAL_ETC = {
    "passwd": "root:x:0:0:root:/tmp:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin\n",
    "group": "root:x:0:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1 localhost\n::1 localhost\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
}
INSTALL_HINT = ("Install bubblewrap on the worker (Debian/Ubuntu: `apt-get install bubblewrap`). Only on a "
                "development machine, AMIGO_TOOL_SANDBOX=false runs tools without any isolation.")
NAMESPACE_HINT = (
    "bubblewrap cannot create namespaces here. Run the worker as root in its container with the options of "
    "docker-compose.yml (CAP_SYS_ADMIN, seccomp and AppArmor relaxed for the worker only), or allow "
    "unprivileged user namespaces on the host (`sysctl kernel.unprivileged_userns_clone=1`; on Ubuntu 23.10+ "
    "also `sysctl kernel.apparmor_restrict_unprivileged_userns=0`).")


class SandboxUnavailable(RuntimeError):
    """Tool code cannot be confined on this worker; the message names the fix."""


@dataclass(frozen=True)
class Limits:
    wall_seconds: float
    cpu_seconds: int
    memory_mb: int
    max_processes: int
    max_open_files: int
    max_file_mb: int


@dataclass(frozen=True)
class Mounts:
    env: Path  # the built environment (a virtualenv)
    project: Path  # the project's files
    harness: Path  # the in-sandbox entry point (amigo_api/sandbox/harness.py)
    etc: Path  # the minimal /etc


def write_minimal_etc(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in MINIMAL_ETC.items():
        if not (folder / name).exists() or (folder / name).read_text() != content:
            (folder / name).write_text(content)
        (folder / name).chmod(0o644)
    folder.chmod(0o755)
    return folder


def interpreter_prefix() -> Path:
    """Where the base interpreter lives (the environments' `python` links to it)."""
    return Path(sys.base_prefix).resolve()


def _ancestors_with_modes(target: Path) -> list[str]:
    """`--dir` for each parent of a mount point outside /usr, world-searchable (bubblewrap makes them 0700)."""
    args: list[str] = []
    for parent in reversed(target.parents):
        if str(parent) != "/":
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


def _limits(limits: Limits) -> list[str]:
    mb = 1024 * 1024
    return ["/usr/bin/prlimit", f"--cpu={limits.cpu_seconds}", f"--as={limits.memory_mb * mb}",
            f"--nproc={limits.max_processes}", f"--nofile={limits.max_open_files}",
            f"--fsize={limits.max_file_mb * mb}", "--core=0", "--"]


def bwrap_command(argv: list[str], mounts: Mounts, env: dict[str, str], limits: Limits, *, network: bool,
                  as_root: bool | None = None) -> list[str]:
    """The full command: bwrap, then (as root) setpriv to `nobody`, then prlimit, then `argv`."""
    as_root = os.geteuid() == 0 if as_root is None else as_root
    prefix = interpreter_prefix()
    command = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
               "--unshare-cgroup-try"]
    if not network:
        command.append("--unshare-net")
    if not as_root:
        command += ["--unshare-user", "--uid", str(os.getuid()), "--gid", str(os.getgid())]
    command += ["--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin"]
    if not str(prefix).startswith("/usr/"):
        command += [*_ancestors_with_modes(prefix), "--ro-bind", str(prefix), str(prefix)]
    command += ["--ro-bind", str(mounts.etc), "/etc", "--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--tmpfs", "/tmp", "--perms", "0755", "--dir", TOOL_ROOT,
                "--ro-bind", str(mounts.env), ENV_MOUNT, "--ro-bind", str(mounts.project), PROJECT_MOUNT,
                "--ro-bind", str(mounts.harness), HARNESS_MOUNT, "--chdir", PROJECT_MOUNT, "--clearenv"]
    for name, value in env.items():
        command += ["--setenv", name, value]
    command.append("--")
    if as_root:
        command += ["/usr/bin/setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return command + _limits(limits) + argv


def unconfined_command(argv: list[str], mounts: Mounts, limits: Limits) -> list[str]:
    """Development only: the same program with the same limits, and no isolation at all."""
    mapped = [_unconfined_path(arg, mounts) for arg in argv]
    return _limits(limits) + mapped


def _unconfined_path(arg: str, mounts: Mounts) -> str:
    for mount, source in ((ENV_MOUNT, mounts.env), (PROJECT_MOUNT, mounts.project), (HARNESS_MOUNT, mounts.harness)):
        if arg == mount or arg.startswith(f"{mount}/"):
            return str(source) + arg[len(mount):]
    return arg


@cache
def check_bubblewrap() -> None:
    """Raise SandboxUnavailable with the fix when bubblewrap is missing or cannot create namespaces."""
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable(f"bubblewrap (`bwrap`) is not installed. {INSTALL_HINT}")
    for tool in ("/usr/bin/prlimit", "/usr/bin/setpriv"):
        if not Path(tool).exists():
            raise SandboxUnavailable(f"{tool} is missing: install util-linux on the worker.")
    probe = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--die-with-parent",
             "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
             "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev"]
    if os.geteuid() != 0:
        probe.append("--unshare-user")
    result = subprocess.run([*probe, "--", "/usr/bin/true"], capture_output=True, timeout=30, check=False)
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip()
        raise SandboxUnavailable(f"{NAMESPACE_HINT} (bwrap said: {reason})")
