"""Tool builds install names and versions from the configured index only, with the host's TLS settings; projects
import as they would once installed (flat and `src/` layouts); a link out of the project is a build failure."""

import asyncio
import datetime
import hashlib
import ipaddress
import os
import socket
import ssl
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from amigo_api.sandbox.builds import Build, BuildConfig, BuildFailed, check_requirements, ensure_build
from amigo_api.sandbox.confinement import Limits, Mounts, write_minimal_etc
from amigo_api.sandbox.runner import HARNESS, RunnerConfig, run_harness
from tests.toolstack import make_wheelhouse

LIMITS = Limits(wall_seconds=60, cpu_seconds=60, memory_mb=1024, max_processes=32, max_open_files=256,
                max_file_mb=64)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=a", "-c", "user.email=a@example.com", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def _built(root: Path, files: dict[str, str], config: BuildConfig, links: dict[str, str] | None = None) -> Build:
    """A one-commit repository holding the project `p`, built."""
    repo = root / "repo"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    for name, content in files.items():
        (repo / "p" / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / "p" / name).write_text(content)
    for name, target in (links or {}).items():
        (repo / "p" / name).symlink_to(target)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "project")
    commit = _git(repo, "rev-parse", "HEAD")
    return asyncio.run(ensure_build(repo / ".git", commit, "p", _git(repo, "rev-parse", "HEAD:p"), config))


def pyproject(*dependencies: str, extra: str = "") -> str:
    listed = ", ".join(f'"{d}"' for d in dependencies)
    return (f'[project]\nname = "p"\nversion = "0"\nrequires-python = ">=3.11"\ndependencies = [{listed}]\n'
            f'{extra}\n[tool.amigo]\nentrypoint = "tool:run"\n')


# Only the configured index ------------------------------------------------------------------------------------

