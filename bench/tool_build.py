"""Publishing the tool scaffold through the API: cold (an empty build cache: uv makes the environment) and
cached (a new commit outside the project: the build is reused; the project's tests and the input schema still
run in the sandbox), each the full HTTP call through Temporal to a tool worker.

Runs with no arguments on its own embedded stack (MongoDB-wire server, Temporal dev server, a worker, the API).
Builds install from a wheelhouse repacked from this environment, so the figure leaves out download time. Needs
bubblewrap. Last line: RESULT cached_publish_s=<median of the cached publishes>."""

import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import httpx
from harness import ROOT, processes, serve

from amigo_api.bootstrap import bootstrap
from amigo_api.devstack import ChildProcess, start_mongo, start_temporal
from amigo_api.sandbox.wheelhouse import seed
from amigo_api.settings import Settings
from amigo_api.tools.scaffold import ScaffoldRelease

ORG = "bench"
CACHED_ROUNDS = 5
TARGET_SECONDS = 5


def git(cwd: Path, *args: str) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
           "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "Bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com"}
    return subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env, check=True,
                          capture_output=True, text=True).stdout


def add_scaffold(work: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(ScaffoldRelease.load().archive), mode="r:gz") as tar:
        tar.extractall(work, filter="data")
    (work / "amigo_tool_scaffold").rename(work / "greeting")


def timed_publish(http: httpx.Client, tool_id: str, bump: str) -> float:
    started = time.perf_counter()
    response = http.post(f"/v1/{ORG}/tool/{tool_id}/version", json={"project_path": "greeting", "bump_type": bump})
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"publish answered {response.status_code}: {response.text[:2000]}")
    return elapsed


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="amigo-bench-tools-"))
    with processes() as children:
        mongo, uri = start_mongo(work / "mongo")
        children.append(mongo)
        temporal, address = start_temporal(work / "temporal")
        children.append(temporal)
        secret = os.urandom(32).hex()
        print("repacking the scaffold's dependencies into a wheelhouse ...", flush=True)
        seed(work / "wheels", ["pydantic", "pytest"])
        env = {"AMIGO_MONGO_URI": uri, "AMIGO_SECRET_KEY": secret, "AMIGO_GIT_ROOT": str(work / "git"),
               "AMIGO_BLOB_ROOT": str(work / "blobs"), "AMIGO_TEMPORAL_ADDRESS": address,
               "AMIGO_TEMPORAL_REQUIRED": "true", "AMIGO_TOOL_BUILD_ROOT": str(work / "builds"),
               "AMIGO_TOOL_FIND_LINKS": json.dumps([str(work / "wheels")]), "AMIGO_TOOL_BUILD_OFFLINE": "true",
               "AMIGO_RATE_LIMIT_SCALE": "100000", "AMIGO_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        worker = ChildProcess("worker", [sys.executable, "-m", "amigo_api", "worker"], work / "worker.log", env)
        worker.start()
        children.append(worker)
        api, api_url = serve("amigo-api", ["--factory", "amigo_api.app:create_app"], env, work, f"/v1/{ORG}/tool/")
        children.append(api)
        settings = Settings(mongo_uri=uri, secret_key=secret)
        creds = asyncio.run(bootstrap(settings, ORG, "bench@example.com", "DefaultSuperAdministratorRole"))
        token = httpx.post(f"{api_url}/v1/{ORG}/user/signin_with_api_key", headers={
            "x-api-key": creds["api_key"], "x-api-key-id": creds["api_key_id"],
            "x-user-id": creds["user_id"]}).json()["id_token"]
        with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=600) as http:
            tool_id = http.post(f"/v1/{ORG}/tool/", json={"name": "greeting", "description": "Greets.",
                                                          "tags": {}}).json()["id"]
            host = api_url.removeprefix("http://")
            clone = work / "clone"
            git(work, "clone", "-q", f"http://{ORG}_{creds['user_id']}:{token}@{host}/v1/{ORG}/tool/git/", str(clone))
            add_scaffold(clone)
            git(clone, "add", "-A")
            git(clone, "commit", "-qm", "The scaffold")
            git(clone, "push", "-q", "origin", "HEAD:main")
            cold = timed_publish(http, tool_id, "major")
            print(f"cold publish (empty build cache): {cold:.2f} s", flush=True)
            cached = []
            for round_number in range(CACHED_ROUNDS):
                (clone / "NOTES.md").write_text(f"round {round_number}\n")
                git(clone, "add", "-A")
                git(clone, "commit", "-qm", f"Round {round_number}")
                git(clone, "push", "-q", "origin", "HEAD:main")
                http.delete(f"/v1/{ORG}/tool/{tool_id}/version/>=0").raise_for_status()  # stay under 3 versions
                cached.append(timed_publish(http, tool_id, "patch"))
                print(f"cached publish {round_number + 1}: {cached[-1]:.2f} s", flush=True)
        builds = [p for p in (work / "builds").iterdir() if not p.name.startswith(".")]
        print(f"builds made: {len(builds)} (1 expected: every cached publish reused the first)")
        print(f"RESULT cached_publish_s={statistics.median(cached):.2f} target=<={TARGET_SECONDS}")


if __name__ == "__main__":
    main()
