"""Clone time of a 2,000-file / 20 MB tool repository through amigo-api (auth, permission, rate limit, streamed
`git http-backend`) versus the same backend behind a bare WSGI server, on the same machine and repository.

Runs with no arguments on its own embedded stack. Last line: RESULT clone_time_ratio=<api/bare>."""

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from harness import ROOT, processes, serve

from amigo_api.bootstrap import bootstrap
from amigo_api.devstack import ChildProcess, free_port, port_open, start_mongo, wait_until
from amigo_api.settings import Settings

FILES = 2_000
FILE_BYTES = 10 * 1024  # 2,000 x 10 KiB = 20 MB
CLONES = 5
ORG = "bench"


def git(cwd: Path, *args: str) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
           "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "Bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com"}
    subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env, check=True,
                   capture_output=True)


def make_repository(work: Path, bare: Path) -> None:
    source = work / "source"
    for i in range(FILES):
        folder = source / "tools" / f"tool_{i // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"module_{i:04d}.py").write_bytes(os.urandom(FILE_BYTES // 2).hex().encode())
    git(source, "init", "-q")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "2,000 files")
    git(source, "push", "-q", str(bare), "main")


def clone_seconds(url: str, work: Path) -> float:
    target = work / "clone"
    shutil.rmtree(target, ignore_errors=True)
    started = time.perf_counter()
    git(work, "clone", "-q", url, str(target))
    elapsed = time.perf_counter() - started
    assert len(list((target / "tools").rglob("*.py"))) == FILES
    return elapsed


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="amigo-bench-git-"))
    git_root = work / "git"
    mongo, uri = start_mongo(work / "mongo")
    with processes() as children:
        children.append(mongo)
        secret = os.urandom(32).hex()
        settings = Settings(mongo_uri=uri, secret_key=secret, git_root=str(git_root))
        creds = asyncio.run(bootstrap(settings, ORG, "bench@example.com", "DefaultSuperAdministratorRole"))
        env = {"AMIGO_MONGO_URI": uri, "AMIGO_SECRET_KEY": secret, "AMIGO_GIT_ROOT": str(git_root),
               "AMIGO_RATE_LIMIT_SCALE": "100000", "AMIGO_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        api, api_url = serve("amigo-api", ["--factory", "amigo_api.app:create_app"], env, work,
                             f"/v1/{ORG}/tool/git/info/refs?service=git-upload-pack")
        children.append(api)
        token = httpx.post(f"{api_url}/v1/{ORG}/user/signin_with_api_key", headers={
            "x-api-key": creds["api_key"], "x-api-key-id": creds["api_key_id"],
            "x-user-id": creds["user_id"]}).json()["id_token"]
        user = f"{ORG}_{creds['user_id']}"
        httpx.get(f"{api_url}/v1/{ORG}/tool/git/info/refs", params={"service": "git-upload-pack"},
                  auth=(user, token)).raise_for_status()  # creates the repository
        print(f"building a repository of {FILES} files, {FILES * FILE_BYTES / 1e6:.0f} MB ...", flush=True)
        make_repository(work, git_root / f"{ORG}.git")
        port = free_port()
        bare = ChildProcess("bare-git", [sys.executable, str(ROOT / "bench" / "bare_git.py"), str(port),
                                         str(git_root)], work / "bare-git.log")
        bare.start()
        children.append(bare)
        wait_until(lambda: port_open("127.0.0.1", port), 30, "bare git server", bare.process, bare.log_file)
        host = api_url.removeprefix("http://")
        urls = {"amigo-api": f"http://{user}:{token}@{host}/v1/{ORG}/tool/git/",
                "bare": f"http://127.0.0.1:{port}/{ORG}.git"}
        for url in urls.values():  # warm-up
            clone_seconds(url, work)
        times: dict[str, list[float]] = {name: [] for name in urls}
        for round_ in range(CLONES):
            for name, url in urls.items():
                times[name].append(clone_seconds(url, work))
            print(f"clone {round_ + 1}: " + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items()), flush=True)
        api_median, bare_median = (statistics.median(times[n]) for n in urls)
        print(f"clone of {FILES} files / {FILES * FILE_BYTES / 1e6:.0f} MB, median of {CLONES}: amigo-api "
              f"{api_median:.2f}s, bare git http-backend {bare_median:.2f}s")
        print(f"RESULT clone_time_ratio={api_median / bare_median:.2f} target=<=1.25")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