@pytest.fixture
def listener() -> Iterator[tuple[int, list[Any]]]:
    """A loopback port that notes every connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[Any] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept())
            except OSError:
                return
    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()


def test_urls_and_uv_sources_are_refused_before_uv_runs(tmp_path: Path, listener: tuple[int, list[Any]]) -> None:
    port, accepted = listener
    wheel = tiny_wheel(tmp_path / "disk")
    refused = [pyproject(f"dep @ http://127.0.0.1:{port}/dep-1.0-py3-none-any.whl"),
               pyproject(f"dep @ file://{wheel}"),
               pyproject(f"dep @ git+https://127.0.0.1:{port}/dep.git"),
               pyproject("pydantic", extra=f'[project.optional-dependencies]\ntest = ["t @ http://127.0.0.1:{port}/t"]'),
               pyproject("amigo-probe-dep", extra=f'[tool.uv.sources]\namigo-probe-dep = {{ path = "{wheel}" }}')]
    for index, text in enumerate(refused):
        (tmp_path / f"{index}.toml").write_text(text)
        with pytest.raises(BuildFailed, match="by name and version from the configured index only"):
            check_requirements(tmp_path / f"{index}.toml")
    config = BuildConfig(tmp_path / "builds", None, [], False, 120)
    with pytest.raises(BuildFailed, match=f"`dep @ http://127.0.0.1:{port}/dep-1.0-py3-none-any.whl` names a URL"):
        _built(tmp_path, {"pyproject.toml": refused[0], "tool.py": ""}, config)
    assert accepted == []  # nothing was fetched, not even a HEAD


# The host's TLS settings reach uv -----------------------------------------------------------------------------

def tiny_wheel(folder: Path, name: str = "amigo_probe_dep", version: str = "1.0") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    files = {f"{name}/__init__.py": "VALUE = 42\n",
             f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\n"
                                                    f"Version: {version}\n",
             f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                                                 "Tag: py3-none-any\n"}
    record = "".join(f"{n},sha256={_digest(c.encode())},{len(c.encode())}\n" for n, c in files.items())
    with zipfile.ZipFile(path, "w") as wheel:
        for entry, content in {**files, f"{name}-{version}.dist-info/RECORD": record + f"{name}-{version}"
                               ".dist-info/RECORD,,\n"}.items():
            wheel.writestr(entry, content)
    return path


def _digest(data: bytes) -> str:
    import base64
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway certificate authority, and a certificate it signed for 127.0.0.1: (CA, cert, key) files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "amigo tests CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def https_index(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A simple index on loopback over HTTPS with one package; its certificate's authority is in a file only."""
    root = tmp_path / "index"
    wheel = tiny_wheel(root / "files")
    page = root / "simple" / "amigo-probe-dep" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text(f'<a href="/files/{wheel.name}#sha256={hashlib.sha256(wheel.read_bytes()).hexdigest()}">'
                    f"{wheel.name}</a>\n")
    ca, cert, key = _certificates(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/simple/", ca
    server.shutdown()


def test_a_private_index_is_trusted_through_the_hosts_certificate_settings(
        tmp_path: Path, https_index: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url, ca = https_index
    files = {"pyproject.toml": pyproject("amigo-probe-dep==1.0"), "tool.py": ""}
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(BuildFailed) as untrusted:
        _built(tmp_path / "untrusted", files, BuildConfig(tmp_path / "builds", url, [], False, 120))
    message = str(untrusted.value)
    assert "SSL_CERT_FILE" in message and "AMIGO_TOOL_INDEX_URL" in message and "hint:" not in message
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    build = _built(tmp_path / "trusted", files, BuildConfig(tmp_path / "builds", url, [], False, 120))
    assert list(build.env.glob("lib/python*/site-packages/amigo_probe_dep/__init__.py"))


# Projects import as installed; links stay inside ----------------------------------------------------------------

SRC_TOOL = '''from pydantic import BaseModel


class Input(BaseModel):
    name: str


def run(tool_input: Input, context: dict) -> str:
    return f"src says hello to {tool_input.name}"
'''
SRC_TEST = '''from srcpkg.tool import Input, run


def test_greets() -> None:
    assert run(Input(name="Ada"), {}) == "src says hello to Ada"
'''


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_wheelhouse(tmp_path_factory.mktemp("wheels"))


async def _harness(build: Build, mode: str, request: dict[str, Any]) -> Any:
    mounts = Mounts(build.env, build.project, HARNESS, write_minimal_etc(build.path.parent / ".etc"))
    outcome = await run_harness(mode, request, mounts, {}, RunnerConfig(LIMITS))
    assert outcome.answer is not None, outcome
    return outcome.answer


@pytest.mark.skipif(os.geteuid() != 0 and not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")
async def test_a_src_layout_project_runs_its_tests_and_invokes(tmp_path: Path, wheelhouse: Path) -> None:
    files = {"pyproject.toml": pyproject("pydantic>=2", extra='[project.optional-dependencies]\ntest = ["pytest>=8"]'
                                         ).replace('"tool:run"', '"srcpkg.tool:run"'),
             "src/srcpkg/__init__.py": "", "src/srcpkg/tool.py": SRC_TOOL, "tests/test_tool.py": SRC_TEST}
    build = await asyncio.to_thread(_built, tmp_path, files, BuildConfig(tmp_path / "builds", None, [str(wheelhouse)],
                                                                         True, 300))
    assert await _harness(build, "test", {}) == {"exit_code": 0, "passed": 1, "failed": [], "summaries": []}
    invoked = await _harness(build, "invoke", {"entrypoint": "srcpkg.tool:run", "input": {"name": "Ada"},
                                               "context": {}})
    assert invoked["succeeded"] and invoked["output"] == "src says hello to Ada"


def test_a_link_out_of_the_project_is_a_build_failure(tmp_path: Path) -> None:
    files = {"pyproject.toml": pyproject(), "tool.py": ""}
    for name, target in (("absolute", "/etc/passwd"), ("escaping", "../../outside")):
        with pytest.raises(BuildFailed, match="Links must stay inside the project and be relative"):
            _built(tmp_path / name, files, BuildConfig(tmp_path / "builds", None, [], True, 60), {"link": target})
