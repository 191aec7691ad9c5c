"""End to end against a running stack, as an operator's first hour goes: health, the first credentials, sign-in, a
git clone of the tool repository, the scaffold pushed, published and invoked, and an LLM generation captured and
read back. The GitHub workflow's `compose` job runs it against `docker compose up`:

    python tests/compose_e2e.py --url http://127.0.0.1:8000 --credentials credentials.json

and the suite runs it against the same commands started directly (test_self_hosting.py)."""

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

HEALTH_SECONDS = 300
PUBLISH_SECONDS = 600


def step(message: str) -> None:
    print(f"· {message}", flush=True)


def wait_until_healthy(url: str) -> None:
    deadline = time.monotonic() + HEALTH_SECONDS
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url}/healthz did not answer 200 within {HEALTH_SECONDS} s")
        time.sleep(2)


def expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise SystemExit(f"{response.request.method} {response.request.url.path}: {response.status_code} "
                         f"{response.text[:500]}")
    return response.json() if response.content and "json" in response.headers.get("content-type", "") else None


def git(cwd: Path, *args: str) -> None:
    done = subprocess.run(["git", "-c", "user.name=Operator", "-c", "user.email=operator@example.com", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"git {args[0]} failed: {done.stderr.strip()[-2000:]}")


def publish_and_invoke(http: httpx.Client, url: str, creds: dict[str, str], token: str, folder: Path) -> None:
    org, user = creds["org_id"], creds["user_id"]
    remote = f"{url.replace('://', f'://{org}_{user}:{token}@', 1)}/v1/{org}/tool/git/"
    git(folder, "clone", "-q", remote, "tools")
    workspace = folder / "tools"
    project = f"greeting_{uuid.uuid4().hex[:6]}"
    step("cloned the tool repository")
    scaffold = http.get(f"/v1/{org}/tool/amigo_tool_scaffold.tar.gz")
    expect(scaffold, 200)
    with tarfile.open(fileobj=io.BytesIO(scaffold.content), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.isfile():
                target = workspace / project / member.name.split("/", 1)[1]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.extractfile(member).read())  # type: ignore[union-attr]
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "The greeting tool")
    git(workspace, "push", "-q", "origin", "HEAD")
    step("pushed the scaffold")
    tool = expect(http.post(f"/v1/{org}/tool/", json={"name": project, "description": "Greets.", "tags": {}}), 201)
    version = expect(http.post(f"/v1/{org}/tool/{tool['id']}/version", json={
        "project_path": project, "bump_type": "major"}, timeout=PUBLISH_SECONDS), 201)
    step(f"published version {version['new_version']}")
    invoked = expect(http.post(f"/v1/{org}/tool/{tool['id']}/version/{version['new_version']}/invoke", json={
        "inputs": [{"input_parameters": {"name": "Ada"}, "invocation_mode": "regular",
                    "nonsensitive_user_variables": {"title": "Dr."}, "sensitive_user_variables": {}}]},
        timeout=120), 200)
    [result] = invoked["invocation_results"]
    if result.get("output") != "Hello, Dr. Ada!":
        raise SystemExit(f"the invocation answered {result}")
    step("invoked it: Hello, Dr. Ada!")


def capture_and_read_back(http: httpx.Client, url: str, org: str) -> None:
    environment = expect(http.post(f"/v1/{org}/llm_analytics/environments/", json={"name": "e2e"}), 201)
    distinct_id = f"e2e-{uuid.uuid4().hex[:8]}"
    expect(httpx.post(f"{url}/i/v0/e/", json={"api_key": environment["api_token"], "event": "$ai_generation",
                                              "distinct_id": distinct_id,
                                              "properties": {"$ai_model": "gpt-4o-mini", "$ai_provider": "openai",
                                                             "$ai_input_tokens": 12, "$ai_output_tokens": 3}}), 200)
    query = f"select distinct_id from events where environment_id = {environment['id']}"
    for _ in range(30):
        rows = expect(http.post(f"/v1/{org}/admin/sql_query", json={"sql_query": query, "async_query": False}),
                      200)["result"]
        if [distinct_id] in rows:
            step("captured a generation and read it back through SQL")
            return
        time.sleep(1)
    raise SystemExit("the captured event did not show up in the events table")


def run(url: str, credentials: dict[str, str]) -> None:
    url = url.rstrip("/")
    wait_until_healthy(url)
    step("healthy")
    org = credentials["org_id"]
    signed_in = expect(httpx.post(f"{url}/v1/{org}/user/signin_with_api_key", headers={
        "x-api-key": credentials["api_key"], "x-api-key-id": credentials["api_key_id"],
        "x-user-id": credentials["user_id"]}), 200)
    token = signed_in["id_token"]
    step(f"signed in to {org} with the first credentials")
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http, \
            tempfile.TemporaryDirectory() as folder:
        publish_and_invoke(http, url, credentials, token, Path(folder))
        capture_and_read_back(http, url, org)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--credentials", type=Path, required=True, help="the AMIGO_INIT_CREDENTIALS_FILE's content")
    arguments = parser.parse_args()
    run(arguments.url, json.loads(arguments.credentials.read_text()))
    print("ok", flush=True)


if __name__ == "__main__":
    sys.exit(main())
