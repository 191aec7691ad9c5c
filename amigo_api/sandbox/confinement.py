"""The bubblewrap command that confines one run of tool code (docs/tools.md, "The runner").

Inside: a fresh root with `/usr` (and the interpreter's own prefix) read-only, the built environment at
/tool/env and the project at /tool/project read-only, a private tmpfs /tmp of a set size, a minimal /etc, its own
/proc and /dev; new mount, PID, network (loopback only), IPC and UTS namespaces; a new session; a system-call
filter (`seccomp.py`); it dies with the worker. When the worker runs as root, bubblewrap needs no user namespace
and the tool drops to a real unprivileged uid of its own (`setpriv`, a uid leased from `uids.py`), so process
limits bind it alone; otherwise bubblewrap maps the worker's own uid. Resource limits are set by `prlimit` before
the interpreter starts.

bubblewrap reads its options, the tool's environment among them, from a file descriptor (`--args FD`): no
process's command line on the host holds a variable's value."""

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
MiB = 1024 * 1024
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
    memory_mb: int  # each process's address space
    max_processes: int  # per run (its cgroup), and per uid (RLIMIT_NPROC) where the uid is the run's own
    max_open_files: int
    max_file_mb: int
    run_memory_mb: int = 1024  # every process of the run together, /tmp's pages included (its cgroup)
    tmp_mb: int = 256  # the size of the run's /tmp


@dataclass(frozen=True)
class Mounts:
    env: Path  # the built environment (a virtualenv)
    project: Path  # the project's files
    harness: Path  # the in-sandbox entry point (amigo_api/sandbox/harness.py)
    etc: Path  # the minimal /etc


def write_minimal_etc(folder: Path, uids: range = range(0)) -> Path:
    """`uids`: the sandbox's own, named in /etc/passwd (some libraries look the running user up)."""
    folder.mkdir(parents=True, exist_ok=True)
    named = "".join(f"run{uid}:x:{uid}:{uid}:run:/tmp:/usr/sbin/nologin\n" for uid in uids)
    groups = "".join(f"run{uid}:x:{uid}:\n" for uid in uids)
    files = {**MINIMAL_ETC, "passwd": MINIMAL_ETC["passwd"] + named, "group": MINIMAL_ETC["group"] + groups}
    for name, content in files.items():
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


def _limits(limits: Limits, count_processes: bool = True) -> list[str]:
    """`count_processes`: RLIMIT_NPROC counts every process of the uid on the host, so it is set only where the
    uid is the run's own (or where nothing else bounds the run's processes)."""
    nproc = [f"--nproc={limits.max_processes}"] if count_processes else []
    return ["/usr/bin/prlimit", f"--cpu={limits.cpu_seconds}", f"--as={limits.memory_mb * MiB}", *nproc,
            f"--nofile={limits.max_open_files}", f"--fsize={limits.max_file_mb * MiB}", "--core=0", "--"]


def bwrap_options(mounts: Mounts, env: dict[str, str], limits: Limits, *, network: bool, as_root: bool,
                  seccomp_fd: int) -> list[str]:
    """What bubblewrap reads from `--args FD`: the namespaces, the file system, the filter and the environment."""
    prefix = interpreter_prefix()
    command = ["--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
               "--unshare-cgroup-try", "--seccomp", str(seccomp_fd)]
    if not network:
        command.append("--unshare-net")
    if not as_root:
        command += ["--unshare-user", "--uid", str(os.getuid()), "--gid", str(os.getgid())]
    command += ["--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin"]
    if not str(prefix).startswith("/usr/"):
        command += [*_ancestors_with_modes(prefix), "--ro-bind", str(prefix), str(prefix)]
    command += ["--ro-bind", str(mounts.etc), "/etc", "--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--size", str(limits.tmp_mb * MiB), "--tmpfs", "/tmp",
                "--perms", "0755", "--dir", TOOL_ROOT,
                "--ro-bind", str(mounts.env), ENV_MOUNT, "--ro-bind", str(mounts.project), PROJECT_MOUNT,
                "--ro-bind", str(mounts.harness), HARNESS_MOUNT, "--chdir", PROJECT_MOUNT, "--clearenv"]
    for name, value in env.items():
        command += ["--setenv", name, value]
    return command


def bwrap_command(args_fd: int, argv: list[str], limits: Limits, *, uid: int | None, count_processes: bool
                  ) -> list[str]:
    """The command line: bwrap with its options behind `args_fd`, then (as root) setpriv to the run's `uid`, then
    prlimit, then `argv`. Nothing in it is the tool's."""
    command = ["bwrap", "--args", str(args_fd), "--"]
    if uid is not None:
        command += ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                    "--bounding-set=-all", "--no-new-privs"]
    return command + _limits(limits, count_processes) + argv


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
