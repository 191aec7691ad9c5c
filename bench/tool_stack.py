"""What the tool benchmarks share: their own embedded stack (MongoDB-wire server, Temporal dev server, a worker,
the API), an organization with a signed-in user, a clone of its tool repository, and builds that install from a
wheelhouse repacked from this environment (no download time in any figure). Needs bubblewrap."""

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from harness import ROOT, processes, serve

from amigo_api.bootstrap import bootstrap
from amigo_api.devstack import ChildProcess, start_mongo, start_temporal
from amigo_api.sandbox.wheelhouse import seed
from amigo_api.settings import Settings

ORG = "bench"


def git(cwd: Path, *args: str) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
           "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "Bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com"}
    return subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env, check=True,
                          capture_output=True, text=True).stdout


@dataclass
class ToolStack:
    work: Path
    http: httpx.Client
    clone: Path

    def push(self, message: str) -> None:
        git(self.clone, "add", "-A")
        git(self.clone, "commit", "-qm", message)
        git(self.clone, "push", "-q", "origin", "HEAD:main")

    def create_tool(self, name: str) -> str:
        response = self.http.post(f"/v1/{ORG}/tool/", json={"name": name, "description": "Bench.", "tags": {}})
        response.raise_for_status()
        tool_id: str = response.json()["id"]
        return tool_id

    def timed_publish(self, tool_id: str, project: str, bump: str) -> float:
        started = time.perf_counter()
        response = self.http.post(f"/v1/{ORG}/tool/{tool_id}/version", json={"project_path": project,
                                                                            "bump_type": bump})
        elapsed = time.perf_counter() - started
        if response.status_code != 201:
            raise RuntimeError(f"publish answered {response.status_code}: {response.text[:2000]}")
        return elapsed


def _token(api_url: str, creds: dict[str, str]) -> str:
    token: str = httpx.post(f"{api_url}/v1/{ORG}/user/signin_with_api_key", headers={
        "x-api-key": creds["api_key"], "x-api-key-id": creds["api_key_id"],
        "x-user-id": creds["user_id"]}).json()["id_token"]
    return token


@contextmanager
def tool_stack(prefix: str) -> Iterator[ToolStack]:
    work = Path(tempfile.mkdtemp(prefix=prefix))
    with processes() as children:
        mongo, uri = start_mongo(work / "mongo")
        children.append(mongo)
        temporal, address = start_temporal(work / "temporal")
        children.append(temporal)
        secret = os.urandom(32).hex()
        print("repacking the tools' dependencies into a wheelhouse ...", flush=True)
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
        creds = asyncio.run(bootstrap(Settings(mongo_uri=uri, secret_key=secret), ORG, "bench@example.com",
                                      "DefaultSuperAdministratorRole"))
        token = _token(api_url, creds)
        with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=600) as http:
            clone = work / "clone"
            host = api_url.removeprefix("http://")
            git(work, "clone", "-q", f"http://{ORG}_{creds['user_id']}:{token}@{host}/v1/{ORG}/tool/git/", str(clone))
            yield ToolStack(work, http, clone)
